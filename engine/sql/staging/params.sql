-- params: the one-row table of run parameters every model reads.
-- grain: run; key: none (one row).
-- $1 = configured as_of date or NULL (then: the date of the latest timestamp
-- among rows with a customer and an amount); $2 = keep zero-amount rows as
-- purchases (rejects.zero_amounts: keep).
with latest as (
    select max(to_ts(ts))::date as latest_date
    from src_transactions
    where customer_id is not null and amount is not null
),

final as (
    select
        coalesce($1::date, latest_date)                                   as as_of,
        (coalesce($1::date, latest_date) + interval 1 day)::timestamp    as window_end,
        (coalesce($1::date, latest_date) + interval 1 day
            - interval 12 month)::timestamp                              as w12_start,
        (coalesce($1::date, latest_date) + interval 1 day
            - interval 24 month)::timestamp                              as w24_start,
        $2::boolean                                                      as keep_zero_amounts
    from latest
)

select * from final
