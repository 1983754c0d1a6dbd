-- segment_summary: the per-segment figures behind segment_metrics and the
-- targets; segment_id 0 is the whole population. Sums are exact (DECIMAL and
-- integer), so the figures do not depend on the number of threads. The
-- squares behind revenue_12m's standard deviation would overflow DECIMAL(38)
-- for large accepted amounts (a customer's 12 months can exceed 1e15): each
-- is taken as a DOUBLE of the revenue over the largest |revenue_12m| of its
-- group (segment or all), whose square lies in [0, 1] and is summed exactly
-- as DECIMAL(38, 18).
-- grain: segment; key: segment_id.
with params as (
    select * from params
),

customers as (
    select features.*, assigned.segment_id
    from customer_features as features
    join customer_segment_map as assigned on features.cust_idx = assigned.cust_idx
),

lines_12m as (
    select lines.cust_idx, lines.channel, lines.amount
    from int_lines as lines, params
    where lines.ts >= params.w12_start and lines.amount > 0
),

channel_12m as (
    select
        customers.segment_id,
        sum(lines_12m.amount) filter (where lines_12m.channel in ('web', 'app')) as digital_spend_12m,
        sum(lines_12m.amount)                                                    as gross_spend_12m
    from lines_12m
    join customers on lines_12m.cust_idx = customers.cust_idx
    group by grouping sets ((customers.segment_id), ())
),

revenue_scale as (
    select segment_id, max(abs(revenue_12m))::double as scale
    from customers
    group by grouping sets ((segment_id), ())
),

scaled as (
    select
        customers.*,
        ((customers.revenue_12m::double / nullif(by_segment.scale, 0)) ** 2)::decimal(38, 18) as revenue_12m_sq_segment,
        ((customers.revenue_12m::double / nullif(overall.scale, 0)) ** 2)::decimal(38, 18)    as revenue_12m_sq_all
    from customers
    join revenue_scale as by_segment on customers.segment_id = by_segment.segment_id
    join revenue_scale as overall on overall.segment_id is null
),

per_segment as (
    select
        segment_id,
        count(*)                                                   as customers,
        count(*) filter (where orders > 0)                         as buyers,
        sum(revenue_12m)                                           as revenue_12m,
        -- the mean square of revenue_12m over the group's largest |revenue_12m|
        coalesce(case when grouping(segment_id) = 0 then sum(revenue_12m_sq_segment)
            else sum(revenue_12m_sq_all) end::double / count(*), 0)  as revenue_12m_msq_scaled,
        coalesce(max(abs(revenue_12m))::double, 0)                 as revenue_12m_scale,
        sum(orders_12m)                                            as orders_12m,
        sum(orders_12m * orders_12m)                               as orders_12m_sq,
        sum(revenue_prev_12m)                                      as revenue_prev_12m,
        sum(orders_prev_12m)                                       as orders_prev_12m,
        count(*) filter (where orders_12m > 0 and orders_prev_12m > 0) as active_both_12m,
        -- average order value up: revenue_12m / orders_12m above
        -- revenue_prev_12m / orders_prev_12m, compared exactly.
        count(*) filter (where orders_12m > 0 and orders_prev_12m > 0
            and revenue_12m * orders_prev_12m > revenue_prev_12m * orders_12m) as aov_increased,
        count(*) filter (where active_12m)                         as active_12m,
        count(*) filter (where active_prev_12m)                    as active_prev_12m,
        count(*) filter (where active_prev_12m and active_12m)     as retained_12m,
        count(*) filter (where orders >= 2)                        as repeat_buyers,
        sum(net_revenue)                                           as net_revenue,
        sum(categories)                                            as categories,
        count(*) filter (where categories >= 2)                    as multi_category,
        count(*) filter (where new_12m)                            as new_12m,
        -- the new customers' revenue and the days each was a customer in
        -- the window (first order to as_of, both counted): what a full
        -- year of them would add to a baseline (scoring.ExplainBaseline).
        coalesce(sum(revenue_12m) filter (where new_12m), 0)       as revenue_12m_new,
        coalesce(sum(date_diff('day', first_order_date, params.as_of) + 1) filter (where new_12m), 0) as new_12m_days,
        sum(returned_value)                                        as returned_value,
        sum(gross_revenue)                                         as gross_revenue
    from scaled, params
    group by grouping sets ((segment_id), ())
),

final as (
    select
        coalesce(per_segment.segment_id, 0)                                  as segment_id,
        per_segment.customers,
        per_segment.customers / (select count(*) from customers)             as customer_share,
        per_segment.revenue_12m::double                                      as revenue_12m,
        per_segment.revenue_12m_scale * sqrt(greatest(
            per_segment.revenue_12m_msq_scaled
            - (per_segment.revenue_12m::double / per_segment.customers
                / nullif(per_segment.revenue_12m_scale, 0)) ** 2, 0))    as revenue_12m_sd,
        per_segment.orders_12m::double                                       as orders_12m,
        sqrt(greatest(
            per_segment.orders_12m_sq::double / per_segment.customers
            - (per_segment.orders_12m::double / per_segment.customers) ** 2, 0))
                                                                             as orders_12m_sd,
        per_segment.revenue_12m::double / nullif(per_segment.orders_12m, 0)  as avg_order_value_12m,
        per_segment.revenue_prev_12m::double / nullif(per_segment.orders_prev_12m, 0)
                                                                             as avg_order_value_prev_12m,
        (per_segment.revenue_12m::double / nullif(per_segment.orders_12m, 0))
            / case when per_segment.revenue_prev_12m > 0
                then per_segment.revenue_prev_12m::double / per_segment.orders_prev_12m end
            - 1                                                              as aov_change,
        per_segment.aov_increased / nullif(per_segment.active_both_12m, 0)   as aov_increase_share,
        per_segment.orders_12m / nullif(per_segment.active_12m, 0)           as purchase_frequency_12m,
        per_segment.net_revenue::double / per_segment.customers              as historical_ltv,
        per_segment.active_12m,
        per_segment.active_prev_12m,
        per_segment.retained_12m / nullif(per_segment.active_prev_12m, 0)    as retention_12m,
        1 - per_segment.retained_12m / nullif(per_segment.active_prev_12m, 0) as churn_rate,
        per_segment.repeat_buyers / nullif(per_segment.buyers, 0)            as repeat_purchase_rate,
        per_segment.categories / nullif(per_segment.buyers, 0)               as categories_per_customer,
        per_segment.multi_category / nullif(per_segment.buyers, 0)           as multi_category_share,
        per_segment.new_12m                                                  as new_customers_12m,
        per_segment.revenue_12m_new::double                                  as revenue_12m_new,
        per_segment.new_12m_days,
        per_segment.revenue_prev_12m::double                                 as revenue_prev_12m,
        per_segment.returned_value::double / nullif(per_segment.gross_revenue, 0) as return_rate,
        coalesce(channel_12m.digital_spend_12m, 0)::double
            / nullif(channel_12m.gross_spend_12m, 0)                         as digital_share
    from per_segment
    left join channel_12m
        on per_segment.segment_id is not distinct from channel_12m.segment_id
)

select * from final order by segment_id
