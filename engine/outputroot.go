package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/crmseg/crmseg/engine/store"
)

// The run's use of its output root (package store): the lock, the run
// history, the metrics file and pruning.

// lockOutput creates the output root, takes its lock and removes what
// killed runs left there.
func (r *run) lockOutput() (*store.Lock, error) {
	root := r.cfg.Output
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("output root: %w", err)
	}
	lock, stale, err := store.Acquire(root, r.lockHolder())
	if err != nil {
		return nil, err
	}
	if stale != nil {
		r.log.Warn("lock of a run that ended without releasing it taken over", "holder_pid", stale.PID, "holder_host", stale.Host,
			"holder_started_at", stale.StartedAt, "holder_run_id", stale.RunID)
	}
	removed, err := store.RemoveLeftovers(root)
	for _, p := range removed {
		r.log.Info("leftover of an unfinished run removed", "path", p)
	}
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("output root: removing leftovers of unfinished runs: %w", err)
	}
	return lock, nil
}

// lockHolder describes this run in the lock file.
func (r *run) lockHolder() store.LockHolder {
	host, _ := os.Hostname()
	command := "run"
	switch {
	case r.opts.TrainOnly:
		command = "train"
	case r.exp != nil:
		command = "experiment " + r.exp.name
	}
	return store.LockHolder{PID: os.Getpid(), Host: host, StartedAt: r.man.StartedAt, RunID: r.man.RunID, Command: command}
}

// lockForRecord takes the lock of an existing output root for a run that
// failed before taking it, so that it can record its failure; nil when the
// root does not exist (a run that failed before writing anything leaves no
// trace there) or cannot be locked. held says another run holds the lock:
// that run owns the history and the metrics file.
func (r *run) lockForRecord() (l *store.Lock, held bool) {
	root := r.cfg.Output
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, false
	}
	l, _, err := store.Acquire(root, r.lockHolder())
	if err != nil {
		var le *store.LockedError
		held = errors.As(err, &le)
		msg := "failed run not recorded in the run history"
		if held {
			msg += " or metrics file"
		}
		r.log.Warn(msg, "output", root, "error", err)
		return nil, held
	}
	return l, false
}

// record is the run as the history records it, failed with runErr or
// succeeded (nil).
func (r *run) record(runErr error) store.Record {
	return store.Record{Manifest: r.man, Started: r.started, Finished: r.opts.Now().UTC(), Err: runErr, ExitCode: r.exitCode(runErr)}
}

// exitCode is the exit code recorded for a run that failed with err (nil:
// succeeded), in the run history and the metrics file: Options.ExitCode's.
func (r *run) exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case r.opts.ExitCode == nil:
		return 1
	}
	return r.opts.ExitCode(err)
}

// recordSuccess records the published run, with its segments, metrics,
// targets and migration, in the output root's history, through the run's
// own DuckDB session. A failure is returned (a *store.HistoryError whose
// Published is set), not logged: the run stays published.
func (r *run) recordSuccess(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx) // published: finish the record, it is short
	start := time.Now()
	if _, err := store.RecordRun(ctx, r.s.conn, r.cfg.Output, r.record(nil)); err != nil {
		he := err.(*store.HistoryError) // as RecordRun returns every error
		he.Published = true
		return he
	}
	r.log.Info("run recorded in the run history", "path", filepath.Join(r.cfg.Output, store.HistoryFile), "seconds", time.Since(start).Seconds())
	return nil
}

// recordFailure records a failed run in the output root's history; the
// caller holds the root's lock. Problems are logged, never returned: the
// run's own error is what matters.
func (r *run) recordFailure(ctx context.Context, runErr error) {
	ctx = context.WithoutCancel(ctx) // a cancelled run is recorded too
	path := filepath.Join(r.cfg.Output, store.HistoryFile)
	id, err := store.RecordRun(ctx, nil, r.cfg.Output, r.record(runErr))
	if err != nil {
		r.log.Error("failed run not recorded in the run history", "path", path, "error", err)
		return
	}
	if id != r.man.RunID {
		// The run's ID was made unique when it started, but the history
		// could not be read then if another process had it open.
		r.log.Warn("run ID taken in the run history meanwhile: the failed run is recorded as history_run_id", "history_run_id", id)
	}
	r.log.Info("failed run recorded in the run history", "path", path)
}

// prune removes old runs down to cfg.KeepRuns. The run is published by
// then, so a failure here is logged, not returned.
func (r *run) prune(ctx context.Context) {
	removed, err := store.Prune(ctx, r.cfg.Output, r.cfg.KeepRuns)
	for _, id := range removed {
		r.log.Info("old run pruned", "pruned_run_id", id, "keep_runs", r.cfg.KeepRuns)
	}
	if err != nil {
		r.log.Warn("old runs not pruned", "error", err)
	}
}

// writeMetrics writes the run's outcome to the metrics file, if one is
// configured; a failure to write it is logged and does not change the
// run's outcome.
func (r *run) writeMetrics(err error, d time.Duration) {
	if r.cfg.MetricsFile == "" {
		return
	}
	o := store.Outcome{Manifest: r.man, Version: r.opts.Version, Status: runStatus(err), ExitCode: r.exitCode(err), Ended: r.opts.Now().UTC(), Duration: d}
	if err := store.WriteMetrics(r.cfg.MetricsFile, r.cfg.Output, o); err != nil {
		r.log.Error("metrics file not written", "path", r.cfg.MetricsFile, "error", err)
	}
}
