-- customer_mix: each customer's share of gross (positive) spend by product
-- category and by channel, over all history up to as_of.
-- grain: customer × dimension × value; key: (cust_idx, dimension, value).
with lines as not materialized (
    -- Read by both roll-ups below: not copied, each scans int_lines.
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

-- Each customer's spend per dimension, from the roll-ups' own rows: a join
-- on the customer rather than a window that sorts every row.
totals as (
    select cust_idx, dimension, sum(spend) as total
    from unioned
    group by cust_idx, dimension
),

final as (
    select
        unioned.cust_idx,
        unioned.dimension,
        unioned.value,
        unioned.spend / totals.total as share
    from unioned
    join totals on unioned.cust_idx = totals.cust_idx and unioned.dimension = totals.dimension
)

select * from final
