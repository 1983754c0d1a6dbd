-- Macros shared by the staging models.

-- key_space: the characters trimmed from both ends of every key
-- (customer_id, transaction_id, order_id, product_id): Unicode White_Space
-- (ASCII space, tab, line feed, vertical tab, form feed, carriage return,
-- U+0085, no-break space U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
-- U+202F, U+205F, U+3000) and the byte-order mark U+FEFF. Within a key
-- nothing is changed.
create or replace macro key_space() as (
    chr(32) || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(133) || chr(160) || chr(5760)
    || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199)
    || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288)
    || chr(65279)
);

-- trim_key: text trimmed of key_space(). A key that begins and ends with a
-- printable ASCII character, as nearly every key does, is returned as it is:
-- trimming a set of characters costs several times more than this check.
create or replace macro trim_key(s) as (
    case
        when ord(s) between 33 and 126 and ord(right(s, 1)) between 33 and 126 then s
        else trim(s, key_space())
    end
);

-- norm_id: a key as text, the same for every key of every input: trimmed of
-- key_space(); blank is missing; an integer key that an export wrote as a
-- float ("17850.0") is written back as an integer ("17850").
create or replace macro norm_id(x) as (
    case
        when nullif(trim_key(cast(x as varchar)), '') is null then null
        when contains(trim_key(cast(x as varchar)), '.')
            then regexp_replace(trim_key(cast(x as varchar)), '^(-?[0-9]+)\.0+$', '\1')
        else trim_key(cast(x as varchar))
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
