-- segment_conversions: per segment, the purchase days and their spend as
-- the customer-value models count them (reads/purchase_histories as of
-- as_of: a day with an order whose spend net of what was returned of it is
-- positive), the orders and the net revenue of the 12 months up to as_of,
-- which convert the models' units (purchase days, spend per purchase day)
-- to the targets' (orders, net revenue).
-- grain: segment; key: segment_id.
with params as (
    select * from params
),

-- The orders of the 12 months, as int_orders rolled them up (every line is
-- dated up to as_of): a purchase order counts on the day of its first
-- purchase line, a credit note on the day of its first line.
orders as (
    select
        int_orders.cust_idx,
        coalesce(int_orders.order_ts, int_orders.first_ts)::date as day,
        int_orders.order_ts is not null                           as is_purchase,
        int_orders.net,
        int_orders.return_lines                                   as returns
    from int_orders, params
    where coalesce(int_orders.order_ts, int_orders.first_ts)::date >= params.w12_start::date
),

-- Exact (DECIMAL) sums: the figures do not depend on the order in which a
-- parallel aggregate adds them.
days as (
    select cust_idx, day, coalesce(sum(net), 0) as spend, sum(returns) as returns
    from orders
    group by cust_idx, day
    having bool_or(is_purchase)
),

purchases as (
    select days.cust_idx, count(*) as days, sum(days.spend) as spend
    from days
    where days.spend > 0 or (days.spend = 0 and days.returns = 0)
    group by days.cust_idx
),

placed as (
    select cust_idx, count(*) as orders
    from int_orders, params
    where order_ts >= params.w12_start
    group by cust_idx
),

revenue as (
    select cust_idx, sum(amount) as net
    from int_lines, params
    where ts >= params.w12_start
    group by cust_idx
),

final as (
    select
        map.segment_id,
        sum(purchases.days)          as purchase_days,
        sum(placed.orders)           as orders,
        sum(revenue.net)::double     as net_revenue,
        sum(purchases.spend)::double as model_spend
    from customer_segment_map as map
    left join purchases on map.cust_idx = purchases.cust_idx
    left join placed on map.cust_idx = placed.cust_idx
    left join revenue on map.cust_idx = revenue.cust_idx
    group by map.segment_id
)

select * from final order by segment_id
