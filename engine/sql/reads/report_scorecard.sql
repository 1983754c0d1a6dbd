-- report_scorecard: the scorecard rows for a run's report, from
-- run_segment_scorecard, the run's published segment_scorecard
-- (empty when no plan of record covers the run).
-- grain: segment × metric; key: (segment_id, metric).
with scorecard as (
    select * from run_segment_scorecard
),

final as (
    select
        cast(plan_id as bigint)         as plan_id,
        cast(segment_id as integer)     as segment_id,
        coalesce(segment_name, '')      as segment_name,
        metric,
        actual_to_date,
        expected_to_date,
        target_full_year,
        projected_year_end,
        gap,
        coalesce(comparison, '')        as comparison,
        coalesce(status, '')            as status
    from scorecard
    order by segment_id, metric
)

select * from final
