-- assignment_problems: the rows of the segmentation.assignments file that
-- cannot be used, with what is wrong: no customer_id, a segment_id that is
-- no whole number of 1 or more, a customer given twice, a segment named
-- differently on two rows. Each kind (problem) comes with the first row
-- that has it (other_row: the earlier row it clashes with) and how many
-- rows have it.
-- grain: kind of problem; key: problem.
with assigned as (
    select
        source_file,
        file_index,
        source_row,
        norm_id(customer_id)                                   as customer_id,
        cast(customer_id as varchar)                           as customer_id_found,
        cast(segment_id as varchar)                            as segment_id_found,
        try_cast(cast(segment_id as varchar) as double)        as segment_number,
        nullif(trim(cast(name as varchar)), '')                as name
    from src_segment_assignments
),

no_customer as (
    select 1 as problem, 'customer_id' as column_name, 'a customer_id on every row' as expected,
        file_index, source_file, source_row, coalesce(customer_id_found, '') as found,
        null::varchar as other_file, null::bigint as other_row
    from assigned
    where customer_id is null
),

bad_segment as (
    select 2, 'segment_id', 'a whole number from 1 to 2147483647',
        file_index, source_file, source_row, coalesce(segment_id_found, ''), null, null
    from assigned
    where not coalesce(segment_number >= 1 and segment_number <= 2147483647 and segment_number = floor(segment_number), false)
),

ranked as (
    select
        *,
        row_number() over (partition by customer_id order by file_index, source_row)           as id_rank,
        first_value(source_file) over (partition by customer_id order by file_index, source_row) as first_file,
        first_value(source_row) over (partition by customer_id order by file_index, source_row)  as first_row
    from assigned
    where customer_id is not null
),

duplicate as (
    select 3, 'customer_id', 'each customer once',
        file_index, source_file, source_row, customer_id, first_file, first_row
    from ranked
    where id_rank > 1
),

named as (
    select
        *,
        first_value(name) over (partition by segment_number order by file_index, source_row)        as first_name,
        first_value(source_file) over (partition by segment_number order by file_index, source_row) as first_file,
        first_value(source_row) over (partition by segment_number order by file_index, source_row)  as first_row
    from assigned
    where name is not null and segment_number is not null
),

renamed as (
    select 4, 'name', 'one name per segment_id (' || segment_id_found || ': ' || first_name || ')',
        file_index, source_file, source_row, name, first_file, first_row
    from named
    where name <> first_name
),

problems as (
    select * from no_customer
    union all select * from bad_segment
    union all select * from duplicate
    union all select * from renamed
),

final as (
    select
        problem, column_name, expected, source_file, source_row, found, other_file, other_row,
        count(*) over (partition by problem)                                                as problem_rows,
        row_number() over (partition by problem order by file_index, source_row)           as problem_rank
    from problems
    qualify problem_rank = 1
)

select problem, column_name, expected, source_file, source_row, found, other_file, other_row, problem_rows
from final
order by problem
