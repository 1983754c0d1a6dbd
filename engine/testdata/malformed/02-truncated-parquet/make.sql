COPY (SELECT 'C' || i AS customer_id, TIMESTAMP '2025-01-01' + INTERVAL (i) DAY AS ts, i * 1.5 AS amount FROM range(1, 200) t(i)) TO 'transactions.parquet' (FORMAT parquet);
-- truncate: 300
