-- rejects: every input row that was not used, with why.
-- grain: rejected input row; key: (source_table, source_file, source_row).
with files as (
    select * from input_files
),

customers as (
    select 'customers' as source_table, file_index, source_row, reject_column as "column", reject_reason as reason,
        customer_id_found as customer_id, customer_id_found as value
    from stg_customers
    where reject_reason is not null
),

transactions as (
    select 'transactions' as source_table, file_index, source_row, reject_column as "column", reject_reason as reason,
        customer_id, value
    from stg_transactions
    where reject_reason is not null
),

products as (
    select 'products' as source_table, file_index, source_row, reject_column as "column", reject_reason as reason,
        null::varchar as customer_id, product_id_found as value
    from stg_products
    where reject_reason is not null
),

campaigns as (
    select 'campaigns' as source_table, file_index, source_row, reject_column as "column", reject_reason as reason,
        null::varchar as customer_id, value
    from stg_campaigns
    where reject_reason is not null
),

unioned as (
    select * from customers
    union all
    select * from transactions
    union all
    select * from products
    union all
    select * from campaigns
),

final as (
    select
        unioned.source_table,
        files.source_file,
        unioned.source_row,
        unioned."column",
        unioned.reason,
        unioned.customer_id,
        unioned.value
    from unioned
    left join files on unioned.source_table = files.source_table and unioned.file_index = files.file_index
)

select * from final
