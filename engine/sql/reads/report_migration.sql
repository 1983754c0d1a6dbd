-- report_migration: the customers from each segment of the previous run to
-- each of this run for a run's report, from run_segment_migration,
-- the run's published segment_migration; 0 stands for none (new customers,
-- customers gone), with the previous run's name of each of its segments.
-- grain: from × to; key: (from_segment_id, to_segment_id).
with migration as (
    select * from run_segment_migration
),

final as (
    select
        cast(coalesce(from_segment_id, 0) as integer)   as from_segment_id,
        coalesce(from_segment_name, '')                 as from_segment_name,
        cast(coalesce(to_segment_id, 0) as integer)     as to_segment_id,
        cast(customers as bigint)                       as customers
    from migration
    order by from_segment_id nulls first, to_segment_id nulls last
)

select * from final
