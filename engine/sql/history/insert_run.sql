-- one run into the history; parameters in column order.
insert into run_history.runs (
    run_id, status, failed_stage, error, exit_code, as_of, started_at, finished_at, seconds, directory,
    transactions_read, transactions_accepted, rejected_rows, customers, k, segmentation_source, inertia,
    silhouette, changed_share, compared, hysteresis_kept, delta_new, delta_changed, delta_exit, seed,
    crmseg_version, manifest, peak_rss_bytes, stage_peak_rss
) values (
    $1, $2, $3, $4, $5, $6::date, $7::timestamp, $8::timestamp, $9, $10,
    $11, $12, $13, $14, $15, $16, $17,
    $18, $19, $20, $21, $22, $23, $24, $25,
    $26, $27, $28, $29
)
