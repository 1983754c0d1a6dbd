package main

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/report"
)

// reportDemo is a demo output root with two runs (the second has a
// previous run to compare with), made once per test binary.
var reportDemo struct {
	once sync.Once
	dir  string // the demo's --out
	runs []string
	err  string
}

// demoRuns makes the demo twice into one output root and returns the run
// directories, oldest first.
func demoRuns(t *testing.T) []string {
	t.Helper()
	reportDemo.once.Do(func() {
		dir, err := os.MkdirTemp("", "crmseg-report-")
		if err != nil {
			reportDemo.err = err.Error()
			return
		}
		reportDemo.dir = dir
		for range 2 {
			code, stdout, stderr := run(t, "demo", "--out", dir, "--customers", "2000", "--log-level", "warn")
			if code != 0 {
				reportDemo.err = "demo: " + stderr
				return
			}
			if !strings.Contains(stdout, "report:  "+dir) || !strings.Contains(stdout, "report.html") {
				reportDemo.err = "demo does not say where its report is:\n" + stdout
				return
			}
		}
		entries, err := os.ReadDir(filepath.Join(dir, "out", "runs"))
		if err != nil {
			reportDemo.err = err.Error()
			return
		}
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				reportDemo.runs = append(reportDemo.runs, filepath.Join(dir, "out", "runs", e.Name()))
			}
		}
	})
	if reportDemo.err != "" {
		t.Fatal(reportDemo.err)
	}
	if len(reportDemo.runs) != 2 {
		t.Fatalf("want 2 demo runs, found %v", reportDemo.runs)
	}
	return reportDemo.runs
}

func readManifest(t *testing.T, dir string) manifest.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReportRebuilt: every run writes report.html, listed with its hash
// among the manifest's outputs, under 2 MB; crmseg report rebuilds the same
// bytes from the published run; the first run says it has no previous run,
// the second shows the movement.
func TestReportRebuilt(t *testing.T) {
	runs := demoRuns(t)
	for i, dir := range runs {
		path := filepath.Join(dir, "report.html")
		written, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(written) >= 2<<20 {
			t.Errorf("%s: %d bytes, want under 2 MB", path, len(written))
		}
		man := readManifest(t, dir)
		sum := sha256.Sum256(written)
		listed := false
		for _, o := range man.Outputs {
			for _, f := range o.Files {
				if f.Path == "report.html" {
					listed = true
					if f.SHA256 != hex.EncodeToString(sum[:]) || f.Bytes != int64(len(written)) {
						t.Errorf("%s: the manifest lists %d bytes, sha256 %s; the file has %d, %x", path, f.Bytes, f.SHA256, len(written), sum)
					}
				}
			}
		}
		if !listed {
			t.Errorf("%s: not among the manifest's outputs", path)
		}

		out := filepath.Join(t.TempDir(), "rebuilt.html")
		code, stdout, stderr := run(t, "report", dir, "--out", out)
		if code != 0 {
			t.Fatalf("crmseg report exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, out) {
			t.Errorf("crmseg report printed %q, want the path written", stdout)
		}
		rebuilt, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rebuilt, written) {
			t.Errorf("%s: crmseg report gives %d bytes that differ from the run's %d", dir, len(rebuilt), len(written))
		}
		first := bytes.Contains(written, []byte("first run: there is no previous run"))
		if first != (i == 0) || bytes.Contains(written, []byte(`data-table="migration"`)) == (i == 0) {
			t.Errorf("%s (run %d): first-run sentence %v, migration table %v", dir, i+1, first, !first)
		}
	}

	// A run published before segment_migration named the previous run's
	// segments still gets its report, its segments then by number.
	old := t.TempDir()
	entries, err := os.ReadDir(runs[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(runs[1], e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(old, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migration := filepath.Join(old, "segment_migration.parquet")
	if _, err := db.Exec("COPY (SELECT * EXCLUDE (from_segment_name, to_segment_name) FROM read_parquet(?)) TO '"+migration+".old' (FORMAT parquet)", migration); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(migration+".old", migration); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "old.html")
	if code, _, stderr := run(t, "report", old, "--out", out); code != 0 {
		t.Errorf("crmseg report of a run without segment_migration's names: exit %d: %s", code, stderr)
	} else if page, err := os.ReadFile(out); err != nil || !bytes.Contains(page, []byte(`data-table="migration"`)) || !bytes.Contains(page, []byte("<td>previous 1</td>")) {
		t.Errorf("report of a run without segment_migration's names: %v; want the migration table, its segments by number", err)
	}

	if code, _, stderr := run(t, "report", t.TempDir()); code != exitFailure || !strings.Contains(stderr, "expected a run directory holding manifest.json") {
		t.Errorf("crmseg report on an empty directory: exit %d, %s", code, stderr)
	}
	if code, _, stderr := run(t, "report"); code != exitUsage || !strings.Contains(stderr, "report takes one run directory") {
		t.Errorf("crmseg report without a directory: exit %d, %s", code, stderr)
	}
}

// TestReportInBrowser loads the demo runs' reports in headless Chromium,
// network off: no console error, no request, every chart drawn, every
// table with its documented rows, a screenshot that is not blank.
func TestReportInBrowser(t *testing.T) {
	browser := findBrowser(t)
	runs := demoRuns(t)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(dir, table, where string) int {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM (" + strings.ReplaceAll(where, "$T", "read_parquet('"+filepath.Join(dir, table+".parquet")+"')") + ")").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i, dir := range runs {
		man := readManifest(t, dir)
		segments := count(dir, "segments", "SELECT * FROM $T")
		rows := map[string]int{
			report.TableSegments:   segments,
			report.TableValue:      segments,
			report.TablePairs:      count(dir, "category_pairs", "SELECT * FROM $T WHERE segment_id > 0 AND pair_rank <= 5"),
			report.TableTargets:    count(dir, "segment_targets", "SELECT * FROM $T"),
			report.TableKSelection: count(dir, "k_selection", "SELECT * FROM $T"),
			report.TableBacktest:   count(dir, "model_backtest", "SELECT * FROM $T WHERE grouping IN ('all', 'segment')"),
			report.TableInputs:     len(man.Inputs),
		}
		if i > 0 {
			rows[report.TableMigration] = count(dir, "segment_migration", "SELECT DISTINCT from_segment_id FROM $T")
		}
		if n := count(dir, "segment_scorecard", "SELECT * FROM $T"); n > 0 {
			rows[report.TableScorecard] = n
		}
		if n := len(man.Quality.Rejects); n > 0 {
			rows[report.TableRejects] = n
		}
		charts := []string{report.ChartProfile, report.ChartHistorical, report.ChartPredicted, report.ChartPAlive, report.ChartRetention,
			report.ChartTargets, report.ChartKSelection, report.ChartBacktest}
		if i > 0 {
			charts = append(charts, report.ChartMigration)
		}
		path := filepath.Join(dir, "report.html")
		checkPage(t, path, inspectPage(t, browser, path), charts, rows)
	}
}
