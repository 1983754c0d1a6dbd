-- scenario_customers: what a scenario needs of every customer of a
-- published run (crmseg scenario), read by Go from run_customer_segments,
-- the run's customer_segments file. $1 is the run's as_of: a customer is
-- active when an order fell in the 12 months up to it (orders_12m), new
-- when the first did (as params' w12_start: (as_of + 1 day) - 12 months),
-- a buyer with an order at all. categories is -1 when the run has none;
-- the value columns are null without a prediction.
-- grain: customer; key: customer_id.
with published as (
    select * from run_customer_segments
),

final as (
    select
        cast(segment_id as integer)                                        as segment_id,
        coalesce(orders_12m, 0) > 0                                        as active_12m,
        coalesce(first_order_date >= $1::date + interval 1 day - interval 12 month, false) as new_12m,
        coalesce(frequency, 0) > 0                                         as buyer,
        cast(coalesce(categories, -1) as bigint)                           as categories,
        cast(coalesce(revenue_12m, 0) as double)                           as revenue_12m,
        cast(coalesce(orders_12m, 0) as double)                            as orders_12m,
        cast(p_alive as double)                                            as p_alive,
        cast(p_purchase_12m as double)                                     as p_purchase_12m,
        cast(expected_purchases_12m as double)                             as expected_purchases_12m,
        cast(expected_spend as double)                                     as expected_spend,
        cast(predicted_clv_12m as double)                                  as predicted_clv_12m
    from published
    order by customer_id
)

select * from final
