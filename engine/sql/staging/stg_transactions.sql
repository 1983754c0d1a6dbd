-- stg_transactions: transaction rows typed, with the reason a row is rejected
-- (null when accepted), whether it lies after an explicit as_of (outside
-- the run's window: neither accepted nor rejected) and the customer's
-- integer key. Returns (negative amounts) are kept: they are netted against
-- the customer's revenue.
-- grain: input transaction row; key: (file_index, source_row).
--
-- Every later model reads this one table, so it holds only what they use,
-- in compact types: the customer's integer key rather than the text key, the
-- category already filled in from products, and the customer_id and the
-- rejected column's value as found (for the rejects) only on rejected rows.
-- product_id and transaction_id are used here and not kept.
with params as (
    select * from params
),

known_customers as (
    select customer_id, cust_idx from stg_customers where reject_reason is null
),

products as (
    select product_id, category from stg_products where reject_reason is null
),

typed as (
    select
        file_index,
        source_row,
        transaction_id,
        order_id,
        norm_id(customer_id)                                   as customer_id,
        customer_id                                            as customer_id_found,
        to_ts(ts)                                              as ts,
        ts                                                     as ts_found,
        amount                                                 as amount_found,
        quantity                                               as quantity_found,
        ts is null                                             as ts_missing,
        try_cast(amount as decimal(18, 4))                     as amount,
        amount is null                                         as amount_missing,
        try_cast(amount as double) is null                     as amount_not_number,
        -- A cast to INTEGER would round 1.5; a quantity must be whole.
        case when try_cast(quantity as double) = trunc(try_cast(quantity as double))
            then try_cast(quantity as integer) end             as quantity,
        quantity is not null and coalesce(
            try_cast(quantity as double) <> trunc(try_cast(quantity as double)), true
        )                                                      as quantity_bad,
        nullif(trim(cast(category as varchar)), '')            as category,
        norm_id(product_id)                                    as product_id,
        lower(nullif(trim(cast(channel as varchar)), ''))      as channel,
        try_cast(cost as decimal(18, 4))                       as cost
    from src_transactions
),

-- Rows whose transaction_id an earlier row (in file order) already carries.
-- The window sorts only the id and the row's position, and its result is
-- the few repeats; an aggregate over every id costs several times more.
-- transaction_key (loadSource defines it for the column's type) compares a
-- text id as a key (norm_id) and an integer id as it is: sorting its text
-- costs several times more, and a partition key chosen per row by its type
-- costs a second key in the window's sort.
repeated_rows as (
    select file_index, source_row
    from (
        select
            file_index,
            source_row,
            row_number() over (partition by transaction_key(transaction_id) order by file_index, source_row) as id_rank
        from src_transactions
        where transaction_key(transaction_id) is not null
    )
    where id_rank > 1
),

checked as (
    select
        typed.* exclude (transaction_id, product_id, category),
        typed.transaction_id                                   as transaction_id_found,
        coalesce(typed.category, products.category)            as category,
        known_customers.cust_idx                               as cust_idx,
        repeated_rows.source_row is not null                   as duplicate_id
    from typed
    left join known_customers on typed.customer_id = known_customers.customer_id
    left join repeated_rows on typed.file_index = repeated_rows.file_index and typed.source_row = repeated_rows.source_row
    left join products on typed.product_id = products.product_id
),

reasons as (
    select
        checked.* exclude (ts_missing, amount_missing, amount_not_number, quantity_bad, duplicate_id),
        case
            when customer_id is null then 'missing customer_id'
            when ts_missing then 'missing timestamp'
            when ts is null then 'unparseable timestamp'
            when ts >= params.future_from then 'timestamp in the future'
            when ts::date < params.early_fence or ts::date > params.late_fence then 'timestamp far outside the data'
            -- Outside the window of an explicit as_of: not checked further.
            when params.explicit_as_of and ts >= params.window_end then null
            when amount_missing then 'missing amount'
            when amount is null and amount_not_number then 'amount not a number'
            when amount is null then 'amount not finite or out of range'
            when amount = 0 and not params.keep_zero_amounts then 'zero amount'
            when quantity_bad then 'quantity not an integer'
            when sign(quantity) * sign(amount) < 0 then 'quantity contradicts amount sign'
            when cust_idx is null then 'unknown customer'
            when duplicate_id then 'duplicate transaction_id'
        end as reject_reason,
        case
            when customer_id is null then 'customer_id'
            when ts_missing or ts is null or ts >= params.future_from
                or ts::date < params.early_fence or ts::date > params.late_fence then 'ts'
            when params.explicit_as_of and ts >= params.window_end then null
            when amount_missing or amount is null or (amount = 0 and not params.keep_zero_amounts) then 'amount'
            when quantity_bad or sign(quantity) * sign(amount) < 0 then 'quantity'
            when cust_idx is null then 'customer_id'
            when duplicate_id then 'transaction_id'
        end as reject_column,
        params.explicit_as_of and ts >= params.window_end      as past_window
    from checked, params
),

final as (
    select
        file_index,
        source_row,
        cust_idx,
        order_id,
        ts,
        amount,
        quantity,
        category,
        channel,
        cost,
        reject_reason,
        reject_column,
        -- Under a default as_of no accepted row lies after it: every later
        -- row is in the future, far outside the data or rejected otherwise.
        reject_reason is null and coalesce(past_window, false)  as after_as_of,
        case when reject_reason is not null then cast(customer_id_found as varchar) end as customer_id,
        case when reject_reason is not null then
            case reject_column
                when 'customer_id' then cast(customer_id_found as varchar)
                when 'ts' then cast(ts_found as varchar)
                when 'amount' then cast(amount_found as varchar)
                when 'quantity' then cast(quantity_found as varchar)
                when 'transaction_id' then cast(transaction_id_found as varchar)
            end end                                              as value
    from reasons
)

select * from final
