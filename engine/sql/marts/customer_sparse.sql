-- customer_sparse: the sparse clustering features of each customer: spend
-- shares by category and channel, and one-hot demographics (value 1).
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

final as (
    select cust_idx, dimension, value, x from mix
    union all
    select cust_idx, dimension, value, 1.0 as x from demographics
)

select * from final
