-- int_acquisition_customers: each customer of the run with what the
-- customer economics group and sum: segment, acquisition channel ('unknown'
-- without one), acquisition month, acquisition cost and historical value.
-- grain: customer; key: cust_idx.
--
-- A customer is acquired on the day first seen, the earlier of signup and
-- first transaction (the day tenure_days runs from); the cohort is that
-- calendar month, unknown for a customer never seen. The acquisition cost
-- is the CAC of the campaigns of the customer's channel and month when there
-- are any (cac_source 'campaigns', null when they acquired no one), and
-- otherwise the customer's own acquisition_cost (cac_source 'customers').
with params as (
    select * from params
),

acquired as (
    select
        features.cust_idx,
        assigned.segment_id,
        coalesce(features.acquisition_channel, 'unknown')                    as acquisition_channel,
        date_trunc('month', params.as_of - features.tenure_days::integer)::date as cohort_month,
        features.first_order_date,
        features.net_revenue,
        features.acquisition_cost
    from customer_features as features
    join customer_segment_map as assigned on features.cust_idx = assigned.cust_idx
    cross join params
),

final as (
    select
        acquired.cust_idx,
        acquired.segment_id,
        acquired.acquisition_channel,
        acquired.cohort_month,
        acquired.first_order_date,
        acquired.net_revenue,
        case when campaigns.cohort_month is not null then campaigns.campaign_cac
            else acquired.acquisition_cost::decimal(38, 6) end               as cac,
        case when campaigns.cohort_month is not null then 'campaigns'
            when acquired.acquisition_cost is not null then 'customers' end  as cac_source
    from acquired
    left join int_campaign_cac as campaigns
        on acquired.acquisition_channel = campaigns.acquisition_channel
        and acquired.cohort_month = campaigns.cohort_month
)

select * from final
