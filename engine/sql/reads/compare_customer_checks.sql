-- compare_customer_checks: what the contingency of two runs (crmseg
-- compare) assumes of each run's customer_segments, from
 -- compared_customers_a and compared_customers_b: one row per customer, a
-- customer_id, a segment_id of at least 1. Counts of the rows breaking it.
-- grain: run (a, b); key: side.
with a as (
    select 'a' as side, cast(customer_id as varchar) as customer_id, cast(segment_id as integer) as segment_id
    from compared_customers_a
),

b as (
    select 'b' as side, cast(customer_id as varchar) as customer_id, cast(segment_id as integer) as segment_id
    from compared_customers_b
),

customers as (
    select * from a
    union all
    select * from b
),

final as (
    select
        side,
        count(*)                                                  as customer_rows,
        count(*) - count(distinct customer_id)                    as duplicate_rows,
        count(*) filter (where customer_id is null)               as missing_customer_ids,
        count(*) filter (where coalesce(segment_id, 0) < 1)       as missing_segment_ids
    from customers
    group by side
    order by side
)

select * from final
