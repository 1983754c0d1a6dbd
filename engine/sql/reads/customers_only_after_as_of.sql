-- customers_only_after_as_of: the customers known only from the
-- transactions (no customers file, or unknown customers kept) whose every
-- dated row lies after as_of, which src_customers_from_transactions leaves
-- out: the distinct customers of the transactions that are not customers of
-- the run. Go runs it only when some rows lie after as_of or in the future.
-- grain: run; key: none (one row).
with ids as (
    select norm_id(customer_id) as customer_id
    from src_transactions
    where norm_id(customer_id) is not null
    group by norm_id(customer_id)
),

final as (
    select count(*) as customers
    from ids
    anti join stg_customers on ids.customer_id = stg_customers.customer_id
)

select * from final
