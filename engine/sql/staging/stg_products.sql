-- stg_products: products typed, with the reason a row is rejected (null when
-- accepted): a missing product_id, or a product_id (as a key: norm_id) that
-- an earlier row (in file order) already has: the first row of a product_id
-- is kept, as for customers. The product_id as found is kept on rejected
-- rows, for the rejects.
-- grain: input product row; key: (file_index, source_row).
with src as (
    select * from src_products
),

typed as (
    select
        file_index,
        source_row,
        norm_id(product_id)                           as product_id,
        cast(product_id as varchar)                   as product_id_found,
        nullif(trim(cast(category as varchar)), '')   as category
    from src
),

ranked as (
    select
        typed.*,
        row_number() over (
            partition by product_id order by file_index, source_row
        )                                             as id_rank
    from typed
),

final as (
    select
        file_index,
        source_row,
        product_id,
        category,
        case
            when product_id is null then 'missing product_id'
            when id_rank > 1 then 'duplicate product_id'
        end                                           as reject_reason,
        case when product_id is null or id_rank > 1 then 'product_id' end as reject_column,
        case when product_id is null or id_rank > 1 then product_id_found end as product_id_found
    from ranked
)

select * from final
