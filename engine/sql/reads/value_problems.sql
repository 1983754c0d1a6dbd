-- value_problems: the values of the customers of the run that cannot be
-- right and were set to null (the customer is kept), per column and
-- reason, each with its first row (by file and row) as an example: where it
-- is and the value as found (staging/stg_customers).
-- grain: table × column × reason; key: (source_table, example_column, reason).
-- Its columns are those of reads/reject_counts (readReasonCounts reads both).
with problems as (
    select file_index, source_row, 'signup_date' as "column", signup_date_problem as reason, signup_date_found as value
    from stg_customers
    where signup_date_problem is not null and reject_reason is null and not after_as_of
    union all
    select file_index, source_row, 'birth_date' as "column", birth_date_problem as reason, birth_date_found as value
    from stg_customers
    where birth_date_problem is not null and reject_reason is null and not after_as_of
    union all
    select file_index, source_row, 'acquisition_cost' as "column", acquisition_cost_problem as reason,
        acquisition_cost_found as value
    from stg_customers
    where acquisition_cost_problem is not null and reject_reason is null and not after_as_of
),

counted as (
    select
        problems."column",
        problems.reason,
        count(*)                                                              as n,
        min({'file': files.source_file, 'row': problems.source_row, 'value': problems.value}) as example
    from problems
    left join input_files as files
        on files.source_table = 'customers' and problems.file_index = files.file_index
    group by problems."column", problems.reason
),

final as (
    select
        'customers'   as source_table,
        reason,
        n,
        example.file  as example_file,
        example.row   as example_row,
        "column"      as example_column,
        example.value as example_value
    from counted
)

select * from final
order by example_column, reason
