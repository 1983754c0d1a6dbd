-- the run's segment_scorecard (empty when no plan covers its as_of).
insert into run_history.run_scorecard by name
select
    $1::varchar as run_id,
    plan_id,
    segment_id,
    segment_name,
    objective,
    metric,
    unit,
    horizon_start,
    horizon_end,
    as_of,
    days_elapsed,
    horizon_days,
    customers,
    added_customers,
    actual_to_date,
    added_to_date,
    expected_to_date,
    phasing,
    phased_share,
    baseline_full_year,
    target_full_year,
    projected_year_end,
    projection_method,
    comparison,
    gap,
    status
from segment_scorecard
order by segment_id, metric
