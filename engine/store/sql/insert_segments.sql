-- the run's segments table, without the centroid columns (they follow the
-- configured features; model.json in the run's directory has them).
insert into run_history.run_segments by name
select
    $1::varchar as run_id,
    segment_id,
    segment_name,
    customers,
    customer_share,
    historical_ltv,
    objective,
    objective_source,
    objective_reason,
    traits
from segments
order by segment_id
