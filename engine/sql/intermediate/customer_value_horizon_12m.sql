-- customer_value_horizon_12m: each customer's predicted value over the
-- economics horizon when it is 12 months: the customer's predicted_clv_12m,
-- built as customer_value_horizon (Go computes that table for any other
-- horizon).
-- grain: customer with a purchase; key: cust_idx.
with final as (
    select cust_idx, predicted_clv_12m as predicted_clv from customer_value
)

select * from final
