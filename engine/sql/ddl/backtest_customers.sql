-- backtest_customers: each calibration customer's predicted and actual
-- purchases and revenue in the backtest's holdout. Created empty; a
-- backtest that runs replaces it with Go's columns.
-- grain: customer; key: cust_idx.
create or replace table backtest_customers (
    cust_idx            bigint,
    x_calibration       integer,
    predicted_purchases double,
    predicted_revenue   double,
    actual_purchases    bigint,
    actual_revenue      double
)
