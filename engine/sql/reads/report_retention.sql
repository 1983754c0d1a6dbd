-- report_retention: each segment's mean retention curve for a run's report,
-- from run_cohort_retention, the run's published cohort_retention:
-- per month since the first order, the share of the segment's cohort
-- customers active, over its complete cohort months, up to $1 months.
-- grain: segment × months_since; key: (segment_id, months_since).
with cohorts as (
    select * from run_cohort_retention
    where segment_id > 0 and complete and months_since <= $1
),

final as (
    select
        cast(segment_id as integer)                                       as segment_id,
        cast(months_since as integer)                                     as months_since,
        cast(sum(active_customers) as double) / sum(cohort_customers)     as retention
    from cohorts
    group by segment_id, months_since
    having sum(cohort_customers) > 0
    order by segment_id, months_since
)

select * from final
