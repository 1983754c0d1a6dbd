-- segment_targets: each segment's baseline and target for the 12 months
-- after as_of, per metric, filled by Go (targets) with the Appender.
-- grain: segment × metric; key: (segment_id, metric).
create or replace table segment_targets (
    segment_id    integer,
    segment_name  varchar,
    metric        varchar,
    unit          varchar,
    horizon_start date,
    horizon_end   date,
    baseline      double,
    low           double,
    high          double,
    target        double,
    uplift        double,
    objective     varchar,
    method        varchar
)
