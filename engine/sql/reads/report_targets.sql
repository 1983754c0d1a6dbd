-- report_targets: every segment's targets for a run's report, from
-- run_segment_targets, the run's published segment_targets.
-- grain: segment × metric; key: (segment_id, metric).
with targets as (
    select * from run_segment_targets
),

final as (
    select
        cast(segment_id as integer)   as segment_id,
        metric,
        coalesce(unit, '')            as unit,
        baseline,
        low,
        high,
        target,
        uplift,
        last_12m
    from targets
    order by segment_id, metric
)

select * from final
