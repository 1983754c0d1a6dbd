-- segment_scorecard: each target of the plan of record whose horizon holds
-- as_of, measured to date on the plan's segments (scorecard_figures): the
-- actual figure from the horizon start to as_of, what the plan expects of
-- it by now (its full-year target phased by the year before the horizon,
-- scorecard_phasing), the projected year-end, and a status. Empty when no
-- plan covers as_of. Definitions: docs/plans.md, "The scorecard".
--
-- Counts and money, and retention to date, grow over the horizon to their
-- full-year figure: expected = target x phased_share, compared as a ratio
-- (gap = actual / expected - 1). digital_share and multi_category_share are
-- levels: expected = baseline + (target - baseline) x phased_share (+ the
-- season's level_shift for digital_share), compared in points (gap =
-- actual - expected). Status thresholds: ratio +5% ahead, -3% on_track,
-- -10% at_risk, below behind; points +2.5, -1.5, -5.
-- grain: segment × metric; key: (segment_id, metric).
with dates as (
    select * from scorecard_window
),

plan as (
    select * from scorecard_plan
),

targets as (
    select * from scorecard_targets
),

figures as (
    select * from scorecard_figures
),

phasing as (
    select * from scorecard_phasing
),

measured as (
    select
        targets.segment_id,
        targets.segment_name,
        targets.objective,
        targets.metric,
        targets.unit,
        targets.baseline,
        targets.target,
        coalesce(figures.customers, 0)                                         as customers,
        coalesce(figures.added_customers, 0)                                   as added_customers,
        targets.metric in ('digital_share', 'multi_category_share')            as is_level,
        case targets.metric
            when 'revenue_12m' then coalesce(figures.revenue_to_date, 0)
            when 'orders_12m' then coalesce(figures.orders_to_date, 0)
            when 'active_customers_12m' then coalesce(figures.active_to_date, 0)
            -- unknown when the plan's model could not give the customers
            -- new since its run a segment
            when 'new_customers_12m' then case when plan.unassigned_customers = 0 then coalesce(figures.new_to_date, 0) end
            when 'retention_12m' then figures.retained_to_date / nullif(figures.cohort, 0)
            when 'multi_category_share' then figures.multi_category / nullif(figures.buyers, 0)
            when 'digital_share' then figures.digital_to_date / nullif(figures.gross_to_date, 0)
        end                                                                    as actual_to_date,
        case targets.metric
            when 'revenue_12m' then coalesce(figures.added_revenue_to_date, 0)
            when 'orders_12m' then coalesce(figures.added_orders_to_date, 0)
            when 'active_customers_12m' then coalesce(figures.added_active_to_date, 0)
            when 'new_customers_12m' then case when plan.unassigned_customers = 0 then coalesce(figures.added_new_to_date, 0) end
        end                                                                    as added_to_date,
        -- The value models over the rest of the horizon, in the targets'
        -- units (as the model-based targets convert them), added to what
        -- is done; null when the model is not usable.
        case targets.metric
            when 'revenue_12m' then
                coalesce(figures.revenue_to_date, 0) + coalesce(figures.spend_rest, 0)
                    * case when figures.purchase_net_12m > 0
                        then least(greatest(figures.revenue_12m / figures.purchase_net_12m, 0), 1) else 1 end
            when 'orders_12m' then
                coalesce(figures.orders_to_date, 0) + coalesce(figures.purchases_rest, 0)
                    * case when figures.purchase_days_12m > 0
                        then figures.orders_12m / figures.purchase_days_12m else 1 end
            when 'active_customers_12m' then coalesce(figures.active_to_date, 0) + coalesce(figures.active_rest, 0)
            when 'retention_12m' then
                (figures.retained_to_date + coalesce(figures.retained_rest, 0)) / nullif(figures.cohort, 0)
        end                                                                    as model_year_end,
        case targets.metric
            -- a segment whose spend over the rest is unknown (a customer
            -- the spend model gives no expected spend) takes the run rate
            when 'revenue_12m' then case when figures.segment_id is null or figures.spend_rest is not null
                then plan.value_method end
            when 'orders_12m' then plan.purchase_method
            when 'active_customers_12m' then plan.purchase_method
            when 'retention_12m' then plan.purchase_method
        end                                                                    as model_method,
        phasing.phasing,
        phasing.phased_share,
        phasing.level_shift
    from targets
    cross join plan
    left join figures on targets.segment_id = figures.segment_id
    left join phasing on targets.segment_id = phasing.segment_id and targets.metric = phasing.metric
),

-- A share is held to [0, 1]; a figure undefined (null) stays null: least
-- and greatest skip nulls, which would make 0 or 1 of nothing.
expected_unclamped as (
    select
        measured.*,
        case when measured.is_level
            then measured.baseline + (measured.target - measured.baseline) * measured.phased_share
                + measured.level_shift
            else measured.target * measured.phased_share
        end                                                                    as expected_raw
    from measured
),

expected as (
    select
        expected_unclamped.*,
        case when expected_unclamped.is_level and expected_unclamped.expected_raw is not null
            then least(greatest(expected_unclamped.expected_raw, 0), 1)
            else expected_unclamped.expected_raw
        end                                                                    as expected_to_date
    from expected_unclamped
),

projected_unclamped as (
    select
        expected.*,
        case
            when expected.model_method is not null then expected.model_year_end
            -- a level: the rest of the horizon goes as planned. A stock
            -- (multi_category_share) keeps its gap to the plan; the share
            -- of the year's spend (digital_share) dilutes it by the spend to
            -- come.
            when expected.is_level then expected.target + (expected.actual_to_date - expected.expected_to_date)
                * case when expected.metric = 'digital_share' then expected.phased_share else 1 end
            -- the run rate: the actual figure over the share of the year it
            -- took last year
            else expected.actual_to_date / nullif(expected.phased_share, 0)
        end                                                                    as projected_raw,
        case
            when expected.model_method is not null then expected.model_method
            when expected.is_level then 'rest_as_planned'
            else 'run_rate'
        end                                                                    as projection_method,
        case when expected.is_level then expected.actual_to_date - expected.expected_to_date
            else expected.actual_to_date / nullif(expected.expected_to_date, 0) - 1
        end                                                                    as gap
    from expected
),

projected as (
    select
        projected_unclamped.*,
        case
            when projected_unclamped.projected_raw is null or projected_unclamped.model_method is not null
                then projected_unclamped.projected_raw
            when projected_unclamped.is_level then least(greatest(projected_unclamped.projected_raw, 0), 1)
            when projected_unclamped.metric = 'retention_12m' then least(projected_unclamped.projected_raw, 1)
            else projected_unclamped.projected_raw
        end                                                                    as projected_year_end
    from projected_unclamped
),

final as (
    select
        dates.plan_id,
        projected.segment_id,
        projected.segment_name,
        projected.objective,
        projected.metric,
        projected.unit,
        dates.horizon_start,
        dates.horizon_end,
        dates.as_of,
        dates.days_elapsed,
        dates.horizon_days,
        projected.customers,
        projected.added_customers,
        round(projected.actual_to_date, 6)                                     as actual_to_date,
        round(projected.added_to_date, 6)                                      as added_to_date,
        round(projected.expected_to_date, 6)                                   as expected_to_date,
        projected.phasing,
        round(projected.phased_share, 6)                                       as phased_share,
        projected.baseline                                                     as baseline_full_year,
        projected.target                                                       as target_full_year,
        round(projected.projected_year_end, 6)                                 as projected_year_end,
        projected.projection_method,
        case when projected.is_level then 'points' else 'ratio' end            as comparison,
        round(projected.gap, 6)                                                as gap,
        case
            when projected.actual_to_date is null or projected.expected_to_date is null then null
            when projected.is_level then case
                when projected.gap >= 0.025 then 'ahead'
                when projected.gap >= -0.015 then 'on_track'
                when projected.gap >= -0.05 then 'at_risk'
                else 'behind' end
            when projected.expected_to_date = 0 then case
                when projected.actual_to_date > 0 then 'ahead' else 'on_track' end
            when projected.gap >= 0.05 then 'ahead'
            when projected.gap >= -0.03 then 'on_track'
            when projected.gap >= -0.10 then 'at_risk'
            else 'behind'
        end                                                                    as status
    from projected, dates
)

select * from final order by segment_id, metric
