insert into run_history.run_targets by name
select
    $1::varchar as run_id,
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
from segment_targets
order by segment_id, metric
