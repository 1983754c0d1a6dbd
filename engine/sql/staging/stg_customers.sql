-- stg_customers: customers typed, with the reason a row is rejected (and
-- then the customer_id as found), whether the customer was not yet one on
-- as_of (after_as_of: left out of the run, neither accepted nor rejected),
-- and cust_idx numbering the customers of the run in customer_id order (the
-- integer key every later model joins on; it runs from 1 without gaps).
-- grain: input customer row; key: (file_index, source_row).
--
-- A date that cannot be right is set to null, and the customer kept:
-- signup_date_problem and birth_date_problem say why, and the date as found
-- is kept for the report (reads/value_problems). A signup_date on or after
-- the end of the day after the run's date is in the future; one before the
-- earlier of the transactions' early fence and 50 years before as_of is far
-- before the data; a birth_date after as_of or more than 120 years before
-- it is out of range. So is an acquisition_cost that is not a number or is
-- negative (acquisition_cost_problem, acquisition_cost_found).
with run_window as (
    select as_of, window_end from params
),

dated as (
    select
        *,
        try_cast(signup_date as date)                          as signup_day,
        try_cast(birth_date as date)                           as birth_day
    from src_customers
),

checked as (
    select
        dated.*,
        case
            when signup_day >= params.run_day_end::date then 'signup_date in the future'
            when signup_day < least(params.early_fence, params.as_of - interval 50 year)
                then 'signup_date far before the data'
        end                                                    as signup_date_problem,
        case
            when birth_day > params.as_of or birth_day < params.as_of - interval 120 year
                then 'birth_date gives an age below 0 or above 120'
        end                                                    as birth_date_problem,
        case
            when acquisition_cost is not null and try_cast(acquisition_cost as double) is null
                then 'acquisition_cost not a number'
            when try_cast(acquisition_cost as double) < 0 then 'acquisition_cost negative'
        end                                                    as acquisition_cost_problem
    from dated, params
),

typed as (
    select
        file_index,
        source_row,
        norm_id(customer_id)                                   as customer_id,
        cast(customer_id as varchar)                           as customer_id_found,
        case when signup_date_problem is null then signup_day end as signup_date,
        case when birth_date_problem is null then birth_day end   as birth_date,
        signup_date_problem,
        birth_date_problem,
        case when signup_date_problem is not null then cast(signup_date as varchar) end as signup_date_found,
        case when birth_date_problem is not null then cast(birth_date as varchar) end   as birth_date_found,
        nullif(trim(cast(gender as varchar)), '')              as gender,
        nullif(trim(cast(region as varchar)), '')              as region,
        nullif(trim(cast(income_band as varchar)), '')         as income_band,
        nullif(trim(cast(acquisition_channel as varchar)), '') as acquisition_channel,
        case when acquisition_cost_problem is null
            then try_cast(acquisition_cost as decimal(18, 4)) end as acquisition_cost,
        acquisition_cost_problem,
        case when acquisition_cost_problem is not null then cast(acquisition_cost as varchar) end as acquisition_cost_found
    from checked
),

-- The row that keeps each customer_id is its first (in file order); the
-- windows sort only the key and the row's position, not whole rows.
ranked as (
    select
        file_index,
        source_row,
        customer_id,
        row_number() over (partition by customer_id order by file_index, source_row) as id_rank
    from (select file_index, source_row, norm_id(customer_id) as customer_id from src_customers)
    where customer_id is not null
),

-- Customers who signed up after as_of, and of them those with a transaction
-- dated up to as_of (a purchase before signing up, as a guest): only the
-- others are not yet customers. The transactions are read only for the
-- customers who signed up late.
signed_up_late as (
    select distinct typed.customer_id
    from typed, run_window
    where typed.signup_date > run_window.as_of and typed.customer_id is not null
),

bought_in_window as (
    select distinct signed_up_late.customer_id
    from src_transactions as tx
    join signed_up_late on norm_id(tx.customer_id) = signed_up_late.customer_id
    join run_window on to_ts(tx.ts) < run_window.window_end
),

not_yet as (
    select signed_up_late.customer_id
    from signed_up_late
    anti join bought_in_window on signed_up_late.customer_id = bought_in_window.customer_id
),

numbered as (
    select
        ranked.file_index,
        ranked.source_row,
        not_yet.customer_id is not null as after_as_of,
        case when not_yet.customer_id is null then row_number() over (
            partition by not_yet.customer_id is null order by ranked.customer_id
        ) end                           as cust_idx
    from ranked
    left join not_yet on ranked.customer_id = not_yet.customer_id
    where ranked.id_rank = 1
),

final as (
    select
        numbered.cust_idx,
        typed.* exclude (customer_id_found),
        case
            when typed.customer_id is null then 'missing customer_id'
            when numbered.source_row is null then 'duplicate customer_id'
        end as reject_reason,
        case when typed.customer_id is null or numbered.source_row is null then 'customer_id' end as reject_column,
        coalesce(numbered.after_as_of, false) as after_as_of,
        -- The key as found, for the rejects.
        case when typed.customer_id is null or numbered.source_row is null then typed.customer_id_found end
            as customer_id_found
    from typed
    left join numbered on typed.file_index = numbered.file_index and typed.source_row = numbered.source_row
)

select * from final
