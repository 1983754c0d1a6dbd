package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// The run history: a DuckDB file in the output root that keeps every run,
// succeeded or failed, with its figures, the segments, metrics, targets
// and migration of every succeeded run, and the plans of record (plan.go).
const (
	// HistoryFile is the history's file name in the output root.
	HistoryFile = "history.duckdb"
	// HistorySchemaVersion is the version of the history's tables this
	// crmseg writes; an older file is migrated forward when a run records
	// itself, a plan is committed or a scenario recorded, a newer one is
	// refused.
	HistorySchemaVersion = 6
	// scorecardSchemaVersion is the version that added the runs'
	// scorecards (the scorecard columns of runs, and run_scorecard).
	scorecardSchemaVersion = 5
	// experimentSchemaVersion is the version that added experiments (the
	// kind, experiment_name and base_run_id columns of runs) and their
	// promotions.
	experimentSchemaVersion = 6

	historyAlias = "run_history" // the file's name when attached
)

// historyMigrations[v] takes a history file from schema version v to v+1;
// version 0 is an empty file. Version 2 added the peak memory of runs and
// stages, version 3 the plans of record (plan.go), version 4 the scenarios
// (scenario.go), version 5 the runs' scorecards against the plans, version
// 6 experiments and their promotions (experiment.go).
var historyMigrations = []string{"schema_v1", "schema_v2", "schema_v3", "schema_v4", "schema_v5", "schema_v6"}

// The history's SQL: its schema migrations, the statements that copy a
// succeeded run's tables into it, and those of the plans of record.
//
//go:embed sql
var sqlFS embed.FS

// historySQL returns the embedded SQL file name (without .sql).
func historySQL(name string) (string, error) {
	b, err := sqlFS.ReadFile("sql/" + name + ".sql")
	if err != nil {
		return "", fmt.Errorf("no history SQL %q: %w", name, err)
	}
	return string(b), nil
}

// Record is a run as the history records it.
type Record struct {
	Manifest *manifest.Manifest
	Started  time.Time
	Finished time.Time
	// Err is why the run failed; nil when it succeeded. ExitCode is the
	// code the command exits with.
	Err      error
	ExitCode int
}

// RecordRun records rec in the history of the output root root, in one
// transaction: the file gains the whole record or nothing. An older file
// is migrated forward first; a newer one is refused.
//
// A succeeded run is recorded through conn, its own DuckDB session, whose
// tables segments, segment_metrics, segment_targets and segment_migration
// are copied into the history. A failed run has none: conn nil records it
// through a scratch in-memory database. It returns the run ID the record
// took: rec's, or, for a failed run whose ID another process took in the
// history meanwhile (a failed run has no directory to claim its ID), the
// first free one after it. Its error is a *HistoryError, never wrapped.
func RecordRun(ctx context.Context, conn *sql.Conn, root string, rec Record) (string, error) {
	path := filepath.Join(root, HistoryFile)
	var id string
	record := func(c *sql.Conn) (err error) {
		id, err = recordRun(ctx, c, path, rec)
		return err
	}
	var err error
	if conn == nil {
		err = withScratchConn(ctx, record)
	} else {
		err = record(conn)
	}
	if err == nil {
		return id, nil
	}
	var he *HistoryError
	if !errors.As(err, &he) {
		he = &HistoryError{Path: path, Op: "record the run", Err: err}
	}
	return id, he
}

// recordRun is RecordRun through conn, of the history file at path.
func recordRun(ctx context.Context, conn *sql.Conn, path string, rec Record) (id string, err error) {
	if err := attachHistory(ctx, conn, path, false); err != nil {
		return "", err
	}
	// After a commit the record is in; the file is detached either way.
	defer detachHistory(ctx, conn)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := migrateHistory(ctx, tx, "record runs"); err != nil {
		return "", err
	}

	m := rec.Manifest
	id = m.RunID
	if rec.Err != nil {
		id, err = firstFree(m.RunID, func(id string) (bool, error) {
			var n int
			err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+sqlquote.Ident(historyAlias)+".runs WHERE run_id = $1", id).Scan(&n)
			return n > 0, err
		})
		if err != nil {
			return "", err
		}
	}
	if e := m.Experiment; e != nil && rec.Err == nil {
		// The experiment's directory now holds this one: an earlier
		// experiment of the name (replaced) keeps its record, without it.
		if _, err := tx.ExecContext(ctx, "UPDATE "+sqlquote.Ident(historyAlias)+".runs SET directory = NULL WHERE kind = 'experiment' AND experiment_name = $1", e.Name); err != nil {
			return "", fmt.Errorf("recording runs: %w", err)
		}
	}
	if err := insertRow(ctx, tx, "runs", runRow(id, rec)); err != nil {
		return "", err
	}
	for _, t := range m.Timings {
		if err := insertRow(ctx, tx, "run_timings", []column{{"run_id", id}, {"stage", t.Stage}, {"seconds", t.Seconds},
			{"peak_rss_bytes", nullIfZero(t.PeakRSSBytes)}}); err != nil {
			return "", err
		}
	}
	for _, in := range m.Inputs {
		if err := insertRow(ctx, tx, "run_inputs", []column{{"run_id", id}, {"input_table", in.Table}, {"path", in.Path},
			{"format", in.Format}, {"rows", in.Rows}, {"bytes", in.Bytes}, {"sha256", in.SHA256}}); err != nil {
			return "", err
		}
	}
	for _, rc := range m.Quality.Rejects {
		if err := insertRow(ctx, tx, "run_rejects", []column{{"run_id", id}, {"source_table", rc.Table}, {"reason", rc.Reason},
			{"rows", rc.Rows}}); err != nil {
			return "", err
		}
	}
	if rec.Err == nil {
		for _, t := range []string{"segments", "metrics", "targets", "migration", "scorecard"} {
			q, err := historySQL("insert_" + t)
			if err != nil {
				return "", err
			}
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return "", fmt.Errorf("insert_%s: %w", t, err)
			}
		}
	}
	return id, tx.Commit()
}

// writeHistory attaches the history file at path to conn for writing,
// migrates it forward (before what is written, as migrateHistory says) and
// runs fn in one transaction, committed when fn returns nil: the file
// gains all of it or nothing.
func writeHistory(ctx context.Context, conn *sql.Conn, path, what string, fn func(tx *sql.Tx) error) (err error) {
	if err := attachHistory(ctx, conn, path, false); err != nil {
		return err
	}
	defer detachHistory(ctx, conn)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := migrateHistory(ctx, tx, what); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// migrateHistory brings the attached history to this crmseg's schema
// version in tx, before what (what is written) is written: an older file
// is migrated forward, a newer one refused.
func migrateHistory(ctx context.Context, tx *sql.Tx, what string) error {
	v, err := historyVersion(ctx, tx)
	if err != nil {
		return err
	}
	if v > HistorySchemaVersion {
		return fmt.Errorf("schema version %d is newer than this crmseg's (%d): %s with a newer crmseg", v, HistorySchemaVersion, what)
	}
	for ; v < HistorySchemaVersion; v++ {
		q, err := historySQL(historyMigrations[v])
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
	}
	_, err = tx.ExecContext(ctx, "UPDATE "+sqlquote.Ident(historyAlias)+".meta SET value = $1 WHERE key = 'schema_version'", strconv.Itoa(HistorySchemaVersion))
	return err
}

// column is a column of a history table and the value a record gives it.
type column struct {
	name  string
	value any
}

// insertRow inserts one row into a history table, each value bound to its
// column by name: a column added to a table, or to a row, cannot shift
// another.
func insertRow(ctx context.Context, tx *sql.Tx, table string, cols []column) error {
	names := make([]string, len(cols))
	params := make([]string, len(cols))
	args := make([]any, len(cols))
	for i, c := range cols {
		names[i], params[i], args[i] = sqlquote.Ident(c.name), "$"+strconv.Itoa(i+1), c.value
	}
	q := fmt.Sprintf("INSERT INTO %s.%s (%s) VALUES (%s)", sqlquote.Ident(historyAlias), sqlquote.Ident(table),
		strings.Join(names, ", "), strings.Join(params, ", "))
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("recording %s: %w", table, err)
	}
	return nil
}

// runRow is the runs row of a run. Figures of stages a failed run did not
// reach are null.
func runRow(id string, rec Record) []column {
	m := rec.Manifest
	reached := func(stage string) bool {
		return slices.ContainsFunc(m.Timings, func(t manifest.Timing) bool { return t.Stage == stage })
	}
	status, stage, msg, dir := "succeeded", any(nil), any(nil), any(filepath.Join("runs", id))
	if rec.Err != nil {
		status, msg, dir = "failed", rec.Err.Error(), nil
		stage = manifest.Stages[len(manifest.Stages)-1]
		for _, s := range manifest.Stages {
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
	delta := scored && m.Experiment == nil // an experiment writes no delta
	silhouette := float64(sq.Silhouette)
	manifestJSON, err := json.Marshal(m)
	if err != nil {
		manifestJSON = []byte("{}")
	}
	kind, expName, baseRun := "run", any(nil), any(nil)
	if e := m.Experiment; e != nil {
		kind, expName, baseRun = "experiment", e.Name, e.BaseRunID
		if rec.Err == nil {
			dir = ExperimentDirName(e.Name)
		}
	}
	sc, hasScorecard := m.Scorecard, m.Scorecard != nil
	carded := func(n int64) any { return orNull(hasScorecard, n) }
	if !hasScorecard {
		sc = &manifest.Scorecard{}
	}
	return []column{
		{"run_id", id}, {"status", status}, {"failed_stage", stage}, {"error", msg}, {"exit_code", int32(rec.ExitCode)},
		{"as_of", orNull(m.AsOf != "", m.AsOf)}, {"started_at", historyTimestamp(rec.Started)}, {"finished_at", historyTimestamp(rec.Finished)},
		{"seconds", math.Round(rec.Finished.Sub(rec.Started).Seconds()*1000) / 1000}, {"directory", dir},
		{"transactions_read", orNull(ingested, q.TransactionsRead)}, {"transactions_accepted", orNull(ingested, q.TransactionsAccepted)},
		{"rejected_rows", orNull(ingested, rejected)},
		{"customers", orNull(segmented, int64(sq.Customers))}, {"k", orNull(segmented, int32(sq.K))},
		{"segmentation_source", orNull(segmented, sq.Source)}, {"inertia", orNull(segmented, sq.Inertia)},
		{"silhouette", orNull(segmented && !math.IsNaN(silhouette), silhouette)},
		{"changed_share", orNull(scored, sq.ChangedShare)}, {"compared", orNull(scored, sq.Compared)},
		{"hysteresis_kept", orNull(segmented, sq.HysteresisKept)},
		{"delta_new", orNull(delta, q.Delta.New)}, {"delta_changed", orNull(delta, q.Delta.Changed)}, {"delta_exit", orNull(delta, q.Delta.Exit)},
		{"seed", m.Seed}, {"crmseg_version", m.Versions["crmseg"]}, {"manifest", string(manifestJSON)},
		{"peak_rss_bytes", nullIfZero(m.PeakRSSBytes)}, {"stage_peak_rss", orNull(m.StagePeakRSS != "", m.StagePeakRSS)},
		{"scorecard_plan_id", carded(int64(sc.PlanID))}, {"scorecard_ahead", carded(sc.Ahead)}, {"scorecard_on_track", carded(sc.OnTrack)},
		{"scorecard_at_risk", carded(sc.AtRisk)}, {"scorecard_behind", carded(sc.Behind)},
		{"kind", kind}, {"experiment_name", expName}, {"base_run_id", baseRun},
	}
}

// historyTimestamp is t as a history's TIMESTAMP column takes it: UTC.
func historyTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000") }

// nullIfZero is a figure for the history, null when it was not measured.
func nullIfZero(n int64) any {
	if n == 0 {
		return nil
	}
	return n
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
		return queryEach(ctx, conn, "SELECT run_id FROM "+sqlquote.Ident(historyAlias)+".runs WHERE starts_with(run_id, $1)", func(rows *sql.Rows) error {
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
// and the highest segment ID any of them gave (0 when none did); and, in
// the same read, its active plans of record with their targets (none in a
// history from before plans). No history file means no run was ever
// recorded: nothing, and no error.
func historyPublished(ctx context.Context, root string) (dirs []string, maxID int, plans []Plan, err error) {
	if _, err := os.Stat(filepath.Join(root, HistoryFile)); errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil, nil
	}
	err = readHistory(ctx, root, func(conn *sql.Conn, v int) error {
		h := sqlquote.Ident(historyAlias)
		runsOnly := ""
		if v >= experimentSchemaVersion {
			runsOnly = " AND coalesce(kind, 'run') = 'run'" // an experiment is never a run to continue
		}
		err := queryEach(ctx, conn, "SELECT directory FROM "+h+".runs WHERE status = 'succeeded' AND directory IS NOT NULL"+runsOnly+" ORDER BY started_at DESC, run_id DESC",
			func(rows *sql.Rows) error {
				var d string
				err := rows.Scan(&d)
				dirs = append(dirs, d)
				return err
			})
		if err != nil {
			return err
		}
		if err := conn.QueryRowContext(ctx, "SELECT coalesce(max(segment_id), 0) FROM "+h+".run_segments").Scan(&maxID); err != nil || v < 3 {
			return err
		}
		plans, err = activePlans(ctx, conn)
		return err
	})
	return dirs, maxID, plans, err
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
	q := "ATTACH " + sqlquote.Literal(path) + " AS " + sqlquote.Ident(historyAlias)
	if readOnly {
		q += " (READ_ONLY)"
	}
	deadline := time.Now().Add(wait)
	pause := 100 * time.Millisecond
	seenHeld := false
	for {
		_, err := conn.ExecContext(ctx, q)
		if err == nil {
			return nil
		}
		var de *duckdb.Error
		if !errors.As(err, &de) || de.Type != duckdb.ErrorTypeIO || !isDuckDBFile(path) {
			return &HistoryError{Path: path, Op: "open it (not a readable DuckDB file?)", Err: err}
		}
		// A DuckDB file DuckDB could not open: held by another process,
		// which its locks say, unless that process let go in between
		// (then the next attempt opens it); or damaged.
		seenHeld = seenHeld || fileLockedByOther(path, !readOnly)
		if time.Now().Add(pause).After(deadline) {
			op := fmt.Sprintf("open it: another process kept it open for %s", wait)
			if !seenHeld {
				op = fmt.Sprintf("open it: no other process was seen holding it, and it could not be opened for %s (damaged?)", wait)
			}
			return &HistoryError{Path: path, Op: op, Err: err}
		}
		select {
		case <-ctx.Done():
			return &HistoryError{Path: path, Op: "open it", Err: ctx.Err()}
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// isDuckDBFile says whether the file at path starts as a DuckDB database
// file does: a checksum, then the magic bytes DUCK. DuckDB's error types do
// not tell a file another process holds from one that is not a database,
// so a file that is one is retried.
func isDuckDBFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [12]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return false
	}
	return string(head[8:12]) == "DUCK"
}

func detachHistory(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(context.WithoutCancel(ctx), "DETACH "+sqlquote.Ident(historyAlias))
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
	if err := q.QueryRowContext(ctx, "SELECT value FROM "+sqlquote.Ident(historyAlias)+".meta WHERE key = 'schema_version'").Scan(&v); err != nil {
		return 0, fmt.Errorf("schema_version: %w", err)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("schema_version: expected a positive integer, found %q", v)
	}
	return n, nil
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
	// ScorecardPlanID is the plan of record the run's scorecard measured
	// (schema version 5), and the others its targets by status; nil
	// without a scorecard (no plan covered the run's as_of).
	ScorecardPlanID  *int64 `json:"scorecard_plan_id"`
	ScorecardAhead   *int64 `json:"scorecard_ahead"`
	ScorecardOnTrack *int64 `json:"scorecard_on_track"`
	ScorecardAtRisk  *int64 `json:"scorecard_at_risk"`
	ScorecardBehind  *int64 `json:"scorecard_behind"`
	// Kind is run, or experiment (schema version 6): an experiment's
	// ExperimentName and BaseRunID, the published run whose inputs it read.
	Kind           string `json:"kind"`
	ExperimentName string `json:"experiment_name,omitempty"`
	BaseRunID      string `json:"base_run_id,omitempty"`
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

// HistoryScorecard is one row of a recorded run's segment_scorecard: a
// target of the plan of record measured to date.
type HistoryScorecard struct {
	PlanID       int      `json:"plan_id"`
	SegmentID    int      `json:"segment_id"`
	SegmentName  string   `json:"segment_name"`
	Metric       string   `json:"metric"`
	Unit         string   `json:"unit"`
	DaysElapsed  int64    `json:"days_elapsed"`
	HorizonDays  int64    `json:"horizon_days"`
	ActualToDate *float64 `json:"actual_to_date"`
	Expected     *float64 `json:"expected_to_date"`
	Target       *float64 `json:"target_full_year"`
	Projected    *float64 `json:"projected_year_end"`
	Status       string   `json:"status,omitempty"` // empty when undefined to date
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
	// Plans are the plans of record committed from the run, without their
	// targets (crmseg plan show has them).
	Plans    []Plan          `json:"plans"`
	Manifest json.RawMessage `json:"manifest"`

	// Scorecard is the run's segment_scorecard: its plan's targets measured
	// to date; empty when no plan covered its as_of (and for runs recorded
	// before schema version 5).
	Scorecard []HistoryScorecard `json:"scorecard"`
}

// readHistory opens the output root's history read-only and runs fn on it
// with the file's schema version: this crmseg's, or an older one, which
// fn reads as it is (a read-only file is not migrated; the next run that
// records itself there, or the next plan commit, migrates it).
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

// runField is a column of the runs table as HistoryRun reads it: the SQL
// that reads it (the column, with what stands for its null or its absence
// from an older schema version) and where it goes.
type runField struct {
	expr string
	dest any
}

// fields pairs each column of the runs table with its field of h, for a
// history of schema version v: a column added to the table is read by its
// name and cannot shift another.
func (h *HistoryRun) fields(v int) []runField {
	text := func(col string) string { return "coalesce(" + col + ", '')" }
	f := []runField{
		{"run_id", &h.RunID}, {"status", &h.Status}, {text("failed_stage"), &h.FailedStage}, {text("error"), &h.Error},
		{"exit_code", &h.ExitCode}, {text("strftime(as_of, '%Y-%m-%d')"), &h.AsOf},
		{"strftime(started_at, '%Y-%m-%dT%H:%M:%SZ')", &h.StartedAt}, {"strftime(finished_at, '%Y-%m-%dT%H:%M:%SZ')", &h.FinishedAt},
		{"seconds", &h.Seconds}, {text("directory"), &h.Directory},
		{"transactions_read", optional(&h.TransactionsRead)}, {"transactions_accepted", optional(&h.TransactionsAccepted)},
		{"rejected_rows", optional(&h.RejectedRows)}, {"customers", optional(&h.Customers)}, {"k", optional(&h.K)},
		{text("segmentation_source"), &h.Source}, {"inertia", optional(&h.Inertia)}, {"silhouette", optional(&h.Silhouette)},
		{"changed_share", optional(&h.ChangedShare)}, {"compared", optional(&h.Compared)},
		{"hysteresis_kept", optional(&h.HysteresisKept)}, {"delta_new", optional(&h.DeltaNew)},
		{"delta_changed", optional(&h.DeltaChanged)}, {"delta_exit", optional(&h.DeltaExit)},
		{text("crmseg_version"), &h.Version},
		{"peak_rss_bytes", optional(&h.PeakRSSBytes)}, {text("stage_peak_rss"), &h.StagePeakRSS},
	}
	if v < 2 { // version 1 has no peak memory
		f[len(f)-2].expr, f[len(f)-1].expr = "NULL::BIGINT", "''"
	}
	scorecard := []runField{{"scorecard_plan_id", optional(&h.ScorecardPlanID)}, {"scorecard_ahead", optional(&h.ScorecardAhead)},
		{"scorecard_on_track", optional(&h.ScorecardOnTrack)}, {"scorecard_at_risk", optional(&h.ScorecardAtRisk)},
		{"scorecard_behind", optional(&h.ScorecardBehind)}}
	if v < scorecardSchemaVersion { // no scorecards before it
		for i := range scorecard {
			scorecard[i].expr = "NULL::BIGINT"
		}
	}
	experiment := []runField{{"coalesce(kind, 'run')", &h.Kind}, {text("experiment_name"), &h.ExperimentName}, {text("base_run_id"), &h.BaseRunID}}
	if v < experimentSchemaVersion { // every run before it is a run
		experiment[0].expr, experiment[1].expr, experiment[2].expr = "'run'", "''", "''"
	}
	return append(append(f, scorecard...), experiment...)
}

// scanRun reads the runs rows query selects (SELECT <the fields> FROM
// runs..., built by runQuery), then extra columns into extra.
func scanRun(row interface{ Scan(...any) error }, v int, extra ...any) (HistoryRun, error) {
	var h HistoryRun
	var dest []any
	for _, f := range h.fields(v) {
		dest = append(dest, f.dest)
	}
	err := row.Scan(append(dest, extra...)...)
	return h, err
}

// runQuery selects the fields of HistoryRun from the runs table of a
// history of schema version v, then the extra columns, then rest (FROM is
// added).
func runQuery(v int, extra, rest string) string {
	var exprs []string
	for _, f := range new(HistoryRun).fields(v) {
		exprs = append(exprs, f.expr)
	}
	if extra != "" {
		exprs = append(exprs, extra)
	}
	return "SELECT " + strings.Join(exprs, ", ") + " FROM " + sqlquote.Ident(historyAlias) + ".runs " + rest
}

// optional scans a nullable column into a pointer: nil for null.
func optional[T int | int64 | float64](p **T) sql.Scanner { return optionalScanner[T]{p} }

type optionalScanner[T int | int64 | float64] struct{ p **T }

func (o optionalScanner[T]) Scan(src any) error {
	var n sql.Null[T]
	if err := n.Scan(src); err != nil {
		return err
	}
	*o.p = nil
	if n.Valid {
		*o.p = &n.V
	}
	return nil
}

// List returns every run recorded in the output root's history,
// oldest first.
func List(ctx context.Context, root string) ([]HistoryRun, error) {
	var out []HistoryRun
	err := readHistory(ctx, root, func(conn *sql.Conn, v int) error {
		rows, err := conn.QueryContext(ctx, runQuery(v, "", "ORDER BY started_at, run_id"))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanRun(rows, v)
			if err != nil {
				return err
			}
			out = append(out, h)
		}
		return rows.Err()
	})
	return out, err
}

// Show returns everything the output root's history keeps of one run.
func Show(ctx context.Context, root, runID string) (*HistoryDetail, error) {
	var d HistoryDetail
	err := readHistory(ctx, root, func(conn *sql.Conn, v int) error {
		h := sqlquote.Ident(historyAlias)
		var manifestJSON string
		row := conn.QueryRowContext(ctx, runQuery(v, "manifest", "WHERE run_id = $1"), runID)
		run, err := scanRun(row, v, &manifestJSON)
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
				err := rows.Scan(&t.SegmentID, &t.Metric, &t.Unit, optional(&t.Baseline), optional(&t.Low), optional(&t.High), optional(&t.Target))
				d.Targets = append(d.Targets, t)
				return err
			}},
			{"SELECT from_segment_id, to_segment_id, customers FROM " + h + ".run_migration WHERE run_id = $1 ORDER BY from_segment_id NULLS FIRST, to_segment_id NULLS LAST", func(rows *sql.Rows) error {
				var m HistoryMigration
				err := rows.Scan(optional(&m.From), optional(&m.To), &m.Customers)
				d.Migration = append(d.Migration, m)
				return err
			}},
		}
		for _, q := range queries {
			if err := queryEach(ctx, conn, q.q, q.scan, runID); err != nil {
				return err
			}
		}
		if v >= 3 {
			if d.Plans, err = queryPlans(ctx, conn, "WHERE run_id = $1", runID); err != nil {
				return err
			}
		}
		if v >= scorecardSchemaVersion {
			err = queryEach(ctx, conn, `SELECT plan_id, segment_id, coalesce(segment_name, ''), metric, coalesce(unit, ''), days_elapsed, horizon_days,
				actual_to_date, expected_to_date, target_full_year, projected_year_end, coalesce(status, '')
				FROM `+h+".run_scorecard WHERE run_id = $1 ORDER BY segment_id, metric", func(rows *sql.Rows) error {
				var c HistoryScorecard
				err := rows.Scan(&c.PlanID, &c.SegmentID, &c.SegmentName, &c.Metric, &c.Unit, &c.DaysElapsed, &c.HorizonDays,
					optional(&c.ActualToDate), optional(&c.Expected), optional(&c.Target), optional(&c.Projected), &c.Status)
				d.Scorecard = append(d.Scorecard, c)
				return err
			}, runID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// querier is a connection or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryEach runs query and scan on each of its rows.
func queryEach(ctx context.Context, q querier, query string, scan func(*sql.Rows) error, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
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
