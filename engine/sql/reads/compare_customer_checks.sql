-- compare_customer_checks: what the contingency of two runs (crmseg
-- compare) assumes of each run's customer_segments, from
-- compared_customers_a and compared_customers_b: a customer_id and a
-- segment_id of at least 1 on every row. Counts of the rows, and of those
-- breaking it, in one scan; repeated customers show in the contingency
-- (Compare).
-- grain: run (a, b); key: side.
with a as (
    select 'a' as side, customer_id, cast(segment_id as integer) as segment_id
    from compared_customers_a
),

b as (
    select 'b' as side, customer_id, cast(segment_id as integer) as segment_id
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
        count(*)                                            as customer_rows,
        count(*) filter (where customer_id is null)         as missing_customer_ids,
        count(*) filter (where coalesce(segment_id, 0) < 1) as missing_segment_ids
    from customers
    group by side
    order by side
)

select * from final
