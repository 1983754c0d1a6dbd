-- how many target rows differ between plan $1 and the segment targets the
-- run history recorded for run $2, either way (rows are compared whole,
-- nulls equal): 0 when committing the run would change nothing.
with planned as (
    select segment_id, segment_name, metric, unit, horizon_start, horizon_end,
        baseline, low, high, target, uplift, objective, method
    from run_history.plan_targets
    where plan_id = $1
),

proposed as (
    select segment_id, segment_name, metric, unit, horizon_start, horizon_end,
        baseline, low, high, target, uplift, objective, method
    from run_history.run_targets
    where run_id = $2
),

final as (
    select count(*) as changes
    from (
        (select * from planned except all select * from proposed)
        union all
        (select * from proposed except all select * from planned)
    )
)

select * from final
