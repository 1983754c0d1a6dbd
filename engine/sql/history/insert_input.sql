insert into run_history.run_inputs (run_id, input_table, path, format, rows, bytes, sha256)
values ($1, $2, $3, $4, $5, $6, $7)
