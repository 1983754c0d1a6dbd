-- src_customers when unknown customers are kept: the customers file, plus
-- the customers of the transactions it does not have (without demographics).
-- grain: input customer row; key: (source_file, source_row).
with from_file as (
    select * from src_customers_file
),

known as (
    select distinct norm_id(customer_id) as customer_id from from_file
),

from_transactions as (
    select tx.*
    from src_customers_tx as tx
    left join known on tx.customer_id = known.customer_id
    where known.customer_id is null
),

final as (
    select
        source_file, file_index, source_row, customer_id, signup_date, birth_date,
        gender, region, income_band, acquisition_channel, acquisition_cost
    from from_file
    union all by name
    select * from from_transactions
)

select * from final
