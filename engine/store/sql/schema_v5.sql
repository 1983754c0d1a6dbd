-- run history, schema version 5: the scorecard of every run whose as_of a
-- plan of record covers (segment_scorecard, docs/plans.md): its summary on
-- the run's row (the plan, the plan's targets by status; null for runs
-- without a scorecard, and for runs recorded before version 5), and its
-- rows.
alter table run_history.runs add column scorecard_plan_id integer;

alter table run_history.runs add column scorecard_ahead integer;

alter table run_history.runs add column scorecard_on_track integer;

alter table run_history.runs add column scorecard_at_risk integer;

alter table run_history.runs add column scorecard_behind integer;

-- grain: succeeded run x segment x metric; the columns of the run's
-- segment_scorecard.
create table run_history.run_scorecard (
    run_id              varchar not null,
    plan_id             integer,
    segment_id          integer,
    segment_name        varchar,
    objective           varchar,
    metric              varchar,
    unit                varchar,
    horizon_start       date,
    horizon_end         date,
    as_of               date,
    days_elapsed        bigint,
    horizon_days        bigint,
    customers           bigint,
    added_customers     bigint,
    actual_to_date      double,
    added_to_date       double,
    expected_to_date    double,
    phasing             varchar,
    phased_share        double,
    baseline_full_year  double,
    target_full_year    double,
    projected_year_end  double,
    projection_method   varchar,
    comparison          varchar,
    gap                 double,
    status              varchar
);
