-- int_next_best_category: for each customer who bought some category, the
-- category to offer next: among the categories they have not bought, the one
-- with the highest lift from a category they have bought, over the
-- qualifying pairs of their segment with a lift above 1 (see
-- int_category_pairs). Ties go to the higher confidence, then to the first
-- category name. Customers with nothing that qualifies have no row.
-- Customers with the same segment and the same set of categories get the
-- same answer, so it is worked out once per distinct basket and joined
-- back: the work grows with distinct baskets, not with customers.
-- grain: customer; key: cust_idx.
with bought as (
    select cust_idx, segment_id, category from int_customer_categories
),

pairs as (
    select segment_id, category_a, category_b, lift, confidence
    from int_category_pairs
    where qualifies and lift > 1 and segment_id > 0
),

baskets as (
    select cust_idx, segment_id, list(category order by category) as categories
    from bought
    group by cust_idx, segment_id
),

distinct_baskets as (
    select distinct segment_id, categories from baskets
),

basket_categories as (
    select segment_id, categories, unnest(categories) as category
    from distinct_baskets
),

candidates as (
    select
        basket_categories.segment_id,
        basket_categories.categories,
        pairs.category_b,
        pairs.lift,
        pairs.confidence
    from basket_categories
    join pairs
        on basket_categories.segment_id = pairs.segment_id
        and basket_categories.category = pairs.category_a
    where not list_contains(basket_categories.categories, pairs.category_b)
),

best as (
    select segment_id, categories, category_b as next_best_category
    from candidates
    qualify row_number() over (
        partition by segment_id, categories
        order by lift desc, confidence desc, category_b
    ) = 1
),

final as (
    select baskets.cust_idx, best.next_best_category
    from baskets
    join best on baskets.segment_id = best.segment_id and baskets.categories = best.categories
)

select * from final
