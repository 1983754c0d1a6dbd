-- validation_span: the first and last accepted transaction time, the
-- accepted returns and the date of the first order (a line that is not a
-- return: where the data starts for the metric windows), for crmseg
-- validate.
-- grain: run; key: none (one row).
select
    strftime(min(ts), '%Y-%m-%d %H:%M:%S'),
    strftime(max(ts), '%Y-%m-%d %H:%M:%S'),
    count(*) filter (where amount < 0),
    min(ts) filter (where amount >= 0)::date
from int_lines
