-- data_extent: where the data lies for the metric windows and which
-- optional columns it fills: the dates of the first and the last accepted
-- order (reads/window_coverage), and whether some accepted purchase line
-- has a category, and a channel. A column every accepted line leaves empty
-- is as good as absent: its metrics would read as 0 ("no cross-sell", "no
-- digital spend") rather than unknown. customer_mix holds a row per
-- customer and category or channel bought, so this reads no line.
-- grain: run; key: none (one row).
with span as (
    select min(first_order_date) as first_order_date, max(last_order_date) as last_order_date
    from customer_features
),

filled as (
    select
        coalesce(bool_or(dimension = 'category'), false) as has_category,
        coalesce(bool_or(dimension = 'channel'), false)  as has_channel
    from customer_mix
)

select span.first_order_date, span.last_order_date, filled.has_category, filled.has_channel
from span, filled
