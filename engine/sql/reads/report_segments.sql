-- report_segments: a run's segments for its report, from run_segments,
-- the run's published segments.
-- grain: segment; key: segment_id.
with published as (
    select * from run_segments
),

final as (
    select
        cast(segment_id as integer)        as segment_id,
        segment_name,
        cast(customers as bigint)          as customers,
        cast(customer_share as double)     as customer_share,
        cast(historical_ltv as double)     as historical_ltv,
        coalesce(objective, '')            as objective,
        coalesce(objective_reason, '')     as objective_reason,
        coalesce(traits, '')               as traits
    from published
    order by segment_id
)

select * from final
