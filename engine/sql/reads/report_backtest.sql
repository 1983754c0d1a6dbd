-- report_backtest: the backtest of predicted against actual for a run's
-- report, from run_model_backtest, the run's published
-- model_backtest (empty without a backtest).
-- grain: grouping × group; key: (grouping, group_value).
with backtest as (
    select * from run_model_backtest
),

final as (
    select
        grouping,
        coalesce(group_label, '')               as group_label,
        cast(group_value as integer)            as group_value,
        cast(customers as bigint)               as customers,
        cast(actual_purchases as double)        as actual_purchases,
        cast(predicted_purchases as double)     as predicted_purchases,
        cast(actual_revenue as double)          as actual_revenue,
        cast(predicted_revenue as double)       as predicted_revenue,
        cast(calibration_end as varchar)        as calibration_end,
        cast(holdout_end as varchar)            as holdout_end
    from backtest
    order by grouping, group_value
)

select * from final
