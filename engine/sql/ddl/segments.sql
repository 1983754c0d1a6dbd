-- segments: one row per segment with its name, size, objective and traits,
-- filled by Go (targets) with the Appender. The run adds a DOUBLE column
-- centroid_<feature> per clustering feature after these, in feature order.
-- grain: segment; key: segment_id.
create or replace table segments (
    segment_id       integer,
    segment_name     varchar,
    customers        bigint,
    customer_share   double,
    historical_ltv   double,
    objective        varchar,
    objective_source varchar,
    objective_reason varchar,
    traits           varchar
)
