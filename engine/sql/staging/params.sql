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
-- Stray blocks: the days within those fences split into blocks where
-- consecutive days are at most block_gap apart (max(31 days, 4 x the 95th
-- percentile of the gaps between consecutive days)). The rows before the
-- latest gap wider than that with fewer than 0.5% of the rows before it are
-- far outside the data (the early fence moves up to the block after it);
-- under a default as_of, so are the rows after the earliest such gap with
-- fewer than 0.5% after it (the late fence moves down to the block before
-- it). Of the remaining gaps wider than block_gap, the one with the fewest
-- rows on its smaller side, if under 10% of the rows, is reported as a
-- warning (separated_rows, separated_gap_days, separated_from/_to).
-- The default as_of is the latest day of those rows within the fences.
-- $3 also bounds the customers' dates: run_day_end is the end of the day
-- after the run's date (a signup_date on or after it is in the future).
-- The counts per day are one aggregate over the timestamps; the quantiles,
-- gaps and fences come from those few thousand days.
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

quantile_fences as (
    select
        quantiles.p05 - greatest(365, quantiles.p95 - quantiles.p05)::integer   as early_fence,
        case when settings.configured_as_of is null
            then quantiles.p95 + greatest(31, (quantiles.p95 - quantiles.p05) // 4)::integer end
                                                                              as late_fence
    from quantiles, settings
),

-- The days within the quantile fences, each with the gap since the day
-- before it and the rows before it.
fenced as (
    select
        day,
        n,
        lag(day) over (order by day)                                             as day_before,
        day - lag(day) over (order by day)                                       as gap,
        coalesce(sum(n) over (order by day rows between unbounded preceding and 1 preceding), 0) as rows_before,
        sum(n) over ()                                                           as total
    from days, quantile_fences
    where days.day >= quantile_fences.early_fence
        and days.day <= coalesce(quantile_fences.late_fence, days.day)
),

block_gap as (
    select greatest(31, 4 * coalesce(quantile_disc(gap, 0.95), 0)) as max_gap
    from fenced
    where gap is not null
),

-- The gaps wider than block_gap: a break between two blocks of days.
breaks as (
    select
        fenced.day,
        fenced.day_before,
        fenced.gap,
        fenced.rows_before,
        fenced.total - fenced.rows_before           as rows_after,
        fenced.total
    from fenced, block_gap
    where fenced.gap > block_gap.max_gap
),

cuts as (
    select
        max(breaks.day) filter (where breaks.rows_before < 0.005 * breaks.total) as block_start,
        case when settings.configured_as_of is null then
            min(breaks.day_before) filter (where breaks.rows_after < 0.005 * breaks.total) end as block_end
    from breaks, settings
    group by settings.configured_as_of
),

kept as (
    select min(fenced.day) as first_day, max(fenced.day) as last_day
    from fenced
    left join cuts on true
    where fenced.day >= coalesce(cuts.block_start, fenced.day)
        and fenced.day <= coalesce(cuts.block_end, fenced.day)
),

-- Of the breaks between kept days, the one whose smaller side holds the
-- fewest rows, if under 10% of them.
separated as (
    select
        least(breaks.rows_before, breaks.rows_after)        as separated_rows,
        breaks.total                                        as separated_of,
        breaks.gap                                          as separated_gap_days,
        case when breaks.rows_before <= breaks.rows_after
            then kept.first_day else breaks.day end         as separated_from,
        case when breaks.rows_before <= breaks.rows_after
            then breaks.day_before else kept.last_day end   as separated_to
    from breaks, kept
    where breaks.day_before >= kept.first_day and breaks.day <= kept.last_day
        and least(breaks.rows_before, breaks.rows_after) < 0.1 * breaks.total
    order by least(breaks.rows_before, breaks.rows_after), breaks.day
    limit 1
),

fences as (
    select
        greatest(quantile_fences.early_fence, cuts.block_start)       as early_fence,
        case when settings.configured_as_of is null
            then least(quantile_fences.late_fence, cuts.block_end) end as late_fence,
        block_gap.max_gap                                              as block_gap_days
    from quantile_fences, block_gap, settings
    left join cuts on true
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
        fences.block_gap_days,
        separated.separated_rows,
        separated.separated_of,
        separated.separated_gap_days,
        separated.separated_from,
        separated.separated_to,
        ($3::date + interval 2 day)::timestamp                                     as run_day_end,
        $2::boolean                                                                as keep_zero_amounts
    from settings, fences, latest
    left join separated on true
)

select * from final
