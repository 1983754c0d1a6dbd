-- validation_customers: the customers of the run, those of them with an
-- accepted positive line, and the transaction rows of unknown customers,
-- for crmseg validate.
-- grain: run; key: none (one row).
select
    (select count(*) from int_customers),
    (select count(distinct cust_idx) from int_lines where amount > 0),
    (select count(*) from stg_transactions where reject_reason = 'unknown customer')
