-- scorecard_targets: the targets of the plan of record (the history's
-- plan_targets), filled by Go (scorecard) with the Appender.
-- grain: segment × metric; key: (segment_id, metric).
create or replace table scorecard_targets (
    segment_id    integer,
    segment_name  varchar,
    objective     varchar,
    metric        varchar,
    unit          varchar,
    baseline      double,
    low           double,
    high          double,
    target        double,
    uplift        double,
    method        varchar
)
