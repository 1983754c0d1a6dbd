-- scorecard_phasing: per target of the plan of record (segment and
-- metric), the share of the year before the horizon's figure reached by
-- the same point of it as as_of is of the horizon (phased_share), which
-- phases the plan's full-year figures to date (segment_scorecard), from the
-- year's figures of scorecard_figures:
--
-- revenue, orders (and multi_category_share, whose uplift comes with
-- them), gross spend (digital_share): the calendar, the 'base' of the
-- customers established by that year's start, so that the base's growth
-- over the year is not read as its season; digital_share also moves by
-- level_shift, how far that base's digital share to that point stood from
-- its share in the whole year.
-- new customers: the 'base' of every customer, whose first orders came
-- over that year.
-- customers with an order and retention count customers once however
-- often they buy: by spring most frequent buyers have bought and few rare
-- ones, so their path is the 'segment''s own, of its established customers
-- (retention: its cohort of that year), when at least 30 customers are
-- behind the year's figure, else the base's.
-- A metric is phased by days ('linear': days_elapsed / horizon_days) when
-- the data does not reach back to that year's first day (for retention,
-- the year before it), or the year's figure is not positive.
-- grain: segment × metric; key: (segment_id, metric).
with dates as (
    select * from scorecard_window
),

plan as (
    select * from scorecard_plan
),

targets as (
    select segment_id, metric from scorecard_targets
),

figures as (
    select * from scorecard_figures
),

base as (
    select * from scorecard_figures where segment_id = 0
),

paths as (
    select
        targets.segment_id,
        targets.metric,
        case targets.metric
            when 'active_customers_12m' then own.prior_active_to_date
            when 'retention_12m' then own.prior_retained_to_date
        end::double                                                           as own_to_date,
        case targets.metric
            when 'active_customers_12m' then own.prior_active
            when 'retention_12m' then own.prior_retained
        end::double                                                           as own_year,
        case targets.metric
            when 'revenue_12m' then base.prior_revenue_to_date
            when 'orders_12m' then base.prior_orders_to_date
            when 'multi_category_share' then base.prior_orders_to_date
            when 'digital_share' then base.prior_gross_to_date
            when 'new_customers_12m' then base.new_prior_to_date
            when 'active_customers_12m' then base.prior_active_to_date
            when 'retention_12m' then base.prior_retained_to_date
        end::double                                                           as base_to_date,
        case targets.metric
            when 'revenue_12m' then base.prior_revenue
            when 'orders_12m' then base.prior_orders
            when 'multi_category_share' then base.prior_orders
            when 'digital_share' then base.prior_gross
            when 'new_customers_12m' then base.new_prior
            when 'active_customers_12m' then base.prior_active
            when 'retention_12m' then base.prior_retained
        end::double                                                           as base_year,
        case when targets.metric = 'digital_share' then coalesce(
            base.prior_digital_to_date / nullif(base.prior_gross_to_date, 0)
                - base.prior_digital / nullif(base.prior_gross, 0), 0)
            else 0 end                                                        as base_level_shift,
        coalesce(plan.data_start <= case when targets.metric = 'retention_12m'
            then dates.cohort_start else dates.prior_start end::date, false)  as data_reaches,
        dates.days_elapsed,
        dates.horizon_days
    from targets
    cross join dates
    cross join plan
    left join base on true
    left join figures as own on targets.segment_id = own.segment_id
),

chosen as (
    select
        paths.*,
        case
            when not paths.data_reaches then 'linear'
            when paths.own_year >= 30 then 'segment'
            when paths.base_year > 0 then 'base'
            else 'linear'
        end                                                                   as phasing
    from paths
),

final as (
    select
        chosen.segment_id,
        chosen.metric,
        chosen.phasing,
        case chosen.phasing
            when 'segment' then least(greatest(chosen.own_to_date / chosen.own_year, 0), 1)
            when 'base' then least(greatest(chosen.base_to_date / chosen.base_year, 0), 1)
            else chosen.days_elapsed / chosen.horizon_days
        end                                                                   as phased_share,
        case when chosen.phasing = 'base' then chosen.base_level_shift else 0 end as level_shift
    from chosen
)

select * from final
