-- compare_targets: the segment_targets of two runs (crmseg compare) side
-- by side, from compared_segment_targets (both runs' files with their
-- side), joined on segment ID and metric: baseline, band and target of
-- each; a row either run lacks has its figures null.
-- grain: segment x metric; key: (segment_id, metric).
with published as (
    select
        side,
        cast(segment_id as integer)       as segment_id,
        segment_name,
        metric,
        coalesce(unit, '')                as unit,
        cast(baseline as double)          as baseline,
        cast(low as double)               as low,
        cast(high as double)              as high,
        cast(target as double)            as target
    from compared_segment_targets
),

a as (
    select * from published where side = 'a'
),

b as (
    select * from published where side = 'b'
),

final as (
    select
        coalesce(a.segment_id, b.segment_id) as segment_id,
        coalesce(a.metric, b.metric)         as metric,
        coalesce(a.unit, b.unit)             as unit,
        coalesce(a.segment_name, '')         as a_segment_name,
        coalesce(b.segment_name, '')         as b_segment_name,
        a.baseline                           as a_baseline,
        a.low                                as a_low,
        a.high                               as a_high,
        a.target                             as a_target,
        b.baseline                           as b_baseline,
        b.low                                as b_low,
        b.high                               as b_high,
        b.target                             as b_target
    from a
    full outer join b on a.segment_id = b.segment_id and a.metric = b.metric
    order by segment_id, metric
)

select * from final
