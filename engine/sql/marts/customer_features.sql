-- customer_features: per-customer demographics and purchase patterns as of
-- params.as_of. Money is net of returns; windows are the 12 months up to
-- as_of (w12) and the 12 before (prev).
-- grain: customer; key: customer_id (and cust_idx, its integer key).
with params as (
    select * from params
),

customers as (
    select * from int_customers
),

lines as (
    select * from int_lines
),

orders as (
    select * from int_orders where order_ts is not null
),

order_agg as (
    select
        orders.cust_idx,
        count(*)                                                        as orders,
        count(*) filter (where orders.order_ts >= params.w12_start)     as orders_12m,
        count(*) filter (where orders.order_ts >= params.w24_start
                           and orders.order_ts < params.w12_start)      as orders_prev_12m,
        min(orders.order_ts)                                            as first_order_ts,
        max(orders.order_ts)                                            as last_order_ts
    from orders, params
    group by orders.cust_idx
),

-- Historical value, returns and cost count the lines from the first purchase
-- on: returns dated before it are of purchases the data does not hold. The
-- join is on one row per buyer, probed by the one scan of the lines.
line_agg as (
    select
        lines.cust_idx,
        min(lines.ts)                                                           as first_seen_ts,
        sum(lines.amount) filter (where lines.ts >= order_agg.first_order_ts)  as net_revenue,
        coalesce(sum(lines.amount) filter (where lines.amount > 0), 0)          as gross_revenue,
        coalesce(-sum(lines.amount) filter (where lines.amount < 0
                                              and lines.ts >= order_agg.first_order_ts), 0)
                                                                                as returned_since_first,
        coalesce(sum(lines.amount) filter (where lines.ts >= params.w12_start), 0) as revenue_12m,
        coalesce(sum(lines.amount) filter (where lines.ts >= params.w24_start
                                             and lines.ts < params.w12_start), 0) as revenue_prev_12m,
        sum(lines.cost) filter (where lines.ts >= order_agg.first_order_ts)    as cost
    from lines
    cross join params
    left join order_agg on lines.cust_idx = order_agg.cust_idx
    group by lines.cust_idx
),

-- The categories a customer bought are the category rows of customer_mix:
-- counting them there reads one row per customer and category rather than
-- every line again.
category_agg as (
    select cust_idx, count(*) as categories
    from customer_mix
    where dimension = 'category'
    group by cust_idx
),

joined as (
    select
        customers.cust_idx,
        customers.customer_id,
        customers.signup_date,
        customers.birth_date,
        customers.gender,
        customers.region,
        customers.income_band,
        customers.acquisition_channel,
        customers.acquisition_cost,
        order_agg.first_order_ts,
        order_agg.last_order_ts,
        least(customers.signup_date, line_agg.first_seen_ts::date)    as first_seen_date,
        coalesce(order_agg.orders, 0)                                 as orders,
        coalesce(order_agg.orders_12m, 0)                             as orders_12m,
        coalesce(order_agg.orders_prev_12m, 0)                        as orders_prev_12m,
        -- 0 without a purchase here (for clustering and segment means);
        -- customer_segments publishes it as unknown (null).
        coalesce(line_agg.net_revenue, 0)                             as net_revenue,
        coalesce(line_agg.gross_revenue, 0)                           as gross_revenue,
        -- Returns beyond the customer's purchases in the data are of
        -- purchases before it: returned value counts up to gross spend.
        least(coalesce(line_agg.returned_since_first, 0),
              coalesce(line_agg.gross_revenue, 0))                    as returned_value,
        coalesce(line_agg.revenue_12m, 0)                             as revenue_12m,
        coalesce(line_agg.revenue_prev_12m, 0)                        as revenue_prev_12m,
        line_agg.cost                                                 as cost,
        coalesce(category_agg.categories, 0)                          as categories
    from customers
    left join line_agg on customers.cust_idx = line_agg.cust_idx
    left join order_agg on customers.cust_idx = order_agg.cust_idx
    left join category_agg on customers.cust_idx = category_agg.cust_idx
),

final as (
    select
        joined.cust_idx,
        joined.customer_id,
        joined.signup_date,
        joined.first_order_ts::date                                         as first_order_date,
        joined.last_order_ts::date                                          as last_order_date,
        joined.gender,
        joined.region,
        joined.income_band,
        joined.acquisition_channel,
        joined.acquisition_cost,
        floor(date_diff('day', joined.birth_date, params.as_of) / 365.25)::integer as age,
        -- A customer with no signup date and no accepted line (every row
        -- rejected) was never seen: recency and tenure are unknown (null).
        case when joined.first_seen_date is not null
            then greatest(date_diff('day', joined.first_seen_date, params.as_of), 0) end as tenure_days,
        case when joined.first_seen_date is not null
            then greatest(date_diff('day', coalesce(joined.last_order_ts::date, joined.first_seen_date), params.as_of), 0) end
                                                                            as recency_days,
        joined.orders,
        joined.orders_12m,
        joined.orders_prev_12m,
        joined.orders * 365.25
            / greatest(coalesce(date_diff('day', joined.first_seen_date, params.as_of), 0), 30)
                                                                            as orders_per_year,
        joined.net_revenue,
        joined.gross_revenue,
        joined.returned_value,
        joined.revenue_12m,
        joined.revenue_prev_12m,
        case when joined.orders > 0 then joined.net_revenue / joined.orders else 0 end
                                                                            as avg_order_value,
        case when joined.gross_revenue > 0 then joined.returned_value / joined.gross_revenue else 0 end
                                                                            as return_rate,
        case when joined.net_revenue > 0 and joined.cost is not null
            then (joined.net_revenue - joined.cost) / joined.net_revenue end as margin_rate,
        joined.categories,
        joined.orders_12m > 0                                               as active_12m,
        joined.orders_prev_12m > 0                                          as active_prev_12m,
        coalesce(joined.first_order_ts >= params.w12_start, false)          as new_12m
    from joined, params
)

select * from final
