-- segment_names: the name of every segment of the run, and segment 0 (all
-- customers), filled by Go (segment) with the Appender.
-- grain: segment; key: segment_id.
create or replace table segment_names (
    segment_id   integer,
    segment_name varchar
)
