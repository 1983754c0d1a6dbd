-- run history, schema version 2: the peak resident memory of each run and
-- of each of its stages, in bytes (see Manifest.PeakRSSBytes and
-- Manifest.StagePeakRSS). Null for runs recorded before version 2.
alter table run_history.runs add column peak_rss_bytes bigint;

alter table run_history.runs add column stage_peak_rss varchar;

alter table run_history.run_timings add column peak_rss_bytes bigint;
