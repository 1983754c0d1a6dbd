-- segment_metrics: every metric of every segment in long form; segment_id 0
-- is the whole population. The customer economics (acquisition cost,
-- LTV/CAC, payback, margin, profit) are acquisition_value's segment rows.
-- Metrics that cannot be computed (no customers in the denominator, no cost
-- or acquisition data, no value models) are left out, and so are
-- those the run leaves out ($1, comma-separated: no category or channel in
-- the inputs, a window the data mostly does not cover).
-- grain: segment × metric × dimension; key: (segment_id, metric, dimension).
with summary as (
    select * from segment_summary
),

value as (
    select * from segment_value
),

names as (
    select segment_id, segment_name from segment_names
),

economics as (
    select
        segment_id,
        cac,
        ltv_to_cac,
        horizon_ltv_to_cac,
        payback_months,
        margin_payback_months,
        gross_margin,
        gross_margin_rate,
        margin_clv,
        profit,
        profit_rank
    from acquisition_value
    where "grouping" in ('segment', 'all')
),

metric_list (metric, unit, position) as (
    values
        ('customers', 'customers', 1),
        ('customer_share', 'share', 2),
        ('revenue_12m', 'currency', 3),
        ('orders_12m', 'orders', 4),
        ('avg_order_value_12m', 'currency', 5),
        ('avg_order_value_prev_12m', 'currency', 6),
        ('aov_change', 'relative change', 7),
        ('aov_increase_share', 'share', 8),
        ('purchase_frequency_12m', 'orders per active customer', 9),
        ('historical_ltv', 'currency per customer', 10),
        ('active_customers_12m', 'customers', 11),
        ('retention_12m', 'share', 12),
        ('churn_rate', 'share', 13),
        ('repeat_purchase_rate', 'share', 14),
        ('categories_per_customer', 'categories', 15),
        ('multi_category_share', 'share', 16),
        ('new_customers_12m', 'customers', 17),
        ('return_rate', 'share', 18),
        ('digital_share', 'share', 19),
        ('avg_acquisition_cost', 'currency per customer', 20),
        ('ltv_to_cac', 'ratio', 21),
        ('predicted_clv_12m_mean', 'currency per customer', 22),
        ('predicted_clv_12m_median', 'currency per customer', 23),
        ('predicted_clv_12m_total', 'currency', 24),
        ('expected_purchases_12m', 'purchases', 25),
        ('expected_revenue_12m', 'currency', 26),
        ('expected_active_12m', 'customers', 27),
        ('share_alive', 'share', 28),
        ('channel_share', 'share', 29),
        ('horizon_ltv_to_cac', 'ratio', 30),
        ('payback_months', 'months', 31),
        ('margin_payback_months', 'months', 32),
        ('gross_margin', 'currency', 33),
        ('gross_margin_rate', 'share', 34),
        ('margin_clv', 'currency per customer', 35),
        ('profit', 'currency', 36),
        ('profit_rank', 'rank', 37)
),

wide as (
    select
        summary.segment_id,
        customers::double              as customers,
        customer_share::double         as customer_share,
        revenue_12m::double            as revenue_12m,
        orders_12m::double             as orders_12m,
        avg_order_value_12m::double    as avg_order_value_12m,
        avg_order_value_prev_12m::double as avg_order_value_prev_12m,
        aov_change::double             as aov_change,
        aov_increase_share::double     as aov_increase_share,
        purchase_frequency_12m::double as purchase_frequency_12m,
        historical_ltv::double         as historical_ltv,
        active_12m::double             as active_customers_12m,
        retention_12m::double          as retention_12m,
        churn_rate::double             as churn_rate,
        repeat_purchase_rate::double   as repeat_purchase_rate,
        categories_per_customer::double as categories_per_customer,
        multi_category_share::double   as multi_category_share,
        new_customers_12m::double      as new_customers_12m,
        return_rate::double            as return_rate,
        digital_share::double          as digital_share,
        economics.cac                  as avg_acquisition_cost,
        economics.ltv_to_cac,
        value.predicted_clv_12m_mean,
        value.predicted_clv_12m_median,
        value.predicted_clv_12m_total,
        value.expected_purchases_12m,
        value.expected_revenue_12m,
        value.expected_active_12m,
        value.share_alive,
        economics.horizon_ltv_to_cac,
        economics.payback_months::double as payback_months,
        economics.margin_payback_months::double as margin_payback_months,
        economics.gross_margin,
        economics.gross_margin_rate,
        economics.margin_clv,
        economics.profit,
        economics.profit_rank::double  as profit_rank
    from summary
    left join value on summary.segment_id = value.segment_id
    left join economics on summary.segment_id = economics.segment_id
),

long as (
    unpivot wide
    on columns(* exclude (segment_id))
    into name metric value value
),

channels as (
    select segment_id, 'channel_share' as metric, channel as dimension, share as value
    from segment_channel_mix
),

unioned as (
    select segment_id, metric, '' as dimension, value from long
    union all
    select segment_id, metric, dimension, value from channels
),

final as (
    select
        unioned.segment_id,
        names.segment_name,
        unioned.metric,
        unioned.dimension,
        unioned.value,
        metric_list.unit
    from unioned
    join metric_list on unioned.metric = metric_list.metric
    join names on unioned.segment_id = names.segment_id
    where not list_contains(string_split($1, ','), unioned.metric)
    order by unioned.segment_id, metric_list.position, unioned.dimension
)

select * from final
