-- scorecard_plan_segments: every customer of the run with the segment the
-- plan of record's run gave them (plan_customer_segments, that run's
-- customer_segments), null for a customer new since, read by Go
-- (planScope), which gives those the plan's model's segment. Customers are
-- matched by customer_id as text.
-- grain: customer; key: cust_idx.
with customers as (
    select cust_idx, customer_id from customer_features
),

planned as (
    select customer_id, segment_id from plan_customer_segments
),

final as (
    select
        customers.cust_idx::bigint     as cust_idx,
        planned.segment_id::integer    as segment_id
    from customers
    left join planned on customers.customer_id = planned.customer_id
)

select * from final
