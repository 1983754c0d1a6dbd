-- segment_conversions: per segment, the purchase days, orders, net and gross
-- revenue of the 12 months up to as_of, which convert the models' units
-- (purchase days, gross spend) to the targets' (orders, net revenue).
-- grain: segment; key: segment_id.
with params as (
    select * from params
),

purchases as (
    select cust_idx, count(distinct date_trunc('day', order_ts)) as days, count(*) as orders
    from int_orders, params
    where order_ts >= params.w12_start
    group by cust_idx
),

spend as (
    select cust_idx, sum(amount) as net, sum(amount) filter (where amount > 0) as gross
    from int_lines, params
    where ts >= params.w12_start
    group by cust_idx
),

final as (
    select
        map.segment_id,
        sum(purchases.days)      as purchase_days,
        sum(purchases.orders)    as orders,
        sum(spend.net)::double   as net_revenue,
        sum(spend.gross)::double as gross_revenue
    from customer_segment_map as map
    left join purchases on map.cust_idx = purchases.cust_idx
    left join spend on map.cust_idx = spend.cust_idx
    group by map.segment_id
)

select * from final order by segment_id
