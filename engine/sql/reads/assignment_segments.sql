-- assignment_segments: the segment the segmentation.assignments file gives
-- each customer of the run, 0 for a customer the file does not hold; the
-- file's rows passed assignment_problems.
-- grain: customer; key: cust_idx.
with customers as (
    select cust_idx, customer_id from customer_features
),

assigned as (
    select norm_id(customer_id) as customer_id, try_cast(cast(segment_id as varchar) as double) as segment_number
    from src_segment_assignments
),

final as (
    select customers.cust_idx::bigint as cust_idx, coalesce(assigned.segment_number, 0)::integer as segment_id
    from customers
    left join assigned on customers.customer_id = assigned.customer_id
)

select * from final order by cust_idx
