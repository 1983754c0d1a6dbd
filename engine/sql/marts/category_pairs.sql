-- category_pairs: the cross-sell pairs of each segment and of all customers
-- (segment_id 0): the 20 qualifying ordered pairs with the highest lift (see
-- int_category_pairs for the definitions and the qualifying rule). Empty
-- when the inputs have no category.
-- grain: segment × pair; key: (segment_id, pair_rank), or (segment_id, category_a, category_b).
with pairs as (
    select * from int_category_pairs where pair_rank <= 20
),

names as (
    select segment_id, segment_name from segment_names
),

final as (
    select
        pairs.segment_id,
        names.segment_name,
        pairs.pair_rank,
        pairs.category_a,
        pairs.category_b,
        pairs.buyers,
        pairs.customers_a,
        pairs.customers_b,
        pairs.customers_both,
        pairs.support,
        pairs.confidence,
        pairs.lift,
        pairs.lift_vs_population
    from pairs
    join names on pairs.segment_id = names.segment_id
)

select * from final order by segment_id, pair_rank
