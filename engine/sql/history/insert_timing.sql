insert into run_history.run_timings (run_id, stage, seconds, peak_rss_bytes) values ($1, $2, $3, $4)
