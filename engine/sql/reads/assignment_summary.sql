-- assignment_summary: each segment of the segmentation.assignments file
-- with its name (null when the file names it nowhere), the file's customers
-- in it and how many of them the run does not have.
-- grain: segment; key: segment_id.
with assigned as (
    select
        norm_id(customer_id)                                                as customer_id,
        try_cast(cast(segment_id as varchar) as double)::integer            as segment_id,
        nullif(trim(cast(name as varchar)), '')                             as name
    from src_segment_assignments
),

customers as (
    select customer_id from customer_features
),

final as (
    select
        assigned.segment_id,
        min(assigned.name)                                                  as segment_name,
        count(*)                                                            as file_customers,
        count(*) filter (where customers.customer_id is null)               as not_in_run
    from assigned
    left join customers on assigned.customer_id = customers.customer_id
    group by assigned.segment_id
)

select * from final order by segment_id
