-- customer_mix: each customer's share of gross (positive) spend by product
-- category and by channel, over all history up to as_of.
-- grain: customer × dimension × value; key: (cust_idx, dimension, value).
with lines as (
    select * from int_lines where amount > 0
),

by_category as (
    select cust_idx, 'category' as dimension, category as value, sum(amount) as spend
    from lines
    where category is not null
    group by cust_idx, category
),

by_channel as (
    select cust_idx, 'channel' as dimension, channel as value, sum(amount) as spend
    from lines
    where channel is not null
    group by cust_idx, channel
),

unioned as (
    select * from by_category
    union all
    select * from by_channel
),

final as (
    select
        cust_idx,
        dimension,
        value,
        spend / sum(spend) over (partition by cust_idx, dimension) as share
    from unioned
)

select * from final
