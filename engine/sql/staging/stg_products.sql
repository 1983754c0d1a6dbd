-- stg_products: products typed; the first row of a product_id wins.
-- grain: product; key: product_id.
with src as (
    select * from src_products
),

typed as (
    select
        source_row,
        norm_id(product_id)                           as product_id,
        nullif(trim(cast(category as varchar)), '')   as category,
        row_number() over (
            partition by norm_id(product_id) order by source_row
        )                                             as id_rank
    from src
),

final as (
    select product_id, category
    from typed
    where product_id is not null and id_rank = 1
)

select * from final
