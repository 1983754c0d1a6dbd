-- int_lines: accepted transaction lines, with the category from products
-- when the line has none. Built as a view: every consumer filters it anyway.
-- grain: accepted transaction row; key: source_row.
with lines as (
    select * from stg_transactions where reject_reason is null
),

products as (
    select * from stg_products
),

final as (
    select
        lines.source_row,
        lines.cust_idx,
        lines.order_id,
        lines.ts,
        lines.amount,
        lines.quantity,
        coalesce(lines.category, products.category) as category,
        lines.product_id,
        lines.channel,
        lines.cost
    from lines
    left join products on lines.product_id = products.product_id
)

select * from final
