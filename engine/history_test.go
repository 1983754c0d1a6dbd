package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// historyLines queries the history file of an output root, one line per row.
func historyLines(t *testing.T, root, query string) []string {
	t.Helper()
	db := memoryDB(t)
	if _, err := db.Exec("ATTACH " + sqlquote.Literal(filepath.Join(root, store.HistoryFile)) + " AS h (READ_ONLY)"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	return stringRows(t, rows)
}

// TestHistoryRecordsRuns records a good run, a run failing on bad input,
// one failing while publishing and one refused by the lock, and reads
// them back.
func TestHistoryRecordsRuns(t *testing.T) {
	dir := t.TempDir()
	custPath, tx := writeHandmade(t, dir)
	out := filepath.Join(dir, "out")
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{Customers: config.InputSpec{Path: custPath}, Transactions: config.InputSpec{Path: tx}}
	cfg.Output = out
	cfg.Segmentation.K = 2
	cfg.Segmentation.Demographics = nil
	cfg.Rejects.MaxShare = 0.5
	good, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if good.HistoryErr != nil {
		t.Fatalf("good run not recorded: %v", good.HistoryErr)
	}

	bad := cfg
	bad.Inputs.Transactions.Path = filepath.Join(dir, "nope.parquet")
	if _, err := Run(context.Background(), bad, Options{ExitCode: cliExitCode}); cliExitCode(err) != exitRejected {
		t.Fatalf("run on a missing file: %v, want exit %d", err, exitRejected)
	}
	// Failing while writing the tables, with everything computed.
	if _, err := Run(context.Background(), cfg, Options{failAt: "publish:segments"}); !errors.Is(err, errInjected) {
		t.Fatalf("run failing in publish: %v", err)
	}
	// A run refused by the lock leaves no trace in the history.
	held, _, err := store.Acquire(out, store.LockHolder{PID: 1, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var le *store.LockedError
	if _, err := Run(context.Background(), cfg, Options{}); !errors.As(err, &le) {
		t.Errorf("run with the lock held: %v, want a LockedError", err)
	}
	held.Release()

	checkLines(t, "runs", historyLines(t, out, `SELECT concat_ws(' ', status, coalesce(failed_stage, '-'), exit_code,
		coalesce(CAST(as_of AS VARCHAR), '-'), coalesce(CAST(transactions_read AS VARCHAR), '-'), coalesce(CAST(k AS VARCHAR), '-'),
		coalesce(CAST(delta_new AS VARCHAR), '-'), coalesce(directory, '-'))
		FROM h.runs ORDER BY started_at, run_id`), []string{
		"succeeded - 0 2025-12-31 21 2 12 runs/" + good.RunID,
		"failed inspect 3 - - - - -",
		"failed publish 1 2025-12-31 21 2 0 -", // same customers as the good run: nobody new
	})
	errs := historyLines(t, out, "SELECT error FROM h.runs WHERE status = 'failed' ORDER BY started_at, run_id")
	if len(errs) != 2 || !strings.Contains(errs[0], "nope.parquet") || !strings.Contains(errs[1], "injected failure") {
		t.Errorf("errors of the failed runs: %q", errs)
	}
	checkLines(t, "schema version", historyLines(t, out, "SELECT key || '=' || value FROM h.meta"), []string{"schema_version=4"})

	// The good run's segments, metrics and targets are those it published.
	const segCols = "segment_id, segment_name, customers, customer_share, historical_ltv, objective, traits"
	want := tableLines(t, good.Dir, "segments", segCols, "segment_id")
	if len(want) != 2 {
		t.Fatalf("published segments: %q", want)
	}
	checkLines(t, "run_segments", historyLines(t, out, "SELECT concat_ws(' ', "+segCols+") FROM h.run_segments WHERE run_id = "+sqlquote.Literal(good.RunID)+" ORDER BY segment_id"), want)
	for table, file := range map[string]string{"run_metrics": "segment_metrics", "run_targets": "segment_targets", "run_migration": "segment_migration"} {
		n := historyLines(t, out, "SELECT count(*)::VARCHAR FROM h."+table+" WHERE run_id = "+sqlquote.Literal(good.RunID))
		rows := readTable(t, filepath.Join(good.Dir, file+".parquet"), "SELECT count(*)::VARCHAR FROM $TABLE")
		var published string
		if !rows.Next() || rows.Scan(&published) != nil || n[0] != published || published == "0" {
			t.Errorf("%s holds %s rows of the good run, %s has %s", table, n[0], file, published)
		}
	}

	// The reading API.
	runs, err := store.List(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].RunID != good.RunID || runs[0].Status != "succeeded" || *runs[0].Customers != 12 ||
		runs[1].Status != "failed" || runs[1].FailedStage != "inspect" || runs[1].Customers != nil {
		t.Errorf("ListHistory: %+v", runs)
	}
	d, err := store.Show(context.Background(), out, good.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var targets, shown []string
	rows := readTable(t, filepath.Join(good.Dir, "segment_targets.parquet"), "SELECT segment_id, metric, baseline, target FROM $TABLE ORDER BY segment_id, metric")
	for rows.Next() {
		var tg store.HistoryTarget
		var b, v float64
		if err := rows.Scan(&tg.SegmentID, &tg.Metric, &b, &v); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, fmt.Sprintf("%d %s %g %g", tg.SegmentID, tg.Metric, b, v))
	}
	for _, tg := range d.Targets {
		shown = append(shown, fmt.Sprintf("%d %s %g %g", tg.SegmentID, tg.Metric, *tg.Baseline, *tg.Target))
	}
	checkLines(t, "ShowHistory targets", shown, targets)
	if len(d.Segments) != 2 || d.Segments[0].ID != 1 || len(d.Rejects) != 2 || len(d.Inputs) != 2 ||
		len(d.Timings) == 0 || !strings.Contains(string(d.Manifest), `"run_id":"`+good.RunID+`"`) {
		t.Errorf("ShowHistory: %d segments, %d rejects, %d inputs, %d timings", len(d.Segments), len(d.Rejects), len(d.Inputs), len(d.Timings))
	}
	if _, err := store.Show(context.Background(), out, "20990101T000000Z-000000"); !errors.Is(err, store.ErrRunNotInHistory) {
		t.Errorf("ShowHistory of an unknown run: %v", err)
	}
}

// TestHistoryUnusable: a history file that cannot be read, with no latest
// to continue from, is evidence of earlier runs whose IDs are unknown: the
// run refuses before its work, naming the file and the fix, even with
// --reset-segments while the file is there. Moved aside, a run with
// --reset-segments starts afresh. A history that breaks while latest is
// usable does not stop a run from being published, but the run reports
// it (exit 4), naming the file, and reading the history fails with the
// same clear error.
func TestHistoryUnusable(t *testing.T) {
	dir := t.TempDir()
	custPath, tx := writeHandmade(t, dir)
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, store.HistoryFile)
	garbage := []byte(strings.Repeat("not a database\n", 400))
	if err := os.WriteFile(path, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{Customers: config.InputSpec{Path: custPath}, Transactions: config.InputSpec{Path: tx}}
	cfg.Output = out
	cfg.Segmentation.K = 1
	cfg.Rejects.MaxShare = 0.5
	for _, reset := range []bool{false, true} {
		_, err := Run(context.Background(), cfg, Options{ResetSegments: reset})
		var oe *store.OutputRootError
		if !errors.As(err, &oe) || cliExitCode(err) != exitUsage {
			t.Fatalf("reset %v: run with an unreadable history and no latest: %v (exit %d), want an *OutputRootError, exit 2", reset, err, cliExitCode(err))
		}
		for _, w := range []string{path + " exists but cannot be read", "latest is missing", "0 run directories found",
			"mv " + path + " " + path + ".unreadable", "--reset-segments", "from 1 only when none gives any"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("reset %v: error %q does not say %q", reset, err, w)
			}
		}
		runs, _ := os.ReadDir(filepath.Join(out, "runs"))
		if _, lerr := os.Lstat(filepath.Join(out, "latest")); !errors.Is(lerr, os.ErrNotExist) || len(runs) > 0 {
			t.Errorf("reset %v: a refused run left latest (%v) or %d run directories", reset, lerr, len(runs))
		}
	}

	// Moved aside: a new history, segments from 1 (nothing else is known).
	if err := os.Rename(path, path+".unreadable"); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), cfg, Options{ResetSegments: true})
	if err != nil || res.HistoryErr != nil {
		t.Fatalf("run with the history moved aside: %v, history %v", err, res.HistoryErr)
	}
	if len(res.Segments) != 1 || res.Segments[0].ID != 1 {
		t.Errorf("segments %+v after moving the history aside, want ID 1", res.Segments)
	}

	// Broken again, latest usable: published, exit 4.
	if err := os.WriteFile(path, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatalf("a bad history file with a usable latest failed the run: %v", err)
	}
	if target, _ := os.Readlink(filepath.Join(out, "latest")); target != filepath.Join("runs", res.RunID) {
		t.Errorf("latest -> %q, want the run, published", target)
	}
	var he *store.HistoryError
	if !errors.As(res.HistoryErr, &he) || he.Path != path || !he.Published || !strings.Contains(res.HistoryErr.Error(), path) {
		t.Fatalf("HistoryErr = %v, want a HistoryError naming %s", res.HistoryErr, path)
	}
	var re *RunError
	if !errors.As(res.HistoryErr, &re) || re.RunID != res.RunID {
		t.Errorf("HistoryErr = %#v, want a *RunError with the run's ID %s", res.HistoryErr, res.RunID)
	}
	_, err = store.List(context.Background(), out)
	if !errors.As(err, &he) || !strings.Contains(err.Error(), path) || cliExitCode(err) != exitFailure {
		t.Errorf("reading a bad history: %v (exit %d), want an error naming %s", err, cliExitCode(err), path)
	}
}
