-- rejects: every input row that was not used, with why.
-- grain: rejected input row; key: (source_table, source_file, source_row).
with customers as (
    select 'customers' as source_table, source_file, source_row, reject_column as "column", reject_reason as reason,
        customer_id as customer_id
    from stg_customers
    where reject_reason is not null
),

transactions as (
    select 'transactions' as source_table, source_file, source_row, reject_column as "column", reject_reason as reason,
        customer_id as customer_id
    from stg_transactions
    where reject_reason is not null
),

final as (
    select * from customers
    union all
    select * from transactions
)

select * from final
