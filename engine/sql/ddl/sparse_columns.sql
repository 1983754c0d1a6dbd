-- sparse_columns: the feature matrix column of each sparse (dimension,
-- value) pair with a positive weight, filled by Go (features).
-- grain: dimension × value; key: (dimension, value), or col.
create or replace table sparse_columns (
    dimension varchar,
    value     varchar,
    col       integer
)
