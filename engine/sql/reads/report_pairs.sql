-- report_pairs: each segment's best cross-sell pairs for a run's report, the
-- first $1 by lift, from run_category_pairs, the run's published
-- category_pairs.
-- grain: segment × pair; key: (segment_id, pair_rank).
with pairs as (
    select * from run_category_pairs
    where segment_id > 0 and pair_rank <= $1
),

final as (
    select
        cast(segment_id as integer)      as segment_id,
        cast(pair_rank as integer)       as pair_rank,
        category_a,
        category_b,
        cast(customers_both as bigint)   as customers_both,
        confidence,
        lift
    from pairs
    order by segment_id, pair_rank
)

select * from final
