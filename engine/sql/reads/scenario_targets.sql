-- scenario_targets: the baselines and bands of a published run (crmseg
-- scenario), from run_segment_targets, the run's segment_targets file.
-- grain: segment x metric; key: (segment_id, metric).
with published as (
    select * from run_segment_targets
),

final as (
    select
        cast(segment_id as integer)                   as segment_id,
        metric,
        coalesce(unit, '')                            as unit,
        coalesce(method, '')                          as method,
        cast(baseline as double)                      as baseline,
        cast(low as double)                           as low,
        cast(high as double)                          as high,
        coalesce(strftime(horizon_start, '%Y-%m-%d'), '') as horizon_start,
        coalesce(strftime(horizon_end, '%Y-%m-%d'), '')   as horizon_end
    from published
    order by segment_id, metric
)

select * from final
