-- cohort_retention: the cohort retention matrix, per segment and for all
-- customers (segment_id 0). A customer's cohort is the calendar month of
-- their first order; they are active in a month when at least one of their
-- orders (an order that is a purchase, at its time: see int_orders) falls
-- in it.
-- Every cohort gets a row for each month from its own (months_since 0,
-- where every cohort customer is active) up to the month of as_of, zeros
-- included; that last month is partial unless as_of ends it (complete).
-- Customers without an order belong to no cohort.
-- grain: segment × cohort month × months since; key: (segment_id, cohort_month, months_since).
with params as (
    select * from params
),

orders as (
    select cust_idx, order_ts from int_orders where order_ts is not null
),

-- Months as integers (year × 12 + month − 1): one row per customer and
-- month with an order; an integer key groups faster than a date.
customer_months as (
    select cust_idx, year(order_ts) * 12 + month(order_ts) - 1 as month_number
    from orders
    group by cust_idx, month_number
),

customers as (
    select
        features.cust_idx,
        assigned.segment_id,
        date_trunc('month', features.first_order_date)::date as cohort_month,
        year(features.first_order_date) * 12 + month(features.first_order_date) - 1
                                                              as cohort_month_number
    from customer_features as features
    join customer_segment_map as assigned on features.cust_idx = assigned.cust_idx
    where features.first_order_date is not null
),

cohort_sizes as (
    select coalesce(segment_id, 0) as segment_id, cohort_month, count(*) as cohort_customers
    from customers
    group by grouping sets ((segment_id, cohort_month), (cohort_month))
),

activity as (
    select
        coalesce(customers.segment_id, 0)                                   as segment_id,
        customers.cohort_month,
        customer_months.month_number - customers.cohort_month_number        as months_since,
        count(*)                                                            as active_customers
    from customer_months
    join customers on customer_months.cust_idx = customers.cust_idx
    group by grouping sets (
        (customers.segment_id, customers.cohort_month, months_since),
        (customers.cohort_month, months_since)
    )
),

grid as (
    select
        cohort_sizes.segment_id,
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_customers,
        unnest(generate_series(0, date_diff('month', cohort_sizes.cohort_month,
                                            date_trunc('month', params.as_of)::date))) as months_since
    from cohort_sizes, params
),

names as (
    select segment_id, segment_name from segment_names
),

final as (
    select
        grid.segment_id,
        names.segment_name,
        grid.cohort_month,
        grid.months_since,
        (grid.cohort_month + to_months(grid.months_since))::date                   as activity_month,
        grid.cohort_customers,
        coalesce(activity.active_customers, 0)                                     as active_customers,
        coalesce(activity.active_customers, 0) / grid.cohort_customers             as retention,
        grid.cohort_month + to_months(grid.months_since + 1) <= params.window_end  as complete
    from grid
    cross join params
    join names on grid.segment_id = names.segment_id
    left join activity
        on grid.segment_id = activity.segment_id
        and grid.cohort_month = activity.cohort_month
        and grid.months_since = activity.months_since
)

select * from final order by segment_id, cohort_month, months_since
