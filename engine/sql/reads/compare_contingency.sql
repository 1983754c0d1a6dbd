-- compare_contingency: the customers of two runs (crmseg compare), from
 -- compared_customers_a and compared_customers_b (each run's
-- customer_segments file), counted by their segment in A and their
-- segment in B, joined on customer_id. A customer of one run only has
-- segment 0 on the other side.
-- grain: segment of A x segment of B; key: (a_segment_id, b_segment_id).
with a as (
    select cast(customer_id as varchar) as customer_id, cast(segment_id as integer) as segment_id
    from compared_customers_a
),

b as (
    select cast(customer_id as varchar) as customer_id, cast(segment_id as integer) as segment_id
    from compared_customers_b
),

joined as (
    select
        coalesce(a.segment_id, 0) as a_segment_id,
        coalesce(b.segment_id, 0) as b_segment_id
    from a
    full outer join b on a.customer_id = b.customer_id
),

final as (
    select a_segment_id, b_segment_id, count(*) as customers
    from joined
    group by a_segment_id, b_segment_id
    order by a_segment_id, b_segment_id
)

select * from final
