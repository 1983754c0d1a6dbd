-- check: every customer with an order has RFM scores 1..5, its three-digit
-- rfm_score and exactly one named RFM segment; a customer without an order
-- has none. Returns the offending customers; zero rows means the check
-- passed.
with published as (
    select * from customer_segments
),

final as (
    select customer_id, frequency, rfm_score, rfm_segment
    from published
    where case when frequency > 0 then
            recency_score is null or recency_score not between 1 and 5
            or frequency_score is null or frequency_score not between 1 and 5
            or monetary_score is null or monetary_score not between 1 and 5
            or rfm_score is distinct from concat(recency_score, frequency_score, monetary_score)
            or rfm_segment is null
        else
            recency_score is not null or frequency_score is not null
            or monetary_score is not null or rfm_score is not null or rfm_segment is not null
        end
)

select * from final
