-- compare_segments: the segments of two runs (crmseg compare), from
-- compared_segments, both runs' segments files by column name with their
-- side ('a' or 'b'): size, value, objective and the centroid_<feature>
-- columns of each run's features, null for a feature the other run has.
-- grain: run x segment; key: (side, segment_id).
with published as (
    select * from compared_segments
),

final as (
    select *
    from published
    order by side, segment_id
)

select * from final
