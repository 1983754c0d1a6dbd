package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/store"
)

// TestHistoryCommand records a good run and a run failing on a missing
// file, then lists and shows them.
func TestHistoryCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, stderr := run(t, "generate", "--customers", "300", "--seed", "3", "--out", data); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	root := filepath.Join(dir, "out")
	tx := filepath.Join(data, "transactions.parquet")
	code, stdout, stderr := run(t, "run", "--transactions", tx, "--customers", filepath.Join(data, "customers.parquet"),
		"--out", root, "--k", "3")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	goodID := strings.Fields(stdout)[1] // "run <id> as of ..."
	missing := filepath.Join(dir, "missing.parquet")
	if code, _, _ := run(t, "run", "--transactions", missing, "--out", root); code != exitRejected {
		t.Fatalf("run on a missing file: exit %d, want %d", code, exitRejected)
	}

	code, stdout, stderr = run(t, "history", "--out", root)
	if code != 0 {
		t.Fatalf("history: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "run ") {
		t.Fatalf("history lists %d lines, want a header and 2 runs:\n%s", len(lines), stdout)
	}
	if f := strings.Fields(lines[1]); f[0] != goodID || f[1] != "succeeded" || f[3] != "300" || f[4] != "3" || f[7] != "300/0/0" {
		t.Errorf("good run listed as %q", lines[1])
	}
	if f := strings.Fields(lines[2]); f[1] != "failed" || !strings.Contains(lines[2], "inspect: "+missing) {
		t.Errorf("failed run listed as %q", lines[2])
	}

	code, stdout, _ = run(t, "history", "--out", root, "--json")
	var list struct{ Runs []store.HistoryRun }
	if err := json.Unmarshal([]byte(stdout), &list); code != 0 || err != nil {
		t.Fatalf("history --json: exit %d, %v:\n%s", code, err, stdout)
	}
	if len(list.Runs) != 2 || list.Runs[0].RunID != goodID || list.Runs[1].ExitCode != exitRejected || list.Runs[1].Customers != nil {
		t.Errorf("history --json: %+v", list.Runs)
	}

	// One run, by argument (before or after the flags) or by --run.
	for _, args := range [][]string{{"history", "--out", root, goodID}, {"history", goodID, "--out", root}} {
		code, stdout, stderr = run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, w := range []string{"run            " + goodID, "status         succeeded (exit 0)", "segmentation   k 3 (trained), 300 customers",
			"delta          300 new, 0 changed, 0 exit", "segments:", "targets (next 12 months):", "revenue_12m", "migration since the previous run:",
			"peak memory    ", "MiB, features "} {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v lacks %q:\n%s", args, w, stdout)
			}
		}
		segs, _, _ := strings.Cut(stdout[strings.Index(stdout, "\nsegments:"):], "\ntargets")
		if n := len(strings.Split(strings.TrimSpace(segs), "\n")); n != 2+3 {
			t.Errorf("%v: %d lines of segments, want a header and 3:\n%s", args, n-2, stdout)
		}
	}
	code, stdout, _ = run(t, "history", "--out", root, "--run", list.Runs[1].RunID, "--json")
	var d store.HistoryDetail
	if err := json.Unmarshal([]byte(stdout), &d); code != 0 || err != nil {
		t.Fatalf("history --run --json: exit %d, %v:\n%s", code, err, stdout)
	}
	if d.Run.Status != "failed" || d.Run.FailedStage != "inspect" || !strings.Contains(d.Run.Error, missing) || len(d.Segments) != 0 {
		t.Errorf("failed run shown as %+v", d.Run)
	}
	var man struct{ Status string }
	if err := json.Unmarshal(d.Manifest, &man); err != nil || man.Status != "failed" {
		t.Errorf("the failed run's manifest in the history says status %q (%v), want failed", man.Status, err)
	}

	if code, _, stderr := run(t, "history", "--out", root, "20990101T000000Z-abcdef"); code != exitFailure ||
		!strings.Contains(stderr, "no such run") {
		t.Errorf("unknown run: exit %d, %s", code, stderr)
	}
	if code, _, stderr := run(t, "history"); code != exitUsage || !strings.Contains(stderr, "history needs --out") {
		t.Errorf("history without a root: exit %d, %s", code, stderr)
	}
}

// TestHistoryUnusableFile: a run whose history file is not a DuckDB file
// and whose latest is usable is published but exits 4, naming the file;
// history then fails, naming it. Without latest and run directories, the
// run refuses with exit 2 before its work, naming the file.
func TestHistoryUnusableFile(t *testing.T) {
	dir := t.TempDir()
	tx := filepath.Join(dir, "tx.csv")
	if err := os.WriteFile(tx, []byte("customer_id,ts,amount\nC1,2025-01-01,10\nC2,2025-01-02,12.5\nC3,2025-02-03,4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "out")
	if code, _, stderr := run(t, "run", "--transactions", tx, "--out", root, "--k", "1"); code != exitOK {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	history := filepath.Join(root, store.HistoryFile)
	if err := os.WriteFile(history, []byte(strings.Repeat("garbage ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "run", "--transactions", tx, "--out", root, "--k", "1")
	if code != exitHistory || !strings.Contains(stderr, history) || !strings.Contains(stdout, "outputs:") {
		t.Errorf("run with a bad history file: exit %d, want %d; stderr %s", code, exitHistory, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "latest", "customer_segments.parquet")); err != nil {
		t.Errorf("run not published: %v", err)
	}
	// With JSON logs, the failed record is one record of the run's.
	code, _, stderr = run(t, "run", "--transactions", tx, "--out", root, "--k", "1", "--log-format", "json")
	recs := records(t, stderr)
	if last := recs[len(recs)-1]; code != exitHistory || last["msg"] != "run published but not recorded in the run history" ||
		last["path"] != history || last["run_id"] != recs[0]["run_id"] || last["error"] == nil {
		t.Errorf("run with a bad history file, JSON log: exit %d, last record %v", code, last)
	}
	if code, _, stderr := run(t, "history", "--out", root); code != exitFailure || !strings.Contains(stderr, history) {
		t.Errorf("history of a bad file: exit %d, stderr %s", code, stderr)
	}

	for _, p := range []string{filepath.Join(root, "latest"), filepath.Join(root, "runs")} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr = run(t, "run", "--transactions", tx, "--out", root, "--k", "1")
	if code != exitUsage || !strings.Contains(stderr, history+" exists but cannot be read") || strings.Contains(stdout, "outputs:") {
		t.Errorf("run with a bad history file and no latest: exit %d, want %d; stderr %s", code, exitUsage, stderr)
	}
	if _, err := os.Lstat(filepath.Join(root, "latest")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused run published latest: %v", err)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{512: "512 B", 1536: "1.5 KiB", 300 << 20: "300 MiB", 6 << 30: "6.0 GiB", 12 << 30: "12 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
