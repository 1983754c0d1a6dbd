-- validation_span: the first and last accepted transaction time and the
-- accepted returns, for crmseg validate.
-- grain: run; key: none (one row).
select
    strftime(min(ts), '%Y-%m-%d %H:%M:%S'),
    strftime(max(ts), '%Y-%m-%d %H:%M:%S'),
    count(*) filter (where amount < 0)
from int_lines
