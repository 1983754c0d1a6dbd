-- scorecard_customers: every customer of the run with what they did from
-- the horizon start of the plan of record to as_of (scorecard_window), in
-- the same span of the year before the horizon and in all of that year
-- (prior_...), which phase the plan, and the figures of the 12 months up to
-- as_of that convert the value models' units to the targets' (orders_12m
-- and revenue_12m against the days with a purchase order and those orders'
-- net: reads/segment_conversions' purchase days, net of returns, without
-- their per-day grouping, which would cost more than the rest of this
-- read); read by Go
-- (scorecardFigures), which adds them up by the plan's segment of each
-- customer. Money is exact (DECIMAL), net of returns; gross and digital
-- spend count the positive lines, digital through web and app.
-- established: a first order before the year before the horizon (a
-- customer all that year); prior_cohort: an order in the year before that
-- (retention's cohort of the year before the horizon); new_to_date,
-- new_prior_to_date, new_prior: the first order in the horizon so far, in
-- the year before's same span, in all of it; multi_category: 2 or more
-- categories bought, all history.
-- grain: customer; key: cust_idx.
with params as (
    select * from params
),

dates as (
    select * from scorecard_window
),

customers as (
    select cust_idx, orders, categories, first_order_date, orders_12m, revenue_12m from customer_features
),

lines as (
    select
        lines.cust_idx,
        sum(lines.amount) filter (where lines.ts >= dates.to_date_start)                   as revenue,
        sum(lines.amount) filter (where lines.ts >= dates.to_date_start and lines.amount > 0) as gross,
        sum(lines.amount) filter (where lines.ts >= dates.to_date_start and lines.amount > 0
                                    and lines.channel in ('web', 'app'))                    as digital,
        sum(lines.amount) filter (where lines.ts < dates.prior_to_date_end)                 as prior_revenue_to_date,
        sum(lines.amount) filter (where lines.ts < dates.prior_end)                         as prior_revenue,
        sum(lines.amount) filter (where lines.ts < dates.prior_to_date_end and lines.amount > 0) as prior_gross_to_date,
        sum(lines.amount) filter (where lines.ts < dates.prior_end and lines.amount > 0)     as prior_gross,
        sum(lines.amount) filter (where lines.ts < dates.prior_to_date_end and lines.amount > 0
                                    and lines.channel in ('web', 'app'))                    as prior_digital_to_date,
        sum(lines.amount) filter (where lines.ts < dates.prior_end and lines.amount > 0
                                    and lines.channel in ('web', 'app'))                    as prior_digital
    from int_lines as lines, dates
    where lines.ts >= dates.prior_start
    group by lines.cust_idx
),

orders as (
    select
        orders.cust_idx,
        count(*) filter (where orders.order_ts >= dates.to_date_start)                as orders,
        count(*) filter (where orders.order_ts >= dates.prior_start
                           and orders.order_ts < dates.prior_to_date_end)             as prior_orders_to_date,
        count(*) filter (where orders.order_ts >= dates.prior_start
                           and orders.order_ts < dates.prior_end)                     as prior_orders,
        bool_or(orders.order_ts < dates.prior_start)                                  as prior_cohort,
        count(distinct orders.order_ts::date) filter (where orders.order_ts >= params.w12_start) as purchase_days_12m,
        sum(orders.net) filter (where orders.order_ts >= params.w12_start)           as purchase_net_12m
    from int_orders as orders, dates, params
    where orders.order_ts >= dates.cohort_start
    group by orders.cust_idx
),

final as (
    select
        customers.cust_idx::bigint                                                   as cust_idx,
        coalesce(lines.revenue, 0)::decimal(38, 4)                                   as revenue_to_date,
        coalesce(lines.gross, 0)::decimal(38, 4)                                     as gross_to_date,
        coalesce(lines.digital, 0)::decimal(38, 4)                                   as digital_to_date,
        coalesce(orders.orders, 0)::bigint                                           as orders_to_date,
        coalesce(customers.first_order_date >= dates.horizon_start, false)           as new_to_date,
        customers.orders > 0                                                         as buyer,
        coalesce(customers.categories >= 2, false)                                   as multi_category,
        coalesce(customers.first_order_date < dates.prior_start::date, false)        as established,
        coalesce(orders.prior_cohort, false)                                         as prior_cohort,
        coalesce(lines.prior_revenue_to_date, 0)::decimal(38, 4)                     as prior_revenue_to_date,
        coalesce(lines.prior_revenue, 0)::decimal(38, 4)                             as prior_revenue,
        coalesce(lines.prior_gross_to_date, 0)::decimal(38, 4)                       as prior_gross_to_date,
        coalesce(lines.prior_gross, 0)::decimal(38, 4)                               as prior_gross,
        coalesce(lines.prior_digital_to_date, 0)::decimal(38, 4)                     as prior_digital_to_date,
        coalesce(lines.prior_digital, 0)::decimal(38, 4)                             as prior_digital,
        coalesce(orders.prior_orders_to_date, 0)::bigint                             as prior_orders_to_date,
        coalesce(orders.prior_orders, 0)::bigint                                     as prior_orders,
        coalesce(customers.first_order_date >= dates.prior_start::date
            and customers.first_order_date < dates.prior_to_date_end::date, false)   as new_prior_to_date,
        coalesce(customers.first_order_date >= dates.prior_start::date
            and customers.first_order_date < dates.prior_end::date, false)           as new_prior,
        customers.orders_12m::bigint                                                 as orders_12m,
        customers.revenue_12m::decimal(38, 4)                                        as revenue_12m,
        coalesce(orders.purchase_days_12m, 0)::bigint                                as purchase_days_12m,
        coalesce(orders.purchase_net_12m, 0)::decimal(38, 4)                         as purchase_net_12m
    from customers
    cross join dates
    left join lines on customers.cust_idx = lines.cust_idx
    left join orders on customers.cust_idx = orders.cust_idx
)

select * from final
