-- outside_window: what lies outside the run's window and is neither
-- accepted nor rejected: the transaction rows dated after an explicit as_of,
-- and the customers (of the customers file) who were not yet customers on
-- as_of.
-- grain: run; key: none (one row).
select
    (select count(*) from stg_transactions where after_as_of)  as transactions_after_as_of,
    (select count(*) from stg_customers where after_as_of)     as customers_after_as_of
