-- acquisition_value: customer economics: what customers cost to acquire
-- and what they are worth, per acquisition channel and monthly cohort
-- (grouping 'channel_cohort'), per channel ('channel'), per segment
-- ('segment') and for all customers ('all'). A row of a channel and month
-- that only the campaigns have (no customer acquired then) has 0 customers
-- and the campaigns' figures. Money per customer is over all the row's
-- customers (those without a purchase add 0), the CAC over those whose
-- acquisition cost is known.
-- grain: grouping × segment × acquisition channel × cohort month;
-- key: (grouping, segment_id, acquisition_channel, cohort_month).
-- $1 = economics.horizon_months; $2 = why the value models' predictions
-- are not used (null when they are).
--
-- Payback: for k = 0, 1, ... months since the acquisition month, the
-- customers with a known acquisition cost acquired at least k months
-- before as_of's month have a cumulative net revenue (margin) through
-- month k; payback_months (margin_payback_months) is the first k at which
-- it covers their acquisition cost, null when none does yet.
with params as (
    select * from params
),

customers as (
    select * from int_acquisition_customers
),

-- Each customer's predicted value over the horizon: null without a
-- purchase, and for all when the value models were not used.
predicted as (
    select * from customer_value_horizon
),

months as (
    select * from int_acquisition_months
),

names as (
    select segment_id, segment_name from segment_names
),

-- The sums per segment, channel and cohort, apart for the customers whose
-- acquisition cost is known (has_cac): every row adds them up, and payback
-- reads those with a known cost. Materialised: the customers are read once.
cells as materialized (
    select
        customers.segment_id,
        customers.acquisition_channel,
        customers.cohort_month,
        customers.cac is not null                                        as has_cac,
        count(*)                                                         as customers,
        count(customers.cac)                                             as cac_customers,
        count(*) filter (where customers.cac_source = 'campaigns')       as campaign_cac_customers,
        count(*) filter (where customers.cac_source = 'customers')       as own_cac_customers,
        sum(customers.cac)                                               as acquisition_spend,
        sum(customers.net_revenue)                                       as historical_value,
        sum(predicted.predicted_clv::decimal(38, 2))                     as predicted_value
    from customers
    left join predicted on customers.cust_idx = predicted.cust_idx
    group by customers.segment_id, customers.acquisition_channel, customers.cohort_month, has_cac
),

cell_margins as (
    select
        segment_id,
        acquisition_channel,
        cohort_month,
        has_cac,
        sum(margin)                                            as gross_margin,
        sum(costed_revenue)                                    as costed_revenue
    from months
    group by segment_id, acquisition_channel, cohort_month, has_cac
),

-- Whether some accepted line has a cost: the margins are known (0 for the
-- customers without a purchase) or unknown throughout.
costs as (
    select count(costed_revenue) > 0 as has_cost from months
),

-- grouping(segment_id, acquisition_channel, cohort_month) sets 4 when a row
-- does not group by segment, 2 by channel and 1 by cohort: 4 is a channel's
-- month, 5 a channel, 3 a segment, 7 all customers.
rolled as (
    select
        case grouping(cells.segment_id, cells.acquisition_channel, cells.cohort_month)
            when 4 then 'channel_cohort' when 5 then 'channel' when 3 then 'segment' else 'all'
        end                                                    as "grouping",
        cells.segment_id,
        cells.acquisition_channel,
        cells.cohort_month,
        sum(cells.customers)                                   as customers,
        sum(cells.cac_customers)                               as cac_customers,
        sum(cells.campaign_cac_customers)                      as campaign_cac_customers,
        sum(cells.own_cac_customers)                           as own_cac_customers,
        sum(cells.acquisition_spend)                           as acquisition_spend,
        sum(cells.historical_value)                            as historical_value,
        sum(cells.predicted_value)                             as predicted_value,
        sum(cell_margins.gross_margin)                         as gross_margin,
        sum(cell_margins.costed_revenue)                       as costed_revenue
    from cells
    left join cell_margins
        on cells.segment_id = cell_margins.segment_id
        and cells.acquisition_channel = cell_margins.acquisition_channel
        and cells.cohort_month is not distinct from cell_margins.cohort_month
        and cells.has_cac = cell_margins.has_cac
    group by grouping sets (
        (cells.acquisition_channel, cells.cohort_month),
        (cells.acquisition_channel),
        (cells.segment_id),
        ()
    )
),

campaigns as (
    select
        case grouping(acquisition_channel, cohort_month)
            when 0 then 'channel_cohort' when 1 then 'channel' else 'all'
        end                                                    as "grouping",
        acquisition_channel,
        cohort_month,
        sum(campaign_cost)                                     as campaign_cost,
        sum(campaign_customers)                                as campaign_customers
    from int_campaign_cac
    group by grouping sets ((acquisition_channel, cohort_month), (acquisition_channel), ())
),

-- Payback: each segment, channel and cohort of the customers with a known
-- acquisition cost, for every month from the cohort's to as_of's.
payback_cells as (
    select
        cells.segment_id,
        cells.acquisition_channel,
        cells.cohort_month,
        cells.acquisition_spend                                as spend,
        date_diff('month', cells.cohort_month, date_trunc('month', params.as_of)::date) as age_months
    from cells, params
    where cells.has_cac and cells.cohort_month is not null
),

payback_grid as (
    select
        segment_id,
        acquisition_channel,
        cohort_month,
        spend,
        unnest(generate_series(0, age_months))                 as months_since
    from payback_cells
),

cumulative as (
    select
        payback_grid.*,
        sum(coalesce(months.revenue, 0)) over cell_months      as cumulative_revenue,
        sum(coalesce(months.margin, 0)) over cell_months       as cumulative_margin
    from payback_grid
    left join months
        on months.has_cac
        and payback_grid.segment_id = months.segment_id
        and payback_grid.acquisition_channel = months.acquisition_channel
        and payback_grid.cohort_month = months.cohort_month
        and payback_grid.months_since = months.months_since
    window cell_months as (
        partition by payback_grid.segment_id, payback_grid.acquisition_channel, payback_grid.cohort_month
        order by payback_grid.months_since
    )
),

pooled as (
    select
        case grouping(segment_id, acquisition_channel, cohort_month)
            when 4 then 'channel_cohort' when 5 then 'channel' when 3 then 'segment' else 'all'
        end                                                    as "grouping",
        segment_id,
        acquisition_channel,
        cohort_month,
        months_since,
        sum(cumulative_revenue)                                as cumulative_revenue,
        sum(cumulative_margin)                                 as cumulative_margin,
        sum(spend)                                             as spend
    from cumulative
    group by grouping sets (
        (acquisition_channel, cohort_month, months_since),
        (acquisition_channel, months_since),
        (segment_id, months_since),
        (months_since)
    )
),

payback as (
    select
        "grouping",
        segment_id,
        acquisition_channel,
        cohort_month,
        min(months_since) filter (where cumulative_revenue >= spend) as payback_months,
        min(months_since) filter (where cumulative_margin >= spend)  as margin_payback_months
    from pooled
    group by "grouping", segment_id, acquisition_channel, cohort_month
),

-- The rows: the customers' (a channel's month without customers only in
-- the campaigns), with the campaigns' figures where the row is of a channel
-- or of all customers.
joined as (
    select
        coalesce(rolled."grouping", campaigns."grouping")      as "grouping",
        coalesce(rolled.segment_id, 0)                         as segment_id,
        coalesce(rolled.acquisition_channel, campaigns.acquisition_channel, '') as acquisition_channel,
        coalesce(rolled.cohort_month, campaigns.cohort_month)  as cohort_month,
        coalesce(rolled.customers, 0)::bigint                  as customers,
        coalesce(rolled.cac_customers, 0)::bigint              as cac_customers,
        rolled.campaign_cac_customers,
        rolled.own_cac_customers,
        rolled.acquisition_spend,
        rolled.historical_value,
        rolled.predicted_value,
        rolled.gross_margin,
        rolled.costed_revenue,
        campaigns.campaign_cost,
        campaigns.campaign_customers::bigint                   as campaign_customers
    from rolled
    full join campaigns
        on rolled."grouping" = campaigns."grouping"
        and rolled.acquisition_channel is not distinct from campaigns.acquisition_channel
        and rolled.cohort_month is not distinct from campaigns.cohort_month
    -- Customers never seen have no cohort: they count in their channel,
    -- segment and all customers, but in no channel's month.
    where not (coalesce(rolled."grouping", '') = 'channel_cohort' and rolled.cohort_month is null)
),

figures as (
    select
        joined."grouping",
        joined.segment_id,
        joined.acquisition_channel,
        joined.cohort_month,
        joined.customers,
        joined.cac_customers,
        coalesce(joined.acquisition_spend::double / nullif(joined.cac_customers, 0),
            joined.campaign_cost::double / nullif(joined.campaign_customers, 0)) as cac,
        case
            when joined.campaign_cac_customers > 0 and joined.own_cac_customers > 0 then 'campaigns and customers'
            when joined.campaign_cac_customers > 0 then 'campaigns'
            when joined.own_cac_customers > 0 then 'customers'
            when joined.customers = 0 and joined.campaign_cost is not null then 'campaigns'
            else ''
        end                                                    as cac_source,
        joined.acquisition_spend::double                       as acquisition_spend,
        joined.campaign_cost::double                           as campaign_cost,
        joined.campaign_customers,
        joined.historical_value::double / nullif(joined.customers, 0) as historical_ltv,
        case when $2::varchar is null
            then coalesce(joined.predicted_value, 0)::double / nullif(joined.customers, 0) end as predicted_clv,
        case when costs.has_cost and joined.customers > 0
            then coalesce(joined.gross_margin, 0)::double end  as gross_margin,
        case when joined.costed_revenue > 0
            then joined.gross_margin::double / joined.costed_revenue::double end as gross_margin_rate
    from joined, costs
),

-- The margin-based CLV is the predicted value at the row's gross margin
-- rate (0 where nothing is predicted: no customer bought); profit is the
-- gross margin to date plus that over the horizon, less the acquisition
-- cost of the customers whose cost is known.
margins as (
    select
        figures.*,
        case when figures.gross_margin is null then null
            when figures.predicted_clv = 0 then 0
            else figures.predicted_clv * figures.gross_margin_rate end as margin_clv
    from figures
),

economics as (
    select
        margins.*,
        payback.payback_months,
        case when margins.gross_margin is not null then payback.margin_payback_months end as margin_payback_months,
        margins.gross_margin + margins.margin_clv * margins.customers
            - coalesce(margins.acquisition_spend, 0)           as profit
    from margins
    left join payback
        on margins."grouping" = payback."grouping"
        and margins.segment_id = coalesce(payback.segment_id, 0)
        and margins.acquisition_channel = coalesce(payback.acquisition_channel, '')
        and margins.cohort_month is not distinct from payback.cohort_month
),

-- The rows of a grouping ranked by profit, 1 the highest; all customers,
-- rows without customers and rows without a profit are not ranked.
rankable as (
    select
        economics.*,
        case when economics."grouping" <> 'all' and economics.customers > 0 then economics.profit end as ranked_profit
    from economics
),

ranked as (
    select
        rankable.* exclude (ranked_profit),
        case when rankable.ranked_profit is not null then rank() over (
            partition by rankable.ranked_profit is null, rankable."grouping" order by rankable.ranked_profit desc
        ) end                                                  as profit_rank
    from rankable
),

final as (
    select
        ranked."grouping",
        ranked.segment_id,
        names.segment_name,
        ranked.acquisition_channel,
        ranked.cohort_month,
        ranked.customers,
        ranked.cac_customers,
        ranked.cac,
        ranked.cac_source,
        ranked.acquisition_spend,
        ranked.campaign_cost,
        ranked.campaign_customers,
        ranked.historical_ltv,
        $1::integer                                            as horizon_months,
        ranked.predicted_clv,
        ranked.historical_ltv + ranked.predicted_clv           as horizon_ltv,
        ranked.historical_ltv / nullif(ranked.cac, 0)          as ltv_to_cac,
        (ranked.historical_ltv + ranked.predicted_clv) / nullif(ranked.cac, 0) as horizon_ltv_to_cac,
        ranked.payback_months,
        ranked.margin_payback_months,
        ranked.gross_margin,
        ranked.gross_margin_rate,
        ranked.margin_clv,
        ranked.profit,
        ranked.profit_rank,
        $2::varchar                                            as prediction_error
    from ranked
    join names on ranked.segment_id = names.segment_id
)

select * from final
