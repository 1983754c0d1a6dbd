-- previous_assignment: for every customer of this run who was in the
-- previous run (the output root's latest), the segment it gave them.
-- Customers are matched by customer_id as text.
-- grain: customer; key: cust_idx.
with features as (
    select cust_idx, customer_id from customer_features
),

previous as (
    select customer_id, segment_id from previous_segments
),

final as (
    select
        features.cust_idx::bigint    as cust_idx,
        previous.segment_id::bigint  as segment_id
    from features
    join previous on features.customer_id = previous.customer_id
)

select * from final order by cust_idx
