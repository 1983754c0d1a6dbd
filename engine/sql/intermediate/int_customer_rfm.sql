-- int_customer_rfm: every customer's figures (customer_features) with its
-- RFM scores and named RFM segment as of params.as_of. A view: the scores
-- are comparisons with int_rfm_thresholds' one row and the segment a
-- lookup in that row's lists of the 125 cells, so customer_segments and
-- rfm_segments read the customers once each and no customer-grain table
-- is kept. A customer without an order has null scores and segment.
-- grain: customer; key: cust_idx.
with features as (
    select * from customer_features
),

bounds as (
    select * from int_rfm_thresholds
),

-- A score is 1 plus the number of the four bounds the value is better
-- than: fewer days, more orders, more revenue.
scored as (
    select
        features.*,
        case when features.orders > 0 then (1
            + (features.recency_days < bounds.recency_1)::integer
            + (features.recency_days < bounds.recency_2)::integer
            + (features.recency_days < bounds.recency_3)::integer
            + (features.recency_days < bounds.recency_4)::integer) end       as recency_score,
        case when features.orders > 0 then (1
            + (features.orders > bounds.frequency_1)::integer
            + (features.orders > bounds.frequency_2)::integer
            + (features.orders > bounds.frequency_3)::integer
            + (features.orders > bounds.frequency_4)::integer) end           as frequency_score,
        case when features.orders > 0 then (1
            + (round(features.net_revenue, 2) > bounds.monetary_1)::integer
            + (round(features.net_revenue, 2) > bounds.monetary_2)::integer
            + (round(features.net_revenue, 2) > bounds.monetary_3)::integer
            + (round(features.net_revenue, 2) > bounds.monetary_4)::integer) end as monetary_score,
        bounds.cell_segments,
        bounds.cell_positions
    from features
    cross join bounds
),

final as (
    select
        scored.*,
        case when scored.orders > 0 then concat(scored.recency_score,
            scored.frequency_score, scored.monetary_score) end                 as rfm_score,
        scored.cell_segments[scored.cell]                                  as rfm_segment,
        scored.cell_positions[scored.cell]                                 as rfm_segment_position
    from (
        select
            *,
            25 * (recency_score - 1) + 5 * (frequency_score - 1) + monetary_score as cell
        from scored
    ) as scored
)

select * from final
