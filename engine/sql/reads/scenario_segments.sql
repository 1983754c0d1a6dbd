-- scenario_segments: the segments of a published run (crmseg scenario),
-- from run_segments, the run's segments file.
-- grain: segment; key: segment_id.
with published as (
    select * from run_segments
),

final as (
    select
        cast(segment_id as integer) as segment_id,
        segment_name,
        cast(customers as bigint)   as customers
    from published
    order by segment_id
)

select * from final
