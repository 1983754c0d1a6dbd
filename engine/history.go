package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/crmseg/crmseg/engine/manifest"
)

// The run history: a DuckDB file in the output root that keeps every run,
// succeeded or failed, with its figures, and the segments, metrics,
// targets and migration of every succeeded run.
const (
	// HistoryFile is the history's file name in the output root.
	HistoryFile = "history.duckdb"
	// HistorySchemaVersion is the version of the history's tables this
	// crmseg writes; an older file is migrated forward when a run records
	// itself, a newer one is refused.
	HistorySchemaVersion = 2

	historyAlias = "run_history" // the file's name when attached
)

// historyMigrations[v] takes a history file from schema version v to v+1;
// version 0 is an empty file. Version 2 added the peak memory of runs and
// stages.
var historyMigrations = []string{"history/schema_v1", "history/schema_v2"}

// runStages are the stages of a run in order, as timed in the manifest.
var runStages = []string{"inspect", "ingest", "features", "segment", "score", "targets", "publish"}

// recordSuccess records the published run, with its segments, metrics,
// targets and migration, in the output root's history, in the run's own
// DuckDB session. A failure is logged and returned (a *HistoryError); the
// run stays published.
func (r *run) recordSuccess(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx) // published: finish the record, it is short
	path := filepath.Join(r.cfg.Output, HistoryFile)
	start := time.Now()
	if err := r.writeHistory(ctx, r.s.conn, path, nil); err != nil {
		he := &HistoryError{Path: path, Op: "record the run", Published: true, Err: err}
		var open *HistoryError
		if errors.As(err, &open) {
			he.Op, he.Err = open.Op, open.Err
		}
		r.log.Error("run published but not recorded in the run history", "path", path, "error", he.Err)
		return he
	}
	r.log.Info("run recorded in the run history", "path", path, "seconds", time.Since(start).Seconds())
	return nil
}

// lockForRecord takes the lock of an existing output root for a run that
// failed before taking it, so that it can record its failure; nil when the
// root does not exist (a run that failed before writing anything leaves no
// trace there) or cannot be locked. held says another run holds the lock:
// that run owns the history and the metrics file.
func (r *run) lockForRecord() (l *outputLock, held bool) {
	root := r.cfg.Output
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, false
	}
	l, _, err := lockOutput(root, r.lockHolder())
	if err != nil {
		var le *LockedError
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

// historyRunIDs returns the run IDs in the output root's history that
// start with prefix; none when there is no history or it cannot be read at
// once (another process has it open: it is not waited for).
func historyRunIDs(ctx context.Context, root, prefix string) map[string]bool {
	used := map[string]bool{}
	path := filepath.Join(root, HistoryFile)
	if _, err := os.Stat(path); err != nil {
		return used
	}
	withScratchConn(ctx, func(conn *sql.Conn) error {
		if err := attachHistoryWait(ctx, conn, path, true, 0); err != nil {
			return err
		}
		defer detachHistory(ctx, conn)
		if v, err := historyVersion(ctx, conn); err != nil || v < 1 {
			return err
		}
		return queryEach(ctx, conn, "SELECT run_id FROM "+quoteIdent(historyAlias)+".runs WHERE starts_with(run_id, $1)", func(rows *sql.Rows) error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			used[id] = true
			return nil
		}, prefix)
	})
	return used
}

// historyPublished reads what the output root's history knows of its
// published runs: their directories relative to the root, newest first,
// and the highest segment ID any of them gave (0 when none did). No
// history file means no run was ever recorded: nothing, and no error.
func historyPublished(ctx context.Context, root string) (dirs []string, maxID int, err error) {
	if _, err := os.Stat(filepath.Join(root, HistoryFile)); errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	err = readHistory(ctx, root, func(conn *sql.Conn, _ int) error {
		h := quoteIdent(historyAlias)
		err := queryEach(ctx, conn, "SELECT directory FROM "+h+".runs WHERE status = 'succeeded' AND directory IS NOT NULL ORDER BY started_at DESC, run_id DESC",
			func(rows *sql.Rows) error {
				var d string
				err := rows.Scan(&d)
				dirs = append(dirs, d)
				return err
			})
		if err != nil {
			return err
		}
		return conn.QueryRowContext(ctx, "SELECT coalesce(max(segment_id), 0) FROM "+h+".run_segments").Scan(&maxID)
	})
	return dirs, maxID, err
}

// recordFailure records a failed run in the output root's history; the
// caller holds the root's lock. Problems are logged, never returned: the
// run's own error is what matters.
func (r *run) recordFailure(ctx context.Context, runErr error) {
	ctx = context.WithoutCancel(ctx) // a cancelled run is recorded too
	path := filepath.Join(r.cfg.Output, HistoryFile)
	err := withScratchConn(ctx, func(conn *sql.Conn) error { return r.writeHistory(ctx, conn, path, runErr) })
	if err != nil {
		r.log.Error("failed run not recorded in the run history", "path", path, "error", err)
		return
	}
	r.log.Info("failed run recorded in the run history", "path", path)
}

// withScratchConn runs fn on a connection to a fresh in-memory DuckDB.
func withScratchConn(ctx context.Context, fn func(*sql.Conn) error) error {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return err
	}
	defer connector.Close()
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}

// historyWait is how long attaching the history waits for another process
// that has the file open (a reader, or crmseg history during a run's
// write) before giving up.
var historyWait = 2 * time.Minute

// attachHistory attaches the history file to conn as run_history. DuckDB
// lets one process write a database file and refuses it to every other
// process meanwhile, readers included: while the file is held, it retries
// with a growing pause, up to historyWait.
func attachHistory(ctx context.Context, conn *sql.Conn, path string, readOnly bool) error {
	return attachHistoryWait(ctx, conn, path, readOnly, historyWait)
}

// attachHistoryWait is attachHistory waiting up to wait; 0 tries once.
func attachHistoryWait(ctx context.Context, conn *sql.Conn, path string, readOnly bool, wait time.Duration) error {
	q := "ATTACH " + quoteLiteral(path) + " AS " + quoteIdent(historyAlias)
	if readOnly {
		q += " (READ_ONLY)"
	}
	deadline := time.Now().Add(wait)
	pause := 100 * time.Millisecond
	for {
		_, err := conn.ExecContext(ctx, q)
		if err == nil {
			return nil
		}
		if !strings.Contains(err.Error(), "Could not set lock on file") {
			return &HistoryError{Path: path, Op: "open it (not a readable DuckDB file?)", Err: err}
		}
		if time.Now().Add(pause).After(deadline) {
			return &HistoryError{Path: path, Op: fmt.Sprintf("open it: another process kept it open for %s", wait), Err: err}
		}
		select {
		case <-ctx.Done():
			return &HistoryError{Path: path, Op: "open it", Err: ctx.Err()}
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

func detachHistory(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(context.WithoutCancel(ctx), "DETACH "+quoteIdent(historyAlias))
	return err
}

// historyVersion returns the schema version of the attached history: 0
// for an empty file. A file with tables but no meta table is not a run
// history.
func historyVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var tables, meta int
	err := q.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE table_name = 'meta')
		FROM duckdb_tables() WHERE database_name = $1`, historyAlias).Scan(&tables, &meta)
	if err != nil {
		return 0, err
	}
	if meta == 0 {
		if tables > 0 {
			return 0, errors.New("not a crmseg run history: it has tables but no meta table")
		}
		return 0, nil
	}
	var v string
	if err := q.QueryRowContext(ctx, "SELECT value FROM "+quoteIdent(historyAlias)+".meta WHERE key = 'schema_version'").Scan(&v); err != nil {
		return 0, fmt.Errorf("schema_version: %w", err)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("schema_version: expected a positive integer, found %q", v)
	}
	return n, nil
}

// writeHistory records the run in the history file at path through conn
// (which, for a succeeded run, is the run's session, holding its tables),
// in one transaction: the file gains the whole record or nothing. runErr
// nil means the run succeeded.
func (r *run) writeHistory(ctx context.Context, conn *sql.Conn, path string, runErr error) (err error) {
	if err := attachHistory(ctx, conn, path, false); err != nil {
		return err
	}
	defer func() {
		// After a commit the record is in: a failed detach is only logged.
		if derr := detachHistory(ctx, conn); derr != nil {
			r.log.Warn("run history not detached", "path", path, "error", derr)
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	v, err := historyVersion(ctx, tx)
	if err != nil {
		return err
	}
	if v > HistorySchemaVersion {
		return fmt.Errorf("schema version %d is newer than this crmseg's (%d): record runs with a newer crmseg", v, HistorySchemaVersion)
	}
	for ; v < HistorySchemaVersion; v++ {
		q, err := modelSQL(historyMigrations[v])
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+quoteIdent(historyAlias)+".meta SET value = $1 WHERE key = 'schema_version'", strconv.Itoa(HistorySchemaVersion)); err != nil {
		return err
	}

	m := r.man
	id := m.RunID
	if runErr != nil {
		// The run's ID was made unique when it started (uniqueRunID), but
		// the history could not be read then if another process had it
		// open: a failed run, which has no directory to claim its ID,
		// never overwrites another's record.
		for i := 2; ; i++ {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(historyAlias)+".runs WHERE run_id = $1", id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				break
			}
			id = fmt.Sprintf("%s-%d", m.RunID, i)
		}
		if id != m.RunID {
			r.log.Warn("run ID taken in the run history meanwhile: the failed run is recorded as history_run_id", "history_run_id", id)
		}
	}
	exec := func(model string, args ...any) error {
		q, err := modelSQL(model)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("%s: %w", model, err)
		}
		return nil
	}
	if err := exec("history/insert_run", r.historyRow(id, runErr)...); err != nil {
		return err
	}
	for _, t := range m.Timings {
		if err := exec("history/insert_timing", id, t.Stage, t.Seconds, nullIfZero(t.PeakRSSBytes)); err != nil {
			return err
		}
	}
	for _, in := range m.Inputs {
		if err := exec("history/insert_input", id, in.Table, in.Path, in.Format, in.Rows, in.Bytes, in.SHA256); err != nil {
			return err
		}
	}
	for _, rc := range m.Quality.Rejects {
		if err := exec("history/insert_reject", id, rc.Table, rc.Reason, rc.Rows); err != nil {
			return err
		}
	}
	if runErr == nil {
		for _, t := range []string{"segments", "metrics", "targets", "migration"} {
			if err := exec("history/insert_"+t, id); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// historyRow is the runs row of the run, in insert_run's parameter order.
// Figures of stages a failed run did not reach are null.
func (r *run) historyRow(id string, runErr error) []any {
	m := r.man
	finished := r.opts.Now().UTC()
	reached := func(stage string) bool {
		return slices.ContainsFunc(m.Timings, func(t manifest.Timing) bool { return t.Stage == stage })
	}
	status, stage, msg, dir := "succeeded", any(nil), any(nil), any(filepath.Join("runs", id))
	if runErr != nil {
		status, msg, dir = "failed", runErr.Error(), nil
		stage = runStages[len(runStages)-1]
		for _, s := range runStages {
			if !reached(s) {
				stage = s
				break
			}
		}
	}
	orNull := func(ok bool, v any) any {
		if ok {
			return v
		}
		return nil
	}
	q, sq := m.Quality, m.Quality.Segmentation
	var rejected int64
	for _, rc := range q.Rejects {
		rejected += rc.Rows
	}
	ingested, segmented, scored := reached("ingest"), reached("segment"), reached("score")
	silhouette := float64(sq.Silhouette)
	manifestJSON, err := json.Marshal(m)
	if err != nil {
		manifestJSON = []byte("{}")
	}
	return []any{
		id, status, stage, msg, int32(ExitCode(runErr)), orNull(m.AsOf != "", m.AsOf),
		r.started.Format("2006-01-02 15:04:05.000000"), finished.Format("2006-01-02 15:04:05.000000"),
		math.Round(finished.Sub(r.started).Seconds()*1000) / 1000, dir,
		orNull(ingested, q.TransactionsRead), orNull(ingested, q.TransactionsAccepted), orNull(ingested, rejected),
		orNull(segmented, int64(sq.Customers)), orNull(segmented, int32(sq.K)), orNull(segmented, sq.Source),
		orNull(segmented, sq.Inertia), orNull(segmented && !math.IsNaN(silhouette), silhouette),
		orNull(scored, sq.ChangedShare), orNull(scored, sq.Compared), orNull(segmented, sq.HysteresisKept),
		orNull(scored, q.Delta.New), orNull(scored, q.Delta.Changed), orNull(scored, q.Delta.Exit),
		m.Seed, m.Versions["crmseg"], string(manifestJSON),
		nullIfZero(m.PeakRSSBytes), orNull(m.StagePeakRSS != "", m.StagePeakRSS),
	}
}

// nullIfZero is a figure for the history, null when it was not measured.
func nullIfZero(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// HistoryRun is one run as the run history keeps it. Figures of stages a
// failed run did not reach are nil.
type HistoryRun struct {
	RunID                string   `json:"run_id"`
	Status               string   `json:"status"` // succeeded or failed
	FailedStage          string   `json:"failed_stage,omitempty"`
	Error                string   `json:"error,omitempty"`
	ExitCode             int      `json:"exit_code"`
	AsOf                 string   `json:"as_of,omitempty"`
	StartedAt            string   `json:"started_at"`
	FinishedAt           string   `json:"finished_at"`
	Seconds              float64  `json:"seconds"`
	Directory            string   `json:"directory,omitempty"`
	TransactionsRead     *int64   `json:"transactions_read"`
	TransactionsAccepted *int64   `json:"transactions_accepted"`
	RejectedRows         *int64   `json:"rejected_rows"`
	Customers            *int64   `json:"customers"`
	K                    *int64   `json:"k"`
	Source               string   `json:"segmentation_source,omitempty"`
	Inertia              *float64 `json:"inertia"`
	Silhouette           *float64 `json:"silhouette"`
	ChangedShare         *float64 `json:"changed_share"`
	Compared             *int64   `json:"compared"`
	HysteresisKept       *int64   `json:"hysteresis_kept"`
	DeltaNew             *int64   `json:"delta_new"`
	DeltaChanged         *int64   `json:"delta_changed"`
	DeltaExit            *int64   `json:"delta_exit"`
	Version              string   `json:"crmseg_version,omitempty"`
	// PeakRSSBytes is the run's peak resident memory in bytes (the
	// manifest's peak_rss_bytes); nil for runs recorded before the history
	// kept it (schema version 1) and where it is not measured.
	PeakRSSBytes *int64 `json:"peak_rss_bytes"`
	// StagePeakRSS is how the stages' peaks were measured (the manifest's
	// stage_peak_rss).
	StagePeakRSS string `json:"stage_peak_rss,omitempty"`
}

// HistorySegment is one segment of a recorded run.
type HistorySegment struct {
	ID            int     `json:"segment_id"`
	Name          string  `json:"segment_name"`
	Customers     int64   `json:"customers"`
	Share         float64 `json:"customer_share"`
	HistoricalLTV float64 `json:"historical_ltv"`
	Objective     string  `json:"objective"`
}

// HistoryTarget is one target of a recorded run.
type HistoryTarget struct {
	SegmentID int      `json:"segment_id"`
	Metric    string   `json:"metric"`
	Unit      string   `json:"unit"`
	Baseline  *float64 `json:"baseline"`
	Low       *float64 `json:"low"`
	High      *float64 `json:"high"`
	Target    *float64 `json:"target"`
}

// HistoryMigration is one row of a recorded run's segment_migration; nil
// from is new customers, nil to customers who left.
type HistoryMigration struct {
	From      *int64 `json:"from_segment_id"`
	To        *int64 `json:"to_segment_id"`
	Customers int64  `json:"customers"`
}

// HistoryDetail is everything the history keeps of one run.
type HistoryDetail struct {
	Run       HistoryRun             `json:"run"`
	Timings   []manifest.Timing      `json:"timings"`
	Inputs    []manifest.Input       `json:"inputs"`
	Rejects   []manifest.RejectCount `json:"rejects"`
	Segments  []HistorySegment       `json:"segments"`
	Targets   []HistoryTarget        `json:"targets"`
	Migration []HistoryMigration     `json:"migration"`
	Manifest  json.RawMessage        `json:"manifest"`
}

// readHistory opens the output root's history read-only and runs fn on it
// with the file's schema version: this crmseg's, or an older one, which
// fn reads as it is (a read-only file is not migrated; the next run that
// records itself there migrates it).
func readHistory(ctx context.Context, root string, fn func(conn *sql.Conn, version int) error) error {
	path := filepath.Join(root, HistoryFile)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("no run history in %s yet (every run records itself there)", root)
		}
		return &HistoryError{Path: path, Op: "open it", Err: err}
	}
	return withScratchConn(ctx, func(conn *sql.Conn) error {
		if err := attachHistory(ctx, conn, path, true); err != nil {
			return err
		}
		defer detachHistory(ctx, conn)
		v, err := historyVersion(ctx, conn)
		if err == nil && (v < 1 || v > HistorySchemaVersion) {
			err = fmt.Errorf("expected schema version 1 to %d, found %d", HistorySchemaVersion, v)
			if v > HistorySchemaVersion {
				err = fmt.Errorf("%w: read it with a newer crmseg", err)
			}
		}
		if err == nil {
			err = fn(conn, v)
		}
		if err != nil {
			var he *HistoryError
			if !errors.As(err, &he) {
				err = &HistoryError{Path: path, Op: "read it", Err: err}
			}
		}
		return err
	})
}

// historyRunColumns are the runs columns scanHistoryRun reads from a
// history of schema version v: those a version lacks read as null.
func historyRunColumns(v int) string {
	peak := "peak_rss_bytes, coalesce(stage_peak_rss, '')"
	if v < 2 {
		peak = "NULL::BIGINT, ''"
	}
	return historyRunColumnsV1 + ", " + peak
}

const historyRunColumnsV1 = `run_id, status, coalesce(failed_stage, ''), coalesce(error, ''), exit_code,
	coalesce(strftime(as_of, '%Y-%m-%d'), ''), strftime(started_at, '%Y-%m-%dT%H:%M:%SZ'),
	strftime(finished_at, '%Y-%m-%dT%H:%M:%SZ'), seconds, coalesce(directory, ''),
	transactions_read, transactions_accepted, rejected_rows, customers, k, coalesce(segmentation_source, ''),
	inertia, silhouette, changed_share, compared, hysteresis_kept, delta_new, delta_changed, delta_exit,
	coalesce(crmseg_version, '')`

// scanHistoryRun scans historyRunColumns, then extra columns into extra.
func scanHistoryRun(row interface{ Scan(...any) error }, extra ...any) (HistoryRun, error) {
	var h HistoryRun
	var ints [11]sql.NullInt64
	var floats [3]sql.NullFloat64
	dest := []any{&h.RunID, &h.Status, &h.FailedStage, &h.Error, &h.ExitCode, &h.AsOf, &h.StartedAt, &h.FinishedAt,
		&h.Seconds, &h.Directory, &ints[0], &ints[1], &ints[2], &ints[3], &ints[4], &h.Source,
		&floats[0], &floats[1], &floats[2], &ints[5], &ints[6], &ints[7], &ints[8], &ints[9], &h.Version,
		&ints[10], &h.StagePeakRSS}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return h, err
	}
	for i, p := range []**int64{&h.TransactionsRead, &h.TransactionsAccepted, &h.RejectedRows, &h.Customers, &h.K,
		&h.Compared, &h.HysteresisKept, &h.DeltaNew, &h.DeltaChanged, &h.DeltaExit, &h.PeakRSSBytes} {
		if ints[i].Valid {
			v := ints[i].Int64
			*p = &v
		}
	}
	for i, p := range []**float64{&h.Inertia, &h.Silhouette, &h.ChangedShare} {
		if floats[i].Valid {
			v := floats[i].Float64
			*p = &v
		}
	}
	return h, nil
}

// ListHistory returns every run recorded in the output root's history,
// oldest first.
func ListHistory(ctx context.Context, root string) ([]HistoryRun, error) {
	var out []HistoryRun
	err := readHistory(ctx, root, func(conn *sql.Conn, v int) error {
		rows, err := conn.QueryContext(ctx, "SELECT "+historyRunColumns(v)+" FROM "+quoteIdent(historyAlias)+".runs ORDER BY started_at, run_id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanHistoryRun(rows)
			if err != nil {
				return err
			}
			out = append(out, h)
		}
		return rows.Err()
	})
	return out, err
}

// ShowHistory returns everything the output root's history keeps of one run.
func ShowHistory(ctx context.Context, root, runID string) (*HistoryDetail, error) {
	var d HistoryDetail
	err := readHistory(ctx, root, func(conn *sql.Conn, v int) error {
		h := quoteIdent(historyAlias)
		var manifestJSON string
		row := conn.QueryRowContext(ctx, "SELECT "+historyRunColumns(v)+", manifest FROM "+h+".runs WHERE run_id = $1", runID)
		run, err := scanHistoryRun(row, &manifestJSON)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s (crmseg history lists the runs)", ErrRunNotInHistory, runID)
		}
		if err != nil {
			return err
		}
		d.Run, d.Manifest = run, json.RawMessage(manifestJSON)
		peak := "coalesce(peak_rss_bytes, 0)"
		if v < 2 {
			peak = "0"
		}
		queries := []struct {
			q    string
			scan func(*sql.Rows) error
		}{
			{"SELECT stage, seconds, " + peak + " FROM " + h + ".run_timings WHERE run_id = $1 ORDER BY rowid", func(rows *sql.Rows) error {
				var t manifest.Timing
				err := rows.Scan(&t.Stage, &t.Seconds, &t.PeakRSSBytes)
				d.Timings = append(d.Timings, t)
				return err
			}},
			{"SELECT input_table, path, coalesce(format, ''), coalesce(rows, 0), coalesce(bytes, 0), coalesce(sha256, '') FROM " + h + ".run_inputs WHERE run_id = $1 ORDER BY rowid", func(rows *sql.Rows) error {
				var in manifest.Input
				err := rows.Scan(&in.Table, &in.Path, &in.Format, &in.Rows, &in.Bytes, &in.SHA256)
				d.Inputs = append(d.Inputs, in)
				return err
			}},
			{"SELECT source_table, reason, rows FROM " + h + ".run_rejects WHERE run_id = $1 ORDER BY source_table, reason", func(rows *sql.Rows) error {
				var rc manifest.RejectCount
				err := rows.Scan(&rc.Table, &rc.Reason, &rc.Rows)
				d.Rejects = append(d.Rejects, rc)
				return err
			}},
			{"SELECT segment_id, coalesce(segment_name, ''), coalesce(customers, 0), coalesce(customer_share, 0), coalesce(historical_ltv, 0), coalesce(objective, '') FROM " + h + ".run_segments WHERE run_id = $1 ORDER BY segment_id", func(rows *sql.Rows) error {
				var s HistorySegment
				err := rows.Scan(&s.ID, &s.Name, &s.Customers, &s.Share, &s.HistoricalLTV, &s.Objective)
				d.Segments = append(d.Segments, s)
				return err
			}},
			{"SELECT segment_id, metric, coalesce(unit, ''), baseline, low, high, target FROM " + h + ".run_targets WHERE run_id = $1 ORDER BY segment_id, metric", func(rows *sql.Rows) error {
				var t HistoryTarget
				var v [4]sql.NullFloat64
				err := rows.Scan(&t.SegmentID, &t.Metric, &t.Unit, &v[0], &v[1], &v[2], &v[3])
				for i, p := range []**float64{&t.Baseline, &t.Low, &t.High, &t.Target} {
					if v[i].Valid {
						f := v[i].Float64
						*p = &f
					}
				}
				d.Targets = append(d.Targets, t)
				return err
			}},
			{"SELECT from_segment_id, to_segment_id, customers FROM " + h + ".run_migration WHERE run_id = $1 ORDER BY from_segment_id NULLS FIRST, to_segment_id NULLS LAST", func(rows *sql.Rows) error {
				var m HistoryMigration
				var from, to sql.NullInt64
				err := rows.Scan(&from, &to, &m.Customers)
				if from.Valid {
					m.From = &from.Int64
				}
				if to.Valid {
					m.To = &to.Int64
				}
				d.Migration = append(d.Migration, m)
				return err
			}},
		}
		for _, q := range queries {
			if err := queryEach(ctx, conn, q.q, q.scan, runID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func queryEach(ctx context.Context, conn *sql.Conn, query string, scan func(*sql.Rows) error, args ...any) error {
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
