-- window_coverage: how much of each metric window the data covers: the days
-- of the window from the date of the first accepted order ($1) to that of
-- the last ($2), both included. A window wholly before the data starts or
-- after it ends (an as_of past the data's end) is not covered at all; none
-- is when there is no order. No rows without an as_of (no accepted row to
-- take it from).
-- grain: window; key: window_name.
with params as (
    select * from params
),

windows (window_name, position, start_date, end_date) as (
    select 'last_12m', 1, w12_start::date, as_of from params
    union all
    select 'previous_12m', 2, w24_start::date, (w12_start - interval 1 day)::date from params
),

final as (
    select
        window_name,
        position,
        start_date,
        end_date,
        date_diff('day', start_date, end_date) + 1                                    as days,
        coalesce(greatest(date_diff('day', greatest(start_date, $1::date), least(end_date, $2::date)) + 1, 0), 0)
                                                                                      as covered_days
    from windows
)

select
    window_name,
    strftime(start_date, '%Y-%m-%d'),
    strftime(end_date, '%Y-%m-%d'),
    days,
    covered_days
from final
where start_date is not null
order by position
