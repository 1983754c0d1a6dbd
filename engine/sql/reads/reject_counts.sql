-- reject_counts: the rejected rows per table and reason, each with its first
-- row (by file and row) as an example: where it is and the rejected value as
-- found.
-- grain: table × reason; key: (source_table, reason).
with counted as (
    select
        source_table,
        reason,
        count(*)                                                                             as n,
        -- A struct compares field by field: the least is the first row.
        min({'file': source_file, 'row': source_row, 'column': "column", 'value': value})  as example
    from rejects
    group by source_table, reason
),

final as (
    select
        source_table,
        reason,
        n,
        example.file   as example_file,
        example.row    as example_row,
        example.column as example_column,
        example.value  as example_value
    from counted
)

select * from final
order by source_table, reason
