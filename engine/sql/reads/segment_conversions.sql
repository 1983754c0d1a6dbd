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

orders as (
    select
        cust_idx,
        coalesce(min(ts) filter (where amount >= 0), min(ts))::date as day,
        count(*) filter (where amount >= 0) > 0                     as is_purchase,
        sum(amount)                                                 as net,
        count(*) filter (where amount < 0)                          as returns
    from int_lines
    group by cust_idx, order_id
),

days as (
    select cust_idx, day, coalesce(sum(net), 0)::double as spend, sum(returns) as returns
    from orders
    group by cust_idx, day
    having bool_or(is_purchase)
),

purchases as (
    select days.cust_idx, count(*) as days, sum(days.spend) as spend
    from days, params
    where days.day >= params.w12_start::date and (days.spend > 0 or (days.spend = 0 and days.returns = 0))
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
