-- run history, schema version 1, in the attached database run_history:
-- every run of an output root, succeeded or failed, with its figures, and
-- the segments, metrics, targets and migration of every succeeded run, so
-- that runs can be compared night over night. meta holds schema_version;
-- a later version migrates the file forward.
create table run_history.meta (
    key     varchar primary key,
    value   varchar not null
);

insert into run_history.meta values ('schema_version', '1');

-- grain: run; key: run_id.
create table run_history.runs (
    run_id                  varchar primary key,
    status                  varchar not null,
    failed_stage            varchar,
    error                   varchar,
    exit_code               integer not null,
    as_of                   date,
    started_at              timestamp not null,
    finished_at             timestamp not null,
    seconds                 double not null,
    directory               varchar,
    transactions_read       bigint,
    transactions_accepted   bigint,
    rejected_rows           bigint,
    customers               bigint,
    k                       integer,
    segmentation_source     varchar,
    inertia                 double,
    silhouette              double,
    changed_share           double,
    compared                bigint,
    hysteresis_kept         bigint,
    delta_new               bigint,
    delta_changed           bigint,
    delta_exit              bigint,
    seed                    ubigint,
    crmseg_version          varchar,
    manifest                varchar not null
);

-- grain: run x stage.
create table run_history.run_timings (
    run_id      varchar not null,
    stage       varchar not null,
    seconds     double not null
);

-- grain: run x input file.
create table run_history.run_inputs (
    run_id      varchar not null,
    input_table varchar not null,
    path        varchar not null,
    format      varchar,
    rows        bigint,
    bytes       bigint,
    sha256      varchar
);

-- grain: run x table x reason.
create table run_history.run_rejects (
    run_id          varchar not null,
    source_table    varchar not null,
    reason          varchar not null,
    rows            bigint not null
);

-- grain: run x segment; the columns of segments without the centroids.
create table run_history.run_segments (
    run_id              varchar not null,
    segment_id          integer not null,
    segment_name        varchar,
    customers           bigint,
    customer_share      double,
    historical_ltv      double,
    objective           varchar,
    objective_source    varchar,
    objective_reason    varchar,
    traits              varchar
);

-- grain: run x segment x metric x dimension; the columns of segment_metrics.
create table run_history.run_metrics (
    run_id          varchar not null,
    segment_id      integer not null,
    segment_name    varchar,
    metric          varchar not null,
    dimension       varchar,
    value           double,
    unit            varchar
);

-- grain: run x segment x metric; the columns of segment_targets.
create table run_history.run_targets (
    run_id          varchar not null,
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

-- grain: run x pair of segments; the columns of segment_migration.
create table run_history.run_migration (
    run_id          varchar not null,
    from_segment_id integer,
    to_segment_id   integer,
    customers       bigint not null
);
