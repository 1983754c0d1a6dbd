-- compare_backtest: the model_backtest of two runs (crmseg compare), from
 -- compared_model_backtest (both runs' files with their side): predicted
-- against actual purchases and revenue in the holdout, for all calibration
-- customers, per segment and per calibration frequency.
-- grain: run x grouping x group; key: (side, grouping, group_value).
with published as (
    select * from compared_model_backtest
),

final as (
    select
        side,
        grouping,
        cast(group_value as integer)                             as group_value,
        coalesce(group_label, '')                                as group_label,
        coalesce(strftime(calibration_end, '%Y-%m-%d'), '')      as calibration_end,
        coalesce(strftime(holdout_end, '%Y-%m-%d'), '')          as holdout_end,
        cast(customers as bigint)                                as customers,
        cast(actual_purchases as double)                         as actual_purchases,
        cast(predicted_purchases as double)                      as predicted_purchases,
        cast(actual_revenue as double)                           as actual_revenue,
        cast(predicted_revenue as double)                        as predicted_revenue
    from published
    order by side, case grouping when 'all' then 0 when 'segment' then 1 else 2 end, group_value
)

select * from final
