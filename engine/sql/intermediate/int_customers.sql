-- int_customers: the customers of the run: accepted, less those who were
-- not yet customers on as_of (stg_customers.after_as_of).
-- grain: customer; key: customer_id (and cust_idx).
with final as (
    select * from stg_customers where reject_reason is null and not after_as_of
)

select * from final
