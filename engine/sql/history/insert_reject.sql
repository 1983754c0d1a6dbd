insert into run_history.run_rejects (run_id, source_table, reason, rows) values ($1, $2, $3, $4)
