-- separated_block: the block of days at one end of the data, beyond a gap
-- wider than the stray-block gap, that holds 0.5% to 10% of the rows: too
-- many to reject as stray, reported as a warning (staging/params). No row
-- when there is none.
-- grain: run; key: none (at most one row).
select
    separated_rows,
    separated_of,
    separated_gap_days,
    strftime(separated_from, '%Y-%m-%d') as separated_from,
    strftime(separated_to, '%Y-%m-%d')   as separated_to,
    block_gap_days
from params
where separated_rows is not null
