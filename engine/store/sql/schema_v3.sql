-- run history, schema version 3: plans of record (crmseg plan commit). A
-- plan is a succeeded run's segment targets, committed as the plan for
-- their horizon, with who committed it, when and why. A later plan whose
-- horizon shares a day with it supersedes it: superseded_by and
-- superseded_at are set, and nothing else of a plan ever changes. Plans are
-- never deleted.

-- grain: plan; key: plan_id (1, 2, ... in the order of commit).
create table run_history.plans (
    plan_id         integer primary key,
    run_id          varchar not null,
    -- the run's directory, relative to the output root (runs/<run_id>):
    -- its model.json and customer_segments are the plan's segments.
    directory       varchar not null,
    as_of           date not null,
    horizon_start   date not null,
    horizon_end     date not null,
    committed_by    varchar not null,
    committed_at    timestamp not null,
    note            varchar not null,
    superseded_by   integer,
    superseded_at   timestamp
);

-- grain: plan x segment x metric; the columns of the run's
-- segment_targets, as the run history recorded them (run_targets).
create table run_history.plan_targets (
    plan_id         integer not null,
    segment_id      integer not null,
    segment_name    varchar,
    metric          varchar not null,
    unit            varchar,
    horizon_start   date,
    horizon_end     date,
    baseline        double,
    low             double,
    high            double,
    target          double,
    uplift          double,
    objective       varchar,
    method          varchar
);
