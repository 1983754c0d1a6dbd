-- purchase_histories: every customer's purchase history as of $1 (a date,
-- YYYY-MM-DD), read by Go for the customer-value models and the backtest.
-- A purchase is a day with at least one order (same-day orders merged, as
-- in the literature) whose spend, net of what was returned, is positive:
-- a day's spend is its orders' lines, the returns filed under those orders
-- (by order_id, dated up to $1) and the returns-only orders (credit notes)
-- dated that day; a day whose returns cancel its orders is no purchase. A
-- day of free goods only (zero-amount lines kept, nothing returned) stays a
-- purchase of no value. A credit note dated on a day without a purchase is
-- of an earlier purchase it does not name: it counts on no purchase day.
-- x is the number of purchase days after the first up to $1, t_x the weeks
-- from the first to the last, t the weeks from the first to $1, zbar the
-- mean net spend of the repeat purchase days; the purchase days after $1
-- and their net spend (returns up to as_of) follow. Customers without a
-- purchase up to $1 are left out.
-- grain: customer; key: cust_idx.
with orders as (
    select
        cust_idx,
        -- A purchase order counts on the day of its first purchase line, a
        -- credit note on the day of its first line.
        coalesce(min(ts) filter (where amount >= 0), min(ts))::date as day,
        count(*) filter (where amount >= 0) > 0                     as is_purchase,
        sum(amount) filter (where ts::date <= $1::date)             as net_by_end,
        sum(amount)                                                 as net,
        count(*) filter (where amount < 0 and ts::date <= $1::date) as returns_by_end,
        count(*) filter (where amount < 0)                          as returns
    from int_lines
    group by cust_idx, order_id
),

days as (
    select
        cust_idx,
        day,
        coalesce(sum(net_by_end), 0)::double as spend_by_end,
        coalesce(sum(net), 0)::double        as spend,
        sum(returns_by_end)                  as returns_by_end,
        sum(returns)                         as returns
    from orders
    group by cust_idx, day
    having bool_or(is_purchase)
),

purchases as (
    -- The spend a day is known by: up to $1 for the history, every accepted
    -- line (up to as_of) for the days after $1.
    select
        cust_idx,
        day,
        case when day <= $1::date then spend_by_end else spend end     as spend,
        case when day <= $1::date then returns_by_end else returns end as returns
    from days
),

kept as (
    select cust_idx, day, spend
    from purchases
    where spend > 0 or (spend = 0 and returns = 0)
),

ranked as (
    select *, row_number() over (partition by cust_idx order by day) as n
    from kept
    where day <= $1::date
),

calibration as (
    select
        cust_idx,
        count(*) - 1                                          as x,
        date_diff('day', min(day), max(day)) / 7.0           as t_x,
        date_diff('day', min(day), $1::date) / 7.0           as t,
        coalesce(avg(spend) filter (where n > 1), 0)::double as zbar
    from ranked
    group by cust_idx
),

after as (
    select cust_idx, count(*) as purchases, sum(spend) as revenue
    from kept
    where day > $1::date
    group by cust_idx
),

final as (
    select
        calibration.cust_idx::bigint                  as cust_idx,
        calibration.x::double                         as x,
        calibration.t_x::double                       as t_x,
        calibration.t::double                         as t,
        calibration.zbar,
        coalesce(after.purchases, 0)::bigint          as purchases_after,
        coalesce(after.revenue, 0)::double            as revenue_after
    from calibration
    left join after on calibration.cust_idx = after.cust_idx
)

select * from final order by cust_idx
