-- check: segment sizes add up to the number of customers.
-- Returns a row when they do not; zero rows means the check passed.
with sizes as (
    select sum(customers) as total from segment_summary where segment_id > 0
),

population as (
    select customers as total from segment_summary where segment_id = 0
),

final as (
    select sizes.total as segment_total, population.total as population_total
    from sizes, population
    where sizes.total is distinct from population.total
)

select * from final
