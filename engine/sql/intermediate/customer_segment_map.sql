-- customer_segment_map: every customer's segment, its name and the distance
-- to its centroid, from the assignment Go hands over through Arrow
-- (segment_assignment) and segment_names.
-- grain: customer; key: cust_idx.
with assignment as (
    select cust_idx, segment_id, distance from segment_assignment
),

names as (
    select segment_id, segment_name from segment_names
),

final as (
    select assignment.cust_idx, assignment.segment_id, names.segment_name, assignment.distance
    from assignment
    join names on assignment.segment_id = names.segment_id
)

select * from final order by cust_idx
