-- target_summaries: the figures of segment_summary the target rules use,
-- per segment (0: all customers). A share whose denominator is empty is
-- NaN (unknown), never 0: the objective rules pass over it and it gets no
-- target. The run sets the metrics it leaves out (no category or channel in
-- the data, a window the data mostly does not cover) to NaN itself.
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
    coalesce(multi_category_share, 'NaN'::double),
    coalesce(digital_share, 'NaN'::double),
    new_customers_12m,
    revenue_12m_new,
    new_12m_days,
    coalesce(revenue_prev_12m, 'NaN'::double)
from segment_summary
order by segment_id
