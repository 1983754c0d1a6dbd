-- Macros shared by the staging models.

-- norm_id: a customer key as text. Blank is missing; an integer key that an
-- export wrote as a float ("17850.0") is written back as an integer ("17850").
create or replace macro norm_id(x) as (
    case
        when nullif(trim(cast(x as varchar)), '') is null then null
        when contains(trim(cast(x as varchar)), '.')
            then regexp_replace(trim(cast(x as varchar)), '^(-?[0-9]+)\.0+$', '\1')
        else trim(cast(x as varchar))
    end
);

-- to_ts: a timestamp from a timestamp, date or ISO 8601 text, with or
-- without a zone; zoned values are converted to UTC. NULL when it cannot be
-- read, and for infinity and -infinity, which are no time.
-- typeof() is folded when the query is planned, so a column that is already a
-- plain timestamp or a date skips the zoned conversion, which costs a calendar
-- computation per row.
create or replace macro read_ts(x) as (
    case
        when typeof(x) in ('TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS', 'DATE')
            then try_cast(x as timestamp)
        else try_cast(try_cast(x as timestamptz) as timestamp)
    end
);

create or replace macro to_ts(x) as (
    case when isfinite(read_ts(x)) then read_ts(x) end
);
