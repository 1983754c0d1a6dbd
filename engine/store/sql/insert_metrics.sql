insert into run_history.run_metrics by name
select
    $1::varchar as run_id,
    segment_id,
    segment_name,
    metric,
    dimension,
    value,
    unit
from segment_metrics
order by segment_id, metric, dimension
