-- src_customers when no customers file is given: the distinct customers of the
-- transactions, without demographics. A customer whose every dated row lies
-- after as_of was not one yet then, and is left out.
-- grain: customer; key: customer_id.
with run_window as (
    select window_end from params
),

ids as (
    select norm_id(customer_id) as customer_id
    from src_transactions
    where norm_id(customer_id) is not null
    group by norm_id(customer_id)
    having coalesce(min(to_ts(ts)) < (select window_end from run_window), true)
),

final as (
    select
        'transactions'::varchar                                  as source_file,
        -1::integer                                              as file_index,
        row_number() over (order by customer_id)::bigint         as source_row,
        customer_id,
        null::date                                               as signup_date,
        null::date                                               as birth_date,
        null::varchar                                            as gender,
        null::varchar                                            as region,
        null::varchar                                            as income_band,
        null::varchar                                            as acquisition_channel,
        null::decimal(18, 4)                                     as acquisition_cost
    from ids
)

select * from final
