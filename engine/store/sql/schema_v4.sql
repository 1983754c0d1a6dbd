-- run history, schema version 4: scenarios (crmseg scenario). A scenario
-- projects a succeeded run's segments under changes a programme would make,
-- against the run's baselines; its tables are written under the run's
-- directory (runs/<run_id>/scenarios/<scenario_name>/) and recorded here.
-- A scenario is never changed once recorded.

-- grain: scenario; key: (run_id, scenario_name).
create table run_history.scenarios (
    run_id              varchar not null,
    scenario_name       varchar not null,
    -- the scenario's directory, relative to the output root.
    directory           varchar not null,
    created_at          timestamp not null,
    as_of               date,
    -- the changes, as --set gives them, one segment after another:
    -- "1: retention_12m=+0.05; 3: avg_order_value=+0.03".
    changes             varchar not null,
    -- the programme: its cost and return; null without a cost.
    fixed_cost          double,
    cost_per_customer   double,
    contacted_customers bigint,
    programme_cost      double,
    margin              double,
    incremental_value   double,
    roi                 double,
    payback_months      double,
    crmseg_version      varchar,
    -- the scenario's scenario.json.
    scenario_json       varchar not null,
    primary key (run_id, scenario_name)
);

-- grain: scenario x segment x metric; the columns of the scenario's
-- scenario_results.
create table run_history.scenario_results (
    run_id          varchar not null,
    scenario_name   varchar not null,
    segment_id      integer not null,
    segment_name    varchar,
    metric          varchar not null,
    unit            varchar,
    horizon_start   date,
    horizon_end     date,
    baseline        double,
    baseline_low    double,
    baseline_high   double,
    scenario        double,
    scenario_low    double,
    scenario_high   double,
    change          double,
    method          varchar,
    changes         varchar
);
