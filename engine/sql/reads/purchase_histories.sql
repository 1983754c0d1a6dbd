-- purchase_histories: every customer's purchase history as of $1 (a date,
-- YYYY-MM-DD), read by Go for the customer-value models and the backtest.
-- Go writes $1::date into the query as a DATE literal (so that DuckDB can
-- prune the late orders' branch by its zone maps; see purchaseHistories).
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
-- and their net spend (returns up to as_of) follow, then first_spend, the
-- net spend of the first purchase day. Customers without a
-- purchase up to $1 are left out.
-- grain: customer; key: cust_idx.
with orders as (
    -- An order whose lines are all dated up to $1, as int_orders rolled it
    -- up: every order when $1 is as_of.
    select
        cust_idx,
        -- A purchase order counts on the day of its first purchase line, a
        -- credit note on the day of its first line.
        coalesce(order_ts, first_ts)::date as day,
        order_ts is not null               as is_purchase,
        net                                as spend,
        return_lines                       as returns
    from int_orders
    where last_ts::date <= $1::date

    union all

    -- An order with a line after $1 (a backtest's calibration end before
    -- as_of), from its lines. The spend a day is known by: up to $1 for
    -- the history (a later return is not known then), every accepted line
    -- (up to as_of) for the days after $1.
    select
        cust_idx,
        day,
        is_purchase,
        case when day <= $1::date then spend_by_end else spend end,
        case when day <= $1::date then returns_by_end else returns end
    from (
        select
            lines.cust_idx,
            coalesce(min(lines.ts) filter (where lines.amount >= 0), min(lines.ts))::date as day,
            count(*) filter (where lines.amount >= 0) > 0                                 as is_purchase,
            sum(lines.amount) filter (where lines.ts::date <= $1::date)                   as spend_by_end,
            sum(lines.amount)                                                             as spend,
            count(*) filter (where lines.amount < 0 and lines.ts::date <= $1::date)       as returns_by_end,
            count(*) filter (where lines.amount < 0)                                      as returns
        from int_lines as lines
        semi join int_orders as late
            on lines.cust_idx = late.cust_idx and lines.order_id = late.order_id and late.last_ts::date > $1::date
        group by lines.cust_idx, lines.order_id
    )
),

days as (
    -- Exact (DECIMAL) sums: the figures do not depend on the order in
    -- which a parallel aggregate adds them.
    select
        cust_idx,
        day,
        coalesce(sum(spend), 0) as spend,
        sum(returns)            as returns
    from orders
    group by cust_idx, day
    having bool_or(is_purchase)
),

kept as (
    select cust_idx, day, spend
    from days
    where spend > 0 or (spend = 0 and returns = 0)
),

calibration as (
    -- zbar: the mean spend of the days after the first (arg_min: the first
    -- day's spend), from exact sums.
    select
        cust_idx,
        count(*) - 1                                          as x,
        date_diff('day', min(day), max(day)) / 7.0           as t_x,
        date_diff('day', min(day), $1::date) / 7.0           as t,
        case when count(*) > 1
            then (sum(spend) - arg_min(spend, day))::double / (count(*) - 1)
            else 0 end                                        as zbar,
        arg_min(spend, day)::double                           as first_spend
    from kept
    where day <= $1::date
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
        coalesce(after.revenue, 0)::double            as revenue_after,
        calibration.first_spend
    from calibration
    left join after on calibration.cust_idx = after.cust_idx
)

select * from final order by cust_idx
