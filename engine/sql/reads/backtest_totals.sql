-- backtest_totals: the backtest's customers and its actual and predicted
-- purchases and revenue. The figures are rounded per customer and summed as
-- DECIMAL: exact, whatever the number of threads.
-- grain: run; key: none (one row).
select
    count(*),
    coalesce(sum(actual_purchases), 0),
    coalesce(sum(predicted_purchases::decimal(38, 6)), 0)::double,
    coalesce(sum(actual_revenue::decimal(38, 4)), 0)::double,
    coalesce(sum(predicted_revenue::decimal(38, 6)), 0)::double
from backtest_customers
