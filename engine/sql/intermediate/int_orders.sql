-- int_orders: order lines rolled up to orders. An order counts as an order
-- when it has a positive line; its time is that of its first positive line.
-- Returns stay in the order's net value.
-- grain: order; key: (cust_idx, order_id).
with lines as (
    select * from int_lines
),

final as (
    select
        cust_idx,
        order_id,
        min(ts) filter (where amount > 0)                  as order_ts,
        coalesce(sum(amount) filter (where amount > 0), 0) as gross,
        coalesce(sum(amount) filter (where amount < 0), 0) as returned,
        sum(amount)                                        as net
    from lines
    group by cust_idx, order_id
)

select * from final
