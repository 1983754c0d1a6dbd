-- model_backtest: the customer-value models refitted as of calibration_end
-- (as_of less value.backtest_holdout) against what the calibration
-- customers did in the holdout, for all of them, per segment (this run's
-- segments) and per calibration frequency (repeat purchases by
-- calibration_end, 7 and more together). Empty when no backtest ran or it
-- could not be fitted. This run's segments were drawn with the holdout's
-- purchases in view, so the segment rows carry that selection; the
-- frequency rows do not. Per-customer figures are rounded in Go and summed
-- as DECIMAL, so the sums do not depend on the number of threads.
-- grain: grouping × group; key: (grouping, group_value).
with params as (
    select * from backtest_params
),

customers as (
    select
        backtest.*,
        assigned.segment_id,
        least(backtest.x_calibration, 7) as frequency
    from backtest_customers as backtest
    left join customer_segment_map as assigned on backtest.cust_idx = assigned.cust_idx
),

grouped as (
    select
        case
            when grouping(segment_id) = 0 then 'segment'
            when grouping(frequency) = 0 then 'frequency'
            else 'all'
        end                                                          as grouping,
        coalesce(segment_id, frequency, 0)                           as group_value,
        count(*)                                                     as customers,
        sum(actual_purchases)                                        as actual_purchases,
        sum(predicted_purchases::decimal(38, 6))::double             as predicted_purchases,
        sum(actual_revenue::decimal(38, 4))::double                  as actual_revenue,
        sum(predicted_revenue::decimal(38, 6))::double               as predicted_revenue
    from customers
    group by grouping sets ((segment_id), (frequency), ())
    -- the grand total of no rows is one row of nulls: none when no backtest ran
    having count(*) > 0
),

final as (
    select
        grouped.grouping,
        grouped.group_value,
        case
            when grouped.grouping = 'segment' then names.segment_name
            when grouped.grouping = 'frequency' and grouped.group_value = 7 then '7+'
            when grouped.grouping = 'frequency' then grouped.group_value::varchar
            else 'all'
        end                                                          as group_label,
        params.calibration_end,
        params.holdout_end,
        params.holdout_weeks,
        grouped.customers,
        grouped.actual_purchases,
        round(grouped.predicted_purchases, 4)                        as predicted_purchases,
        round(grouped.predicted_purchases / nullif(grouped.actual_purchases, 0) - 1, 6)
                                                                     as purchases_error,
        round(grouped.actual_revenue, 2)                             as actual_revenue,
        round(grouped.predicted_revenue, 2)                          as predicted_revenue,
        round(grouped.predicted_revenue / nullif(grouped.actual_revenue, 0) - 1, 6)
                                                                     as revenue_error
    from grouped
    cross join params
    left join segment_names as names
        on grouped.grouping = 'segment' and grouped.group_value = names.segment_id
)

select * from final
