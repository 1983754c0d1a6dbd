-- int_orders: order lines rolled up to orders. An order is a purchase when it
-- has a line that is not a return (a positive line, or a zero-amount line
-- when rejects.zero_amounts is keep); its time is that of its first such
-- line, and it is null for an order of returns only. Returns stay in the
-- order's net value. first_ts and last_ts are the times of its first and
-- last lines, return_lines counts its returns (purchase_histories reads
-- them to tell a credit note's day and orders with lines after a date).
-- grain: order; key: (cust_idx, order_id).
with lines as (
    select * from int_lines
),

final as (
    select
        cust_idx,
        order_id,
        min(ts) filter (where amount >= 0)                 as order_ts,
        coalesce(sum(amount) filter (where amount > 0), 0) as gross,
        coalesce(sum(amount) filter (where amount < 0), 0) as returned,
        sum(amount)                                        as net,
        min(ts)                                            as first_ts,
        max(ts)                                            as last_ts,
        count(*) filter (where amount < 0)                 as return_lines
    from lines
    group by cust_idx, order_id
)

select * from final
