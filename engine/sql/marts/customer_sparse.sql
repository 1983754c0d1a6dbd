-- customer_sparse: the sparse clustering features of each customer: spend
-- shares by category and channel, one-hot demographics and customer
-- attributes (value 1).
-- grain: customer × dimension × value; key: (cust_idx, dimension, value).
with mix as (
    select cust_idx, dimension, value, share as x from customer_mix
),

demographics as (
    unpivot (
        select cust_idx, gender, region, income_band, acquisition_channel
        from customer_features
    )
    on gender, region, income_band, acquisition_channel
    into name dimension value value
),

attributes as (
    select customers.cust_idx, attrs.attribute as dimension, attrs.value, 1.0 as x
    from src_customer_attributes as attrs
    join int_customers as customers
        on attrs.file_index = customers.file_index and attrs.source_row = customers.source_row
    where attrs.value is not null
),

final as (
    select cust_idx, dimension, value, x from mix
    union all
    select cust_idx, dimension, value, 1.0 as x from demographics
    union all
    select cust_idx, dimension, value, x from attributes
)

select * from final
