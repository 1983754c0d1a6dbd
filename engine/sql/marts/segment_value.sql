-- segment_value: the customer-value predictions rolled up per segment;
-- segment_id 0 is the whole population. Only customers with a prediction
-- count (none when the model did not converge: the figures are then
-- null). The per-customer figures are rounded when written, so their sums
-- as DECIMAL are exact and do not depend on the number of threads.
-- grain: segment; key: segment_id.
with customers as (
    select
        assigned.segment_id,
        value.*
    from customer_value as value
    join customer_segment_map as assigned on value.cust_idx = assigned.cust_idx
),

final as (
    select
        coalesce(segment_id, 0)                                                     as segment_id,
        count(predicted_clv_12m)                                                    as clv_customers,
        (sum(predicted_clv_12m::decimal(38, 2)) / nullif(count(predicted_clv_12m), 0))::double
                                                                                    as predicted_clv_12m_mean,
        quantile_cont(predicted_clv_12m, 0.5)                                       as predicted_clv_12m_median,
        sum(predicted_clv_12m::decimal(38, 2))::double                              as predicted_clv_12m_total,
        sum(expected_purchases_12m::decimal(38, 6))::double                         as expected_purchases_12m,
        sum((expected_purchases_12m * expected_spend)::decimal(38, 6))::double      as expected_revenue_12m,
        sum(p_purchase_12m::decimal(38, 6))::double                                 as expected_active_12m,
        (sum(p_alive::decimal(38, 6)) / nullif(count(p_alive), 0))::double          as share_alive
    from customers
    group by grouping sets ((segment_id), ())
)

select * from final
