-- models: the fitted customer-value models (and the backtest's, prefixed
-- backtest_), one row per parameter, filled by Go with the Appender. A
-- model that failed has one row without parameter and its error.
-- grain: model × parameter; key: (model, parameter).
create or replace table models (
    model          varchar,
    parameter      varchar,
    value          double,
    std_error      double,
    log_likelihood double,
    customers      double,
    time_unit      varchar,
    converged      boolean,
    error          varchar
)
