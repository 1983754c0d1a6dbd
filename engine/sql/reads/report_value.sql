-- report_value: the distributions of customer value per segment for a run's
-- report, from run_customer_segments, the run's published
-- customer_segments: the 5th, 25th, 50th, 75th and 95th percentiles and the
-- mean of historical value, predicted 12-month value and P(alive), with the
-- totals. The customers stay in DuckDB: Go reads one row per segment.
-- grain: segment; key: segment_id.
with customers as (
    select
        segment_id,
        historical_value,
        predicted_clv_12m,
        p_alive,
        -- Sums and means over exact decimals: a sum of doubles depends on
        -- the order DuckDB's threads add them in, and the report must not.
        cast(predicted_clv_12m as decimal(38, 6))   as predicted_exact,
        cast(p_alive as decimal(38, 9))             as p_alive_exact
    from run_customer_segments
),

per_segment as (
    select
        cast(segment_id as integer)                                                 as segment_id,
        quantile_cont(cast(historical_value as double), [0.05, 0.25, 0.5, 0.75, 0.95])              as historical_q,
        cast(avg(historical_value) as double)                                       as historical_mean,
        cast(coalesce(sum(historical_value), 0) as double)                          as historical_total,
        quantile_cont(predicted_clv_12m, [0.05, 0.25, 0.5, 0.75, 0.95])             as predicted_q,
        cast(avg(predicted_exact) as double)                                        as predicted_mean,
        cast(coalesce(sum(predicted_exact), 0) as double)                           as predicted_total,
        count(predicted_clv_12m)                                                    as predicted_customers,
        quantile_cont(p_alive, [0.05, 0.25, 0.5, 0.75, 0.95])                       as p_alive_q,
        cast(avg(p_alive_exact) as double)                                          as p_alive_mean
    from customers
    group by segment_id
),

final as (
    select
        segment_id,
        historical_q[1] as historical_p05, historical_q[2] as historical_p25, historical_q[3] as historical_p50,
        historical_q[4] as historical_p75, historical_q[5] as historical_p95, historical_mean, historical_total,
        predicted_q[1] as predicted_p05, predicted_q[2] as predicted_p25, predicted_q[3] as predicted_p50,
        predicted_q[4] as predicted_p75, predicted_q[5] as predicted_p95, predicted_mean, predicted_total,
        predicted_customers,
        p_alive_q[1] as p_alive_p05, p_alive_q[2] as p_alive_p25, p_alive_q[3] as p_alive_p50,
        p_alive_q[4] as p_alive_p75, p_alive_q[5] as p_alive_p95, p_alive_mean
    from per_segment
    order by segment_id
)

select * from final
