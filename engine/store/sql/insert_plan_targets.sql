-- a plan's targets ($1, the plan ID): the segment targets the run history
-- recorded for its run ($2).
insert into run_history.plan_targets by name
select
    $1::integer as plan_id,
    segment_id,
    segment_name,
    metric,
    unit,
    horizon_start,
    horizon_end,
    baseline,
    low,
    high,
    target,
    uplift,
    objective,
    method
from run_history.run_targets
where run_id = $2
order by segment_id, metric
