-- int_campaign_cac: the accepted campaigns' spend and the customers they
-- acquired per acquisition channel and month, and the acquisition cost per
-- customer (CAC) they give: spend / customers acquired, unknown (null) when
-- they acquired no one. Rounded to 6 decimals, so that the sums over
-- customers are exact whatever the number of threads.
-- grain: acquisition channel × month; key: (acquisition_channel, cohort_month).
with campaigns as (
    select * from stg_campaigns where reject_reason is null and not after_as_of
),

final as (
    select
        channel                                                             as acquisition_channel,
        cohort_month,
        sum(cost)                                                           as campaign_cost,
        sum(customers_acquired)                                             as campaign_customers,
        (sum(cost)::double / nullif(sum(customers_acquired), 0))::decimal(38, 6) as campaign_cac
    from campaigns
    group by channel, cohort_month
)

select * from final
