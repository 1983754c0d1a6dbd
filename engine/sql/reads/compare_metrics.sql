-- compare_metrics: the segment_metrics of two runs (crmseg compare) side
-- by side, from compared_segment_metrics (both runs' files with their side),
-- joined on segment ID, metric and dimension: a row either run lacks has
-- its figures null. Segment 0 is all customers.
-- grain: segment x metric x dimension; key: (segment_id, metric, dimension).
with published as (
    select
        side,
        cast(segment_id as integer)   as segment_id,
        segment_name,
        metric,
        coalesce(dimension, '')       as dimension,
        cast(value as double)         as value,
        coalesce(unit, '')            as unit
    from compared_segment_metrics
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
        coalesce(a.dimension, b.dimension)   as dimension,
        coalesce(a.unit, b.unit)             as unit,
        coalesce(a.segment_name, '')         as a_segment_name,
        coalesce(b.segment_name, '')         as b_segment_name,
        a.value                              as a_value,
        b.value                              as b_value
    from a
    full outer join b
        on a.segment_id = b.segment_id and a.metric = b.metric and a.dimension = b.dimension
    order by segment_id, metric, dimension
)

select * from final
