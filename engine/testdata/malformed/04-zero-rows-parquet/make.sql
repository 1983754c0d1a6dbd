COPY (SELECT 'C1' AS customer_id, TIMESTAMP '2025-01-01' AS ts, 1.5 AS amount WHERE false) TO 'transactions.parquet' (FORMAT parquet);
