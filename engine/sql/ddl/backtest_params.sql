-- backtest_params: the backtest's calibration end, holdout end (as_of) and
-- holdout length in weeks; one row when a backtest runs, none otherwise.
-- Filled by Go with the Appender.
-- grain: run; key: none (at most one row).
create or replace table backtest_params (
    calibration_end date,
    holdout_end     date,
    holdout_weeks   double
)
