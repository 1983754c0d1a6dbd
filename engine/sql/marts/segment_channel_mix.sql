-- segment_channel_mix: share of gross spend in the last 12 months by channel,
-- per segment (segment_id 0 = all customers).
-- grain: segment × channel; key: (segment_id, channel).
with params as (
    select * from params
),

lines_12m as (
    select lines.cust_idx, coalesce(lines.channel, 'unknown') as channel, lines.amount
    from int_lines as lines, params
    where lines.ts >= params.w12_start and lines.amount > 0
),

segmented as (
    select cust_idx, segment_id from customer_segment_map
),

per_channel as (
    select segmented.segment_id, lines_12m.channel, sum(lines_12m.amount) as spend
    from lines_12m
    join segmented on lines_12m.cust_idx = segmented.cust_idx
    group by grouping sets ((segmented.segment_id, lines_12m.channel), (lines_12m.channel))
),

final as (
    select
        coalesce(segment_id, 0)                                                  as segment_id,
        channel,
        spend / sum(spend) over (partition by coalesce(segment_id, 0))          as share
    from per_channel
)

select * from final order by segment_id, channel
