-- target_summaries: the figures of segment_summary the target rules use,
-- per segment (0: all customers). The multi-category share is NaN unless
-- $1 (the inputs have a category), the digital share unless $2 (they have
-- a channel).
-- grain: segment; key: segment_id.
select
    segment_id,
    customers,
    revenue_12m,
    revenue_12m_sd,
    orders_12m,
    orders_12m_sd,
    active_12m,
    active_prev_12m,
    coalesce(retention_12m, 'NaN'::double),
    historical_ltv,
    case when $1 then coalesce(multi_category_share, 0) else 'NaN'::double end,
    case when $2 then coalesce(digital_share, 0) else 'NaN'::double end,
    new_customers_12m
from segment_summary
order by segment_id
