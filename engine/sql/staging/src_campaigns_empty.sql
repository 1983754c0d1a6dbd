-- src_campaigns when no campaigns file is given: no rows.
-- grain: input campaign row; key: (file_index, source_row).
with final as (
    select
        null::varchar as source_file,
        null::integer as file_index,
        null::bigint  as source_row,
        null::varchar as campaign,
        null::varchar as channel,
        null::date    as period,
        null::double  as cost,
        null::bigint  as customers_acquired
    where false
)

select * from final
