-- stg_customers: customers typed, with the reason a row is rejected, and
-- cust_idx numbering the accepted customers in customer_id order (the
-- integer key every later model joins on).
-- grain: input customer row; key: (file_index, source_row).
with typed as (
    select
        file_index,
        source_row,
        norm_id(customer_id)                                   as customer_id,
        try_cast(signup_date as date)                          as signup_date,
        try_cast(birth_date as date)                           as birth_date,
        nullif(trim(cast(gender as varchar)), '')              as gender,
        nullif(trim(cast(region as varchar)), '')              as region,
        nullif(trim(cast(income_band as varchar)), '')         as income_band,
        nullif(trim(cast(acquisition_channel as varchar)), '') as acquisition_channel,
        try_cast(acquisition_cost as decimal(18, 4))           as acquisition_cost
    from src_customers
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

numbered as (
    select
        file_index,
        source_row,
        row_number() over (order by customer_id) as cust_idx
    from ranked
    where id_rank = 1
),

final as (
    select
        numbered.cust_idx,
        typed.*,
        case
            when typed.customer_id is null then 'missing customer_id'
            when numbered.cust_idx is null then 'duplicate customer_id'
        end as reject_reason,
        case when numbered.cust_idx is null then 'customer_id' end as reject_column
    from typed
    left join numbered on typed.file_index = numbered.file_index and typed.source_row = numbered.source_row
)

select * from final
