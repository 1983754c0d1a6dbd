-- int_acquisition_months: the net revenue and gross margin of the
-- customers' lines per month since their acquisition month, summed by
-- segment, acquisition channel and cohort, apart for the customers whose
-- acquisition cost is known (has_cac): the cash flows payback is measured
-- on. Lines count from the day of the customer's first purchase, as
-- historical value does. The margin is that of the lines with a cost
-- (amount - cost); costed_revenue is their net revenue, the margin rate's
-- base.
-- grain: segment × acquisition channel × cohort month × has_cac × months
-- since; key: (segment_id, acquisition_channel, cohort_month, has_cac, months_since).
with customers as (
    select
        cust_idx,
        segment_id,
        acquisition_channel,
        cohort_month,
        cac is not null                                        as has_cac,
        first_order_date,
        year(cohort_month) * 12 + month(cohort_month) - 1      as cohort_number
    from int_acquisition_customers
    where first_order_date is not null
),

lines as (
    select cust_idx, ts, amount, cost from int_lines
),

final as (
    select
        customers.segment_id,
        customers.acquisition_channel,
        customers.cohort_month,
        customers.has_cac,
        year(lines.ts) * 12 + month(lines.ts) - 1 - customers.cohort_number as months_since,
        sum(lines.amount)                                                   as revenue,
        sum(lines.amount - lines.cost)                                      as margin,
        sum(lines.amount) filter (where lines.cost is not null)             as costed_revenue
    from lines
    join customers on lines.cust_idx = customers.cust_idx
    where lines.ts >= customers.first_order_date
    group by customers.segment_id, customers.acquisition_channel, customers.cohort_month, customers.has_cac, months_since
)

select * from final
