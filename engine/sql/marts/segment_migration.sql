-- segment_migration: how many customers went from each segment of the
-- previous run (the output root's latest) to each segment of this run,
-- staying put included. Customers new to this run come from no segment
-- (from_segment_id null); customers of the previous run missing from this
-- one go to none (to_segment_id null). Customers are matched by
-- customer_id as text. Each segment carries its name in its own run: a
-- previous segment this run no longer has, or renamed, keeps the name the
-- previous run gave it.
-- grain: pair of segments; key: from_segment_id, to_segment_id.
with current_segments as (
    select cast(customer_id as varchar) as customer_id, segment_id, segment_name
    from customer_segments
),

previous as (
    select customer_id, segment_id, segment_name from previous_segments
),

final as (
    select
        previous.segment_id                     as from_segment_id,
        min(previous.segment_name)              as from_segment_name,
        current_segments.segment_id             as to_segment_id,
        min(current_segments.segment_name)      as to_segment_name,
        count(*)                                as customers
    from previous
    full outer join current_segments on previous.customer_id = current_segments.customer_id
    group by previous.segment_id, current_segments.segment_id
)

select * from final
