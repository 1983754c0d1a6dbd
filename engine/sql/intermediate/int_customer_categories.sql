-- int_customer_categories: the categories each customer bought (a positive
-- line with a category, all history up to as_of), with the customer's
-- segment. The basket of the cross-sell models: pairs are counted from this
-- table, so their cost grows with customers times their categories squared,
-- never with customers squared. Read from customer_mix, which already holds
-- one row per customer and category bought, rather than from every line.
-- grain: customer × category; key: (cust_idx, category).
with bought as (
    select cust_idx, value as category
    from customer_mix
    where dimension = 'category'
),

segmented as (
    select cust_idx, segment_id from customer_segment_map
),

final as (
    select bought.cust_idx, segmented.segment_id, bought.category
    from bought
    join segmented on bought.cust_idx = segmented.cust_idx
)

select * from final
