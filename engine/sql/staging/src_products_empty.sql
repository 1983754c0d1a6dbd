-- src_products when no products file is given: no rows.
-- grain: product; key: product_id.
with final as (
    select
        null::varchar as source_file,
        null::integer as file_index,
        null::bigint  as source_row,
        null::varchar as product_id,
        null::varchar as category,
        null::varchar as name,
        null::double  as list_price
    where false
)

select * from final
