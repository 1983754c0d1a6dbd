-- segment_drift: how the segments of this run relate to those of the
-- previous run (the output root's latest): every segment of this run and
-- every retired one, with its change (new, kept, retired), the segment it
-- split from or merged into, how far its centroid moved (scaled units), and
-- the customers that stayed, moved in and moved out. Customers are matched
-- by customer_id as text; those in only one of the runs are counted as
-- arrived or left.
-- grain: segment; key: segment_id.
with current_segments as (
    select cast(customer_id as varchar) as customer_id, segment_id
    from customer_segments
),

per_current as (
    select
        cur.segment_id,
        count(*)                                                            as customers,
        count(*) filter (where prev.segment_id = cur.segment_id)            as stayed,
        count(*) filter (where prev.segment_id <> cur.segment_id)           as moved_in,
        count(*) filter (where prev.customer_id is null)                    as arrived
    from current_segments as cur
    left join previous_segments as prev on cur.customer_id = prev.customer_id
    group by cur.segment_id
),

per_previous as (
    select
        prev.segment_id,
        count(*)                                                            as previous_customers,
        count(*) filter (where cur.segment_id <> prev.segment_id)           as moved_out,
        count(*) filter (where cur.customer_id is null)                     as left_customers
    from previous_segments as prev
    left join current_segments as cur on cur.customer_id = prev.customer_id
    group by prev.segment_id
)

select
    changes.segment_id,
    changes.segment_name,
    changes.change,
    changes.from_segment_id,
    changes.into_segment_id,
    changes.centroid_shift,
    coalesce(per_current.customers, 0)              as customers,
    coalesce(per_previous.previous_customers, 0)    as previous_customers,
    coalesce(per_current.stayed, 0)                 as stayed,
    coalesce(per_current.moved_in, 0)               as moved_in,
    coalesce(per_previous.moved_out, 0)             as moved_out,
    coalesce(per_current.arrived, 0)                as arrived,
    coalesce(per_previous.left_customers, 0)        as left_customers
from segment_changes as changes
left join per_current on changes.segment_id = per_current.segment_id
left join per_previous on changes.segment_id = per_previous.segment_id
