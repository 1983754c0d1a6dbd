-- a scenario's results ($1 the run ID, $2 the scenario's name): its
-- scenario_results table, from the scenario's own DuckDB session.
insert into run_history.scenario_results by name
select
    $1::varchar as run_id,
    $2::varchar as scenario_name,
    segment_id,
    segment_name,
    metric,
    unit,
    horizon_start,
    horizon_end,
    baseline,
    baseline_low,
    baseline_high,
    scenario,
    scenario_low,
    scenario_high,
    change,
    method,
    changes
from scenario_results
order by segment_id, metric
