COPY (SELECT 'C1' AS customer_id, true AS ts, 1.5 AS amount) TO 'transactions.parquet' (FORMAT parquet);
