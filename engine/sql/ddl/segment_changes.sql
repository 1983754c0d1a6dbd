-- segment_changes: how each segment relates to the previous model's (kept,
-- new, split, merged, retired), filled by Go (segment) with the Appender.
-- grain: segment; key: segment_id.
create or replace table segment_changes (
    segment_id      integer,
    segment_name    varchar,
    change          varchar,
    from_segment_id integer,
    into_segment_id integer,
    centroid_shift  double
)
