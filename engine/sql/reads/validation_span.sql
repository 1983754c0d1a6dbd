-- validation_span: the first and last accepted transaction time, the
-- accepted returns, the dates of the first and the last order (a line that
-- is not a return: where the data starts and ends for the metric windows),
-- and whether some accepted purchase line has a category, and a channel
-- (see reads/data_extent), for crmseg validate.
-- grain: run; key: none (one row).
select
    strftime(min(ts), '%Y-%m-%d %H:%M:%S'),
    strftime(max(ts), '%Y-%m-%d %H:%M:%S'),
    count(*) filter (where amount < 0),
    min(ts) filter (where amount >= 0)::date,
    max(ts) filter (where amount >= 0)::date,
    coalesce(bool_or(category is not null) filter (where amount > 0), false),
    coalesce(bool_or(channel is not null) filter (where amount > 0), false)
from int_lines
