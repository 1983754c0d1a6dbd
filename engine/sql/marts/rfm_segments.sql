-- rfm_segments: the named RFM segments (int_customer_rfm) with their own
-- figures, one row per segment that has customers. Only customers with an
-- order have an RFM segment, so customer_share is of them. The figures are
-- those of segment_summary and segment_value for the k-means segments,
-- computed the same way: exact sums (DECIMAL and integer) taken to DOUBLE,
-- so they do not depend on the number of threads. The 12-month figures are
-- null when the run leaves the metric out ($1, comma-separated, as
-- segment_metrics).
-- grain: RFM segment; key: rfm_segment (ordered by rfm_segment_position,
-- the grid's order).
with rfm as (
    select * from int_customer_rfm where rfm_segment is not null
),

value as (
    select * from customer_value
),

customers as (
    select
        rfm.rfm_segment_position,
        rfm.rfm_segment,
        rfm.recency_days,
        rfm.orders,
        rfm.orders_12m,
        rfm.revenue_12m,
        rfm.net_revenue,
        rfm.active_12m,
        rfm.active_prev_12m,
        value.predicted_clv_12m
    from rfm
    left join value on rfm.cust_idx = value.cust_idx
),

per_segment as (
    select
        rfm_segment_position,
        rfm_segment,
        count(*)                                                        as customers,
        sum(revenue_12m)                                                as revenue_12m,
        sum(orders_12m)                                                 as orders_12m,
        sum(recency_days)                                               as recency_days,
        sum(orders)                                                     as orders,
        sum(net_revenue)                                                as net_revenue,
        count(*) filter (where active_prev_12m)                         as active_prev_12m,
        count(*) filter (where active_prev_12m and active_12m)          as retained_12m,
        count(predicted_clv_12m)                                        as clv_customers,
        sum(predicted_clv_12m::decimal(38, 2))                          as predicted_clv_12m
    from customers
    group by rfm_segment_position, rfm_segment
),

left_out as (
    select string_split($1, ',') as metrics
),

final as (
    select
        per_segment.rfm_segment_position,
        per_segment.rfm_segment,
        per_segment.customers,
        per_segment.customers / (select count(*) from rfm)                    as customer_share,
        case when not list_contains(left_out.metrics, 'revenue_12m')
            then per_segment.revenue_12m::double end                           as revenue_12m,
        case when not list_contains(left_out.metrics, 'orders_12m')
            then per_segment.orders_12m::double end                            as orders_12m,
        per_segment.recency_days::double / per_segment.customers               as avg_recency_days,
        per_segment.orders::double / per_segment.customers                     as avg_orders,
        per_segment.net_revenue::double / per_segment.orders                   as avg_order_value,
        per_segment.net_revenue::double / per_segment.customers                as historical_ltv,
        (per_segment.predicted_clv_12m / nullif(per_segment.clv_customers, 0))::double
                                                                               as predicted_clv_12m_mean,
        case when not list_contains(left_out.metrics, 'retention_12m')
            then per_segment.retained_12m / nullif(per_segment.active_prev_12m, 0) end
                                                                               as retention_12m
    from per_segment, left_out
)

select * from final
