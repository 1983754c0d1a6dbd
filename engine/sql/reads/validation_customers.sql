-- validation_customers: the accepted customers, those of them with an
-- accepted positive line, and the transaction rows of unknown customers,
-- for crmseg validate.
-- grain: run; key: none (one row).
select
    (select count(*) from stg_customers where reject_reason is null),
    (select count(distinct cust_idx) from stg_transactions where reject_reason is null and amount > 0),
    (select count(*) from stg_transactions where reject_reason = 'unknown customer')
