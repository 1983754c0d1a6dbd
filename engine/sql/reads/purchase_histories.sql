-- purchase_histories: every customer's purchase history as of $1 (a date,
-- YYYY-MM-DD), read by Go for the customer-value models and the backtest.
-- A purchase is a day with at least one order (same-day orders merged, as
-- in the literature); x is the number of purchase days after the first up
-- to $1, t_x the weeks from the first to the last, t the weeks from the
-- first to $1, zbar the mean gross spend of the repeat purchase days; the
-- purchase days after $1 and their gross spend follow. Customers whose
-- first purchase is after $1 are left out.
-- grain: customer; key: cust_idx.
with days as (
    select cust_idx, date_trunc('day', order_ts)::date as day, sum(gross) as spend
    from int_orders
    where order_ts is not null
    group by all
),

ranked as (
    select *, row_number() over (partition by cust_idx order by day) as n
    from days
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
    from days
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
