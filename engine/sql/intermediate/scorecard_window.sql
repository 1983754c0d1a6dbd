-- scorecard_window: the dates the run's scorecard measures between: the
-- horizon of the plan of record (scorecard_plan) from its start to this
-- run's as_of, and the same span of the year before the horizon, which
-- phases the plan. Timestamps are the starts of days; ends are exclusive.
-- The year before the horizon is the plan's run's last 12 months; the one
-- before that holds retention's cohort of that year.
-- grain: run; key: none (one row; none without a plan).
with plan as (
    select * from scorecard_plan
),

params as (
    select * from params
),

final as (
    select
        plan.plan_id,
        plan.horizon_start,
        plan.horizon_end,
        params.as_of,
        params.as_of - plan.horizon_start + 1                  as days_elapsed,
        plan.horizon_end - plan.horizon_start + 1              as horizon_days,
        plan.horizon_start::timestamp                          as to_date_start,
        params.window_end                                      as to_date_end,
        (plan.horizon_start - interval 12 month)::timestamp    as prior_start,
        (params.window_end - interval 12 month)::timestamp     as prior_to_date_end,
        plan.horizon_start::timestamp                          as prior_end,
        (plan.horizon_start - interval 24 month)::timestamp    as cohort_start
    from plan, params
)

select * from final
