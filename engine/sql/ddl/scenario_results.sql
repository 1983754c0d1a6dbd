-- scenario_results: a scenario's figures against the run's baselines
-- (crmseg scenario), filled by Go with the Appender: per segment (0: all
-- segments) and metric, the baseline and its P10-P90 band, the scenario's
-- figure and band, their difference; the programme's cost, incremental
-- value, ROI and payback on segment 0.
-- grain: segment x metric; key: (segment_id, metric).
create or replace table scenario_results (
    segment_id    integer,
    segment_name  varchar,
    metric        varchar,
    unit          varchar,
    horizon_start date,
    horizon_end   date,
    baseline      double,
    baseline_low  double,
    baseline_high double,
    scenario      double,
    scenario_low  double,
    scenario_high double,
    change        double,
    method        varchar,
    changes       varchar
)
