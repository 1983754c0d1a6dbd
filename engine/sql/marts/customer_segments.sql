-- customer_segments: the CRM feed, one row per customer with its segment and
-- the figures behind it. A figure the data cannot give is null, not 0:
-- monetary and historical_value of a customer without a purchase (orders
-- = 0), categories when the inputs have no category ($1 false), the RFM
-- scores and segment of a customer without an order. The customer's
-- figures come from int_customer_rfm, the view of customer_features with
-- the RFM scores beside them.
-- grain: customer; key: customer_id.
-- Not sorted here: publishing sorts it by customer_id, once.
with features as (
    select * from int_customer_rfm
),

assigned as (
    select * from customer_segment_map
),

value as (
    select * from customer_value
),

next_best as (
    select * from int_next_best_category
),

final as (
    select
        features.customer_id,
        assigned.segment_id,
        assigned.segment_name,
        round(assigned.distance, 6)                   as distance,
        features.recency_days,
        features.orders                               as frequency,
        case when features.orders > 0
            then round(features.avg_order_value, 2)::decimal(38, 2) end as monetary,
        features.orders_12m,
        round(features.revenue_12m, 2)::decimal(38, 2)    as revenue_12m,
        case when features.orders > 0
            then round(features.net_revenue, 2)::decimal(38, 2) end     as historical_value,
        features.first_order_date,
        features.last_order_date,
        features.tenure_days,
        case when $1 then features.categories end     as categories,
        next_best.next_best_category,
        value.expected_purchases_12m,
        value.p_alive,
        value.p_purchase_12m,
        value.expected_spend,
        value.predicted_clv_12m,
        features.recency_score,
        features.frequency_score,
        features.monetary_score,
        features.rfm_score,
        features.rfm_segment
    from features
    join assigned on features.cust_idx = assigned.cust_idx
    left join value on features.cust_idx = value.cust_idx
    left join next_best on features.cust_idx = next_best.cust_idx
)

select * from final
