-- check: every accepted customer appears exactly once in customer_segments.
-- Returns the offending customers; zero rows means the check passed.
with features as (
    select customer_id from customer_features
),

published as (
    select customer_id, count(*) as n from customer_segments group by customer_id
),

final as (
    select features.customer_id, coalesce(published.n, 0) as times_published
    from features
    full outer join published on features.customer_id = published.customer_id
    where published.n is distinct from 1 or features.customer_id is null
)

select * from final
