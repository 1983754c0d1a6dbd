-- scorecard_figures: per segment of the plan of record, what its customers
-- did from the horizon start to as_of and in the year before the horizon,
-- and what the value models expect of them over the rest of the horizon,
-- added up by Go (scorecardFigures) from reads/scorecard_customers and the
-- run's models; segment_id 0 is every customer of the run, for the
-- phasing. Money is net of returns. The model sums are null when the model
-- they need is not usable.
-- grain: segment; key: segment_id.
create or replace table scorecard_figures (
    segment_id              integer,
    -- the customers of the plan's run still in this run, plus those new
    -- since, given the segment by the plan's model (added_customers)
    customers               bigint,
    added_customers         bigint,
    revenue_to_date         double,
    orders_to_date          bigint,
    active_to_date          bigint,
    new_to_date             bigint,
    -- active in the 12 months before the horizon, and of those, active
    -- since its start
    cohort                  bigint,
    retained_to_date        bigint,
    -- the part of the customers added since the plan's run
    added_revenue_to_date   double,
    added_orders_to_date    bigint,
    added_active_to_date    bigint,
    added_new_to_date       bigint,
    gross_to_date           double,
    digital_to_date         double,
    -- with an order, all history; with 2 or more categories
    buyers                  bigint,
    multi_category          bigint,
    -- the year before the horizon, to the same point (_to_date) and in
    -- all, of the customers established by its start (a first order
    -- before it): their revenue, gross and digital spend, orders, and
    -- those of them with an order; of its cohort (the customers active the
    -- year before it), those with an order; and of every customer, those
    -- whose first order fell in it
    prior_revenue_to_date   double,
    prior_revenue           double,
    prior_gross_to_date     double,
    prior_gross             double,
    prior_digital_to_date   double,
    prior_digital           double,
    prior_orders_to_date    bigint,
    prior_orders            bigint,
    prior_active_to_date    bigint,
    prior_active            bigint,
    prior_retained_to_date  bigint,
    prior_retained          bigint,
    new_prior_to_date       bigint,
    new_prior               bigint,
    -- the conversions from the models' units to the targets' over the 12
    -- months up to as_of: orders and net revenue, days with a purchase
    -- order and the net of those orders
    orders_12m              bigint,
    revenue_12m             double,
    purchase_days_12m       bigint,
    purchase_net_12m        double,
    -- the value models over the rest of the horizon (as_of, horizon_end]:
    -- expected purchase days, their spend, the customers not yet active to
    -- date who buy, the same among the cohort
    purchases_rest          double,
    spend_rest              double,
    active_rest             double,
    retained_rest           double
)
