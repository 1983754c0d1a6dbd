insert into run_history.run_migration by name
select
    $1::varchar as run_id,
    from_segment_id,
    to_segment_id,
    customers
from segment_migration
order by from_segment_id nulls first, to_segment_id nulls last
