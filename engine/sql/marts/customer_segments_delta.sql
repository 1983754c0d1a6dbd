-- customer_segments_delta: what a CRM upserts, keyed by customer_id, to go
-- from the previous run's customer_segments (the output root's latest) to
-- this run's. One row per customer who is new to this run, whose segment or
-- a compared field changed, or who is gone (exit). A row carries this run's
-- exported fields (null for an exit), the previous segment and the names
-- of the fields that changed, comma-separated in column order.
-- Compared: exactly, the segment, counts, dates, the next best category,
-- the RFM scores and segment, and money as published (cents); probabilities rounded to 0.01, expected
-- purchases to 0.1, expected spend and CLV to whole units (so that the
-- nightly refit of the value models does not send every customer). Not
-- compared, because they move every night for nearly everyone: distance,
-- recency_days, tenure_days.
-- grain: customer; key: customer_id.
-- Not sorted here: publishing sorts it by customer_id, once.
with cur as (
    select * from customer_segments
),

prev as (
    select * from previous_customer_segments
),

joined as (
    select
        coalesce(cur.customer_id, prev.customer_id) as customer_id,
        case
            when prev.customer_id is null then 'new'
            when cur.customer_id is null then 'exit'
            else 'changed'
        end as change,
        prev.segment_id as previous_segment_id,
        concat_ws(',',
            case when cur.segment_id is distinct from prev.segment_id then 'segment_id' end,
            case when cur.segment_name is distinct from prev.segment_name then 'segment_name' end,
            case when cur.frequency is distinct from prev.frequency then 'frequency' end,
            case when cur.monetary is distinct from prev.monetary then 'monetary' end,
            case when cur.orders_12m is distinct from prev.orders_12m then 'orders_12m' end,
            case when cur.revenue_12m is distinct from prev.revenue_12m then 'revenue_12m' end,
            case when cur.historical_value is distinct from prev.historical_value then 'historical_value' end,
            case when cur.first_order_date is distinct from prev.first_order_date then 'first_order_date' end,
            case when cur.last_order_date is distinct from prev.last_order_date then 'last_order_date' end,
            case when cur.categories is distinct from prev.categories then 'categories' end,
            case when cur.next_best_category is distinct from prev.next_best_category then 'next_best_category' end,
            case when round(cur.expected_purchases_12m, 1) is distinct from round(prev.expected_purchases_12m, 1)
                then 'expected_purchases_12m' end,
            case when round(cur.p_alive, 2) is distinct from round(prev.p_alive, 2) then 'p_alive' end,
            case when round(cur.p_purchase_12m, 2) is distinct from round(prev.p_purchase_12m, 2) then 'p_purchase_12m' end,
            case when round(cur.expected_spend, 0) is distinct from round(prev.expected_spend, 0) then 'expected_spend' end,
            case when round(cur.predicted_clv_12m, 0) is distinct from round(prev.predicted_clv_12m, 0)
                then 'predicted_clv_12m' end,
            case when cur.recency_score is distinct from prev.recency_score then 'recency_score' end,
            case when cur.frequency_score is distinct from prev.frequency_score then 'frequency_score' end,
            case when cur.monetary_score is distinct from prev.monetary_score then 'monetary_score' end,
            case when cur.rfm_score is distinct from prev.rfm_score then 'rfm_score' end,
            case when cur.rfm_segment is distinct from prev.rfm_segment then 'rfm_segment' end
        ) as changed_list,
        cur.segment_id,
        cur.segment_name,
        cur.distance,
        cur.recency_days,
        cur.frequency,
        cur.monetary,
        cur.orders_12m,
        cur.revenue_12m,
        cur.historical_value,
        cur.first_order_date,
        cur.last_order_date,
        cur.tenure_days,
        cur.categories,
        cur.next_best_category,
        cur.expected_purchases_12m,
        cur.p_alive,
        cur.p_purchase_12m,
        cur.expected_spend,
        cur.predicted_clv_12m,
        cur.recency_score,
        cur.frequency_score,
        cur.monetary_score,
        cur.rfm_score,
        cur.rfm_segment
    from cur
    full outer join prev on cur.customer_id = prev.customer_id
),

final as (
    select
        customer_id,
        change,
        previous_segment_id,
        case when change = 'changed' then changed_list end as changed_fields,
        segment_id,
        segment_name,
        distance,
        recency_days,
        frequency,
        monetary,
        orders_12m,
        revenue_12m,
        historical_value,
        first_order_date,
        last_order_date,
        tenure_days,
        categories,
        next_best_category,
        expected_purchases_12m,
        p_alive,
        p_purchase_12m,
        expected_spend,
        predicted_clv_12m,
        recency_score,
        frequency_score,
        monetary_score,
        rfm_score,
        rfm_segment
    from joined
    where change <> 'changed' or changed_list <> ''
)

select * from final
