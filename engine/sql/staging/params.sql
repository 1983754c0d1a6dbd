-- params: the one-row table of run parameters every model reads.
-- grain: run; key: none (one row).
-- $1 = configured as_of date or NULL; $2 = keep zero-amount rows as purchases
-- (rejects.zero_amounts: keep); $3 = the run's date (today, UTC, or the
-- configured today).
--
-- Which timestamps count: the rows with a customer, an amount and a readable
-- timestamp up to the end of as_of (explicit), or (default) up to the end of
-- the day after today: a day's grace for exports stamped in a local time
-- ahead of UTC. Of
-- those, p05 is the earliest day by which more than 5% of them lie, p95 the
-- latest day on or after which more than 5% lie. A day before
-- p05 - max(365 days, p95 - p05) is far outside the data (early_fence);
-- under a default as_of, so is a day after p95 + max(31 days, (p95 - p05) / 4)
-- (late_fence), and a timestamp after that grace day is in the future
-- (future_from).
-- The default as_of is the latest day of those rows within the fences.
-- The counts per day are one aggregate over the timestamps; the quantiles
-- and the fences come from those few thousand days.
with settings as (
    select
        $1::date                                                          as configured_as_of,
        coalesce($1::date + interval 1 day, $3::date + interval 2 day)::timestamp as limit_end
),

days as (
    select to_ts(ts)::date as day, count(*) as n
    from src_transactions, settings
    where customer_id is not null and amount is not null and to_ts(ts) < settings.limit_end
    group by all
),

cumulative as (
    select
        day,
        n,
        sum(n) over (order by day rows between unbounded preceding and current row) as up_to,
        sum(n) over ()                                                              as total
    from days
),

quantiles as (
    select
        min(day) filter (where up_to > 0.05 * total)             as p05,
        max(day) filter (where total - up_to + n > 0.05 * total) as p95
    from cumulative
),

fences as (
    select
        quantiles.p05 - greatest(365, quantiles.p95 - quantiles.p05)::integer   as early_fence,
        case when settings.configured_as_of is null
            then quantiles.p95 + greatest(31, (quantiles.p95 - quantiles.p05) // 4)::integer end
                                                                              as late_fence
    from quantiles, settings
),

latest as (
    select max(day) as latest_date
    from days, fences
    where days.day >= fences.early_fence and days.day <= coalesce(fences.late_fence, days.day)
),

final as (
    select
        coalesce(settings.configured_as_of, latest_date)                           as as_of,
        (coalesce(settings.configured_as_of, latest_date) + interval 1 day)::timestamp as window_end,
        (coalesce(settings.configured_as_of, latest_date) + interval 1 day
            - interval 12 month)::timestamp                                        as w12_start,
        (coalesce(settings.configured_as_of, latest_date) + interval 1 day
            - interval 24 month)::timestamp                                        as w24_start,
        settings.configured_as_of is not null                                      as explicit_as_of,
        case when settings.configured_as_of is null then settings.limit_end end   as future_from,
        fences.early_fence,
        fences.late_fence,
        $2::boolean                                                                as keep_zero_amounts
    from settings, fences, latest
)

select * from final
