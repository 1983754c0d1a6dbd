-- int_category_pairs: every ordered pair of categories (category_a,
-- category_b) with a customer who bought both, per segment and for all
-- customers (segment_id 0). Customers are the baskets: a customer "bought a"
-- when any of their positive lines is in category a, over all history.
--   buyers:           customers of the segment who bought any category
--   support:          customers_both / buyers
--   confidence:       customers_both / customers_a, P(b | a)
--   lift:             confidence / (customers_b / buyers), within the segment
--   lift_vs_population: confidence / P(b) among all buyers (segment 0):
--                     how much likelier the segment's buyers of a are to
--                     buy b than the average buyer
-- A pair qualifies when at least 10 customers and 1% of the segment's
-- buyers bought both; qualifying pairs are ranked by lift (then customers
-- who bought both, then the category names). Counts are integers and each
-- figure is one division of exact integers, so nothing depends on threads.
-- grain: segment × category_a × category_b; key: (segment_id, category_a, category_b).
with bought as (
    select cust_idx, segment_id, category from int_customer_categories
),

thresholds as (
    select 10 as min_customers, 0.01 as min_support
),

customers as (
    select cust_idx, segment_id
    from bought
    group by cust_idx, segment_id
),

-- Counts per segment first; every customer is in exactly one segment, so
-- the population's counts (segment 0) are the sums over segments, which
-- saves a second pass over the per-customer rows.
segment_buyers_by_segment as (
    select segment_id, count(*) as buyers
    from customers
    group by segment_id
),

segment_buyers as (
    select segment_id, buyers from segment_buyers_by_segment
    union all
    select 0 as segment_id, sum(buyers)::bigint as buyers from segment_buyers_by_segment
),

category_buyers_by_segment as (
    select segment_id, category, count(*) as customers
    from bought
    group by segment_id, category
),

category_buyers as (
    select segment_id, category, customers from category_buyers_by_segment
    union all
    select 0 as segment_id, category, sum(customers)::bigint as customers
    from category_buyers_by_segment
    group by category
),

-- Each unordered pair once (a < b), then both directions.
pair_counts_by_segment as (
    select
        a.segment_id,
        a.category      as category_a,
        b.category      as category_b,
        count(*)        as customers_both
    from bought as a
    join bought as b on a.cust_idx = b.cust_idx and a.category < b.category
    group by a.segment_id, a.category, b.category
),

pair_counts as (
    select segment_id, category_a, category_b, customers_both from pair_counts_by_segment
    union all
    select 0 as segment_id, category_a, category_b, sum(customers_both)::bigint as customers_both
    from pair_counts_by_segment
    group by category_a, category_b
),

ordered_pairs as (
    select segment_id, category_a, category_b, customers_both from pair_counts
    union all
    select segment_id, category_b, category_a, customers_both from pair_counts
),

figures as (
    select
        pairs.segment_id,
        pairs.category_a,
        pairs.category_b,
        segment_buyers.buyers,
        buyers_a.customers                                                  as customers_a,
        buyers_b.customers                                                  as customers_b,
        pairs.customers_both,
        pairs.customers_both / segment_buyers.buyers                       as support,
        pairs.customers_both / buyers_a.customers                          as confidence,
        (pairs.customers_both * segment_buyers.buyers)
            / (buyers_a.customers * buyers_b.customers)                    as lift,
        (pairs.customers_both * population.buyers)
            / (buyers_a.customers * population_b.customers)                as lift_vs_population,
        pairs.customers_both >= thresholds.min_customers
            and pairs.customers_both >= thresholds.min_support * segment_buyers.buyers
                                                                            as qualifies
    from ordered_pairs as pairs
    cross join thresholds
    join segment_buyers on pairs.segment_id = segment_buyers.segment_id
    join segment_buyers as population on population.segment_id = 0
    join category_buyers as buyers_a
        on pairs.segment_id = buyers_a.segment_id and pairs.category_a = buyers_a.category
    join category_buyers as buyers_b
        on pairs.segment_id = buyers_b.segment_id and pairs.category_b = buyers_b.category
    join category_buyers as population_b
        on population_b.segment_id = 0 and pairs.category_b = population_b.category
),

final as (
    select
        figures.*,
        case when qualifies then row_number() over (
            partition by segment_id, qualifies
            order by lift desc, customers_both desc, category_a, category_b
        ) end as pair_rank
    from figures
)

select * from final
