package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// TestRunPeakMemory: every stage of a run has its peak memory in the
// manifest, the published manifest.json and the run history, and the run's
// peak is at least every stage's.
func TestRunPeakMemory(t *testing.T) {
	dir := t.TempDir()
	custPath, tx := writeHandmade(t, dir)
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{Customers: config.InputSpec{Path: custPath}, Transactions: config.InputSpec{Path: tx}}
	cfg.Output = filepath.Join(dir, "out")
	cfg.Segmentation.K = 2
	cfg.Rejects.MaxShare = 0.5
	// The old run's directory is not there: without latest, only a fresh
	// numbering of the segments can go on (see TestLostLatestKeepsSegmentIDs).
	res, err := Run(context.Background(), cfg, Options{ResetSegments: true})
	if err != nil {
		t.Fatal(err)
	}
	if maxRSS() == 0 {
		t.Skip("peak memory is not measured on this system")
	}
	b, err := os.ReadFile(filepath.Join(res.Dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man manifest.Manifest
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	if man.StagePeakRSS != StagePeakRSSStage && man.StagePeakRSS != StagePeakRSSSoFar {
		t.Errorf("stage_peak_rss = %q, expected %q or %q", man.StagePeakRSS, StagePeakRSSStage, StagePeakRSSSoFar)
	}
	t.Logf("stage peaks measured as %s; run peak %d bytes", man.StagePeakRSS, man.PeakRSSBytes)
	var stages []string
	for _, tm := range man.Timings {
		stages = append(stages, tm.Stage)
		if tm.PeakRSSBytes <= 0 {
			t.Errorf("stage %s: peak_rss_bytes = %d, expected > 0", tm.Stage, tm.PeakRSSBytes)
		}
		if man.PeakRSSBytes < tm.PeakRSSBytes {
			t.Errorf("run peak_rss_bytes %d is below stage %s's %d", man.PeakRSSBytes, tm.Stage, tm.PeakRSSBytes)
		}
	}
	if !slices.Equal(stages, manifest.Stages) {
		t.Errorf("timed stages %v, expected %v", stages, manifest.Stages)
	}
	if p := PeakRSS(); p < man.PeakRSSBytes {
		t.Errorf("PeakRSS() = %d after the run, below the run's %d", p, man.PeakRSSBytes)
	}

	d, err := store.Show(context.Background(), cfg.Output, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Run.PeakRSSBytes == nil || *d.Run.PeakRSSBytes != man.PeakRSSBytes || d.Run.StagePeakRSS != man.StagePeakRSS {
		t.Errorf("history: run peak %v (%q), expected %d (%q)", d.Run.PeakRSSBytes, d.Run.StagePeakRSS, man.PeakRSSBytes, man.StagePeakRSS)
	}
	if !slices.Equal(d.Timings, man.Timings) {
		t.Errorf("history timings %+v, expected the manifest's %+v", d.Timings, man.Timings)
	}
}

// TestStagePeakReset: where VmHWM can be reset, a stage that allocates
// less than an earlier one reports its own, smaller peak.
func TestStagePeakReset(t *testing.T) {
	how := startStagePeakRSS()
	if how != StagePeakRSSStage {
		t.Skipf("VmHWM cannot be reset here (%s)", how)
	}
	bigPeak := func() int64 {
		big := make([]byte, 256<<20)
		for i := range big {
			big[i] = 1
		}
		return stagePeakRSS(how) + int64(big[len(big)-1]-1)
	}()
	// Return the pages to the system before the next stage starts.
	debug.FreeOSMemory()
	how = startStagePeakRSS()
	small := stagePeakRSS(how)
	if small >= bigPeak || small <= 0 {
		t.Errorf("peak after a reset %d, expected between 0 and the earlier stage's %d", small, bigPeak)
	}
	if p := PeakRSS(); p < bigPeak {
		t.Errorf("PeakRSS() = %d, below the earlier stage's %d: the reset lost it", p, bigPeak)
	}
}

// TestHistoryOldSchema: a history file of schema version 1 (before peak
// memory) is read as it is, then migrated by the next run that records
// itself there, its old runs kept.
func TestHistoryOldSchema(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// A version 1 file, as crmseg wrote it before version 2.
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	v1, err := os.ReadFile(filepath.Join("store", "sql", "schema_v1.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"ATTACH " + sqlquote.Literal(filepath.Join(out, store.HistoryFile)) + " AS run_history",
		string(v1),
		`INSERT INTO run_history.runs (run_id, status, exit_code, as_of, started_at, finished_at, seconds, directory, customers, k, manifest)
			VALUES ('20250101T000000Z-old', 'succeeded', 0, '2024-12-31', '2025-01-01 00:00:00', '2025-01-01 00:01:00', 60, 'runs/20250101T000000Z-old', 12, 2, '{}')`,
		"INSERT INTO run_history.run_timings VALUES ('20250101T000000Z-old', 'ingest', 1.5), ('20250101T000000Z-old', 'features', 2.5)",
		"DETACH run_history",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("writing a version 1 history: %v", err)
		}
	}
	db.Close()

	runs, err := store.List(context.Background(), out)
	if err != nil {
		t.Fatalf("reading a version 1 history: %v", err)
	}
	if len(runs) != 1 || runs[0].RunID != "20250101T000000Z-old" || runs[0].PeakRSSBytes != nil || *runs[0].K != 2 {
		t.Fatalf("version 1 history read as %+v", runs)
	}
	d, err := store.Show(context.Background(), out, "20250101T000000Z-old")
	if err != nil {
		t.Fatalf("showing a run of a version 1 history: %v", err)
	}
	if want := []manifest.Timing{{Stage: "ingest", Seconds: 1.5}, {Stage: "features", Seconds: 2.5}}; !slices.Equal(d.Timings, want) {
		t.Errorf("version 1 timings read as %+v, expected %+v", d.Timings, want)
	}
	checkLines(t, "schema version before a run", historyLines(t, out, "SELECT value FROM h.meta WHERE key = 'schema_version'"), []string{"1"})

	custPath, tx := writeHandmade(t, dir)
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{Customers: config.InputSpec{Path: custPath}, Transactions: config.InputSpec{Path: tx}}
	cfg.Output = out
	cfg.Segmentation.K = 2
	cfg.Rejects.MaxShare = 0.5
	// The old run's directory is not there: without latest, only a fresh
	// numbering of the segments can go on (see TestLostLatestKeepsSegmentIDs).
	res, err := Run(context.Background(), cfg, Options{ResetSegments: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.HistoryErr != nil {
		t.Fatalf("run not recorded in a version 1 history: %v", res.HistoryErr)
	}
	checkLines(t, "schema version after a run", historyLines(t, out, "SELECT value FROM h.meta WHERE key = 'schema_version'"), []string{"4"})
	runs, err = store.List(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].RunID != "20250101T000000Z-old" || runs[0].PeakRSSBytes != nil || runs[1].RunID != res.RunID {
		t.Fatalf("migrated history: %+v", runs)
	}
	if maxRSS() > 0 && (runs[1].PeakRSSBytes == nil || *runs[1].PeakRSSBytes != res.Manifest.PeakRSSBytes) {
		t.Errorf("new run's peak in the migrated history: %v, expected %d", runs[1].PeakRSSBytes, res.Manifest.PeakRSSBytes)
	}
	d, err = store.Show(context.Background(), out, "20250101T000000Z-old")
	if err != nil || len(d.Timings) != 2 || d.Timings[0].PeakRSSBytes != 0 {
		t.Errorf("old run after the migration: %+v, %v", d, err)
	}
}
