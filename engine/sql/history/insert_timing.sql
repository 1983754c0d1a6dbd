insert into run_history.run_timings (run_id, stage, seconds) values ($1, $2, $3)
