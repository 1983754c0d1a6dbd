-- segment_targets: each segment's baseline and target for the 12 months
-- after as_of, per metric, filled by Go (targets) with the Appender, with
-- the last 12 months beside each count and money baseline and why the
-- baseline differs from them (scoring.ExplainBaseline).
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
    method        varchar,
    last_12m        double,
    baseline_ratio  double,
    baseline_flag   boolean,
    baseline_reason varchar
)
