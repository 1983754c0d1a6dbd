-- stg_customers: customers typed, with the reason a row is rejected, and
-- cust_idx numbering the accepted customers in customer_id order (the
-- integer key every later model joins on).
-- grain: input customer row; key: source_row.
with src as (
    select * from src_customers
),

typed as (
    select
        file_index,
        source_row,
        norm_id(customer_id)         as customer_id,
        try_cast(signup_date as date)                          as signup_date,
        try_cast(birth_date as date)                           as birth_date,
        nullif(trim(cast(gender as varchar)), '')              as gender,
        nullif(trim(cast(region as varchar)), '')              as region,
        nullif(trim(cast(income_band as varchar)), '')         as income_band,
        nullif(trim(cast(acquisition_channel as varchar)), '') as acquisition_channel,
        try_cast(acquisition_cost as decimal(18, 4))           as acquisition_cost
    from src
),

ranked as (
    select
        *,
        row_number() over (partition by customer_id order by file_index, source_row) as id_rank
    from typed
),

checked as (
    select
        * exclude (id_rank),
        case
            when customer_id is null then 'missing customer_id'
            when id_rank > 1 then 'duplicate customer_id'
        end as reject_reason,
        case when customer_id is null or id_rank > 1 then 'customer_id' end as reject_column
    from ranked
),

final as (
    select
        case when reject_reason is null then
            row_number() over (partition by reject_reason is null order by customer_id)
        end as cust_idx,
        *
    from checked
)

select * from final
