-- scorecard_plan: the plan of record the run's scorecard measures against
-- (the active plan whose horizon holds as_of, store.PlanCovering), one row
-- filled by Go (scorecard); none when no plan covers as_of. purchase_method
-- and value_method name the run's customer-value models the projected
-- year-end comes from (as segment_targets' method does), null when the
-- model is not usable (not converged, degenerate, or the data cannot carry
-- it). data_start is the date of the data's first order: the phasing by
-- the year before the horizon needs the data to reach back to it.
-- unassigned_customers are the customers new since the plan's run that its
-- model could not give a segment (planScope): new_customers_12m is then
-- unknown per segment.
-- grain: run; key: none (one row or none).
create or replace table scorecard_plan (
    plan_id          integer,
    run_id           varchar,
    horizon_start    date,
    horizon_end      date,
    purchase_method  varchar,
    value_method     varchar,
    data_start       date,
    unassigned_customers bigint
)
