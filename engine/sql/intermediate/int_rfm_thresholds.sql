-- int_rfm_thresholds: the quintile bounds of the RFM scores and the named
-- segment of every score cell (int_rfm_grid as two lists indexed by
-- 25 * (recency_score - 1) + 5 * (frequency_score - 1) + monetary_score),
-- one row, so that int_customer_rfm scores and names a customer with no
-- join but one with this row. A
-- buyer is a customer with at least one order (customer_features.orders
-- > 0). Each score is a quintile over the buyers, 1 to 5, 5 best, of the
-- engine's own figures: recency_days (fewer is better), orders (more is
-- better) and net revenue rounded to cents as customer_segments publishes
-- it (historical_value, more is better).
-- A buyer's score is 1 + floor(5 * w / n), n the number of buyers and w the
-- number of buyers whose value is worse: equal values get equal scores (the
-- lower quintile) and the scores depend on the values only, never on the
-- order rows arrive in. The score passes k (k = 1..4) when w >= c_k =
-- ceil(k * n / 5), that is when the value is better than the c_k-th worst
-- value: that value is the bound the score must pass, so a score is 1 plus
-- the number of the four bounds the value is better than
-- (int_customer_rfm). The bounds are found on the distinct values and their
-- counts, so this costs three small aggregations, not a sort of the buyers.
-- grain: one row.
with buyers as (
    select
        recency_days,
        orders,
        round(net_revenue, 2) as net_revenue
    from customer_features
    where orders > 0
),

n as (
    select count(*) as buyers from buyers
),

-- Each distinct value with the number of buyers whose value is as bad or
-- worse: recency counts down from the longest, the others up from the
-- lowest.
recency_values as (
    select
        recency_days                                                as value,
        sum(count(*)) over (order by recency_days desc
            rows between unbounded preceding and current row)      as at_or_worse
    from buyers
    group by recency_days
),

frequency_values as (
    select
        orders                                                      as value,
        sum(count(*)) over (order by orders
            rows between unbounded preceding and current row)      as at_or_worse
    from buyers
    group by orders
),

monetary_values as (
    select
        net_revenue                                                 as value,
        sum(count(*)) over (order by net_revenue
            rows between unbounded preceding and current row)      as at_or_worse
    from buyers
    group by net_revenue
),

cells as (
    select
        list(rfm_segment order by recency_score, frequency_score, monetary_score)          as cell_segments,
        list(rfm_segment_position order by recency_score, frequency_score, monetary_score) as cell_positions
    from int_rfm_grid
),

-- c_k = ceil(k * n / 5) for k = 1..4.
ranks as (
    select
        (1 * buyers + 4) // 5 as c1,
        (2 * buyers + 4) // 5 as c2,
        (3 * buyers + 4) // 5 as c3,
        (4 * buyers + 4) // 5 as c4
    from n
),

-- The c_k-th worst value: the worst value with at least c_k buyers at or
-- below it.
final as (
    select
        (select max(value) filter (where at_or_worse >= c1) from recency_values)  as recency_1,
        (select max(value) filter (where at_or_worse >= c2) from recency_values)  as recency_2,
        (select max(value) filter (where at_or_worse >= c3) from recency_values)  as recency_3,
        (select max(value) filter (where at_or_worse >= c4) from recency_values)  as recency_4,
        (select min(value) filter (where at_or_worse >= c1) from frequency_values) as frequency_1,
        (select min(value) filter (where at_or_worse >= c2) from frequency_values) as frequency_2,
        (select min(value) filter (where at_or_worse >= c3) from frequency_values) as frequency_3,
        (select min(value) filter (where at_or_worse >= c4) from frequency_values) as frequency_4,
        (select min(value) filter (where at_or_worse >= c1) from monetary_values)  as monetary_1,
        (select min(value) filter (where at_or_worse >= c2) from monetary_values)  as monetary_2,
        (select min(value) filter (where at_or_worse >= c3) from monetary_values)  as monetary_3,
        (select min(value) filter (where at_or_worse >= c4) from monetary_values)  as monetary_4,
        cells.cell_segments,
        cells.cell_positions
    from ranks, cells
)

select * from final
