-- int_rfm_grid: the named RFM segment of each of the 125 score cells. The
-- segment is the first rule whose three score ranges (bounds included)
-- hold the cell's scores, in the rules' order; 'Others' (position 11) when
-- none does. The rules are the R rfm package's (rsquaredacademy/rfm,
-- rfm_segment's documented example, version 0.3.0): see
-- docs/definitions.md.
-- grain: score cell; key: recency_score, frequency_score, monetary_score.
with rules (position, rfm_segment, r_low, r_high, f_low, f_high, m_low, m_high) as (
    values
        (1, 'Champions', 5, 5, 5, 5, 5, 5),
        (2, 'Potential Loyalist', 3, 5, 3, 5, 2, 5),
        (3, 'Loyal Customers', 2, 4, 2, 4, 2, 4),
        (4, 'Promising', 3, 4, 1, 3, 3, 5),
        (5, 'New Customers', 4, 5, 1, 3, 1, 5),
        (6, 'Can''t Lose Them', 1, 2, 3, 4, 4, 5),
        (7, 'At Risk', 1, 2, 2, 5, 4, 5),
        (8, 'Need Attention', 1, 3, 3, 5, 3, 5),
        (9, 'About To Sleep', 2, 3, 1, 3, 1, 4),
        (10, 'Lost', 1, 1, 1, 5, 1, 5)
),

scores as (
    select range::integer as score from range(1, 6)
),

cells as (
    select
        r.score as recency_score,
        f.score as frequency_score,
        m.score as monetary_score
    from scores as r, scores as f, scores as m
),

matched as (
    select
        cells.recency_score,
        cells.frequency_score,
        cells.monetary_score,
        min(rules.position) as position
    from cells
    left join rules
        on cells.recency_score between rules.r_low and rules.r_high
        and cells.frequency_score between rules.f_low and rules.f_high
        and cells.monetary_score between rules.m_low and rules.m_high
    group by all
),

final as (
    select
        matched.recency_score,
        matched.frequency_score,
        matched.monetary_score,
        coalesce(rules.rfm_segment, 'Others')     as rfm_segment,
        coalesce(rules.position, 11)::integer     as rfm_segment_position
    from matched
    left join rules on matched.position = rules.position
)

select * from final
