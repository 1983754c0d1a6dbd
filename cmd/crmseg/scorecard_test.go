package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/store"
)

// TestScorecardCommands runs before and within the horizon of a plan of
// record: the run within it prints its scorecard's summary, and crmseg
// history lists it per run and shows its rows.
func TestScorecardCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, stderr := run(t, "generate", "--customers", "300", "--seed", "3", "--out", data); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	root := filepath.Join(dir, "out")
	runAsOf := func(asOf string) (id, stdout string) {
		t.Helper()
		code, stdout, stderr := run(t, "run", "--transactions", filepath.Join(data, "transactions.parquet"),
			"--customers", filepath.Join(data, "customers.parquet"), "--out", root, "--k", "3", "--as-of", asOf)
		if code != 0 {
			t.Fatalf("run as of %s: exit %d: %s", asOf, code, stderr)
		}
		return strings.Fields(stdout)[1], stdout // "run <id> as of ..."
	}
	first, stdout := runAsOf("2025-12-31")
	if strings.Contains(stdout, "scorecard") {
		t.Errorf("a run without a plan printed a scorecard:\n%s", stdout)
	}
	if code, _, stderr := run(t, "plan", "commit", "--out", root, "--note", "FY26"); code != 0 {
		t.Fatalf("plan commit: exit %d: %s", code, stderr)
	}
	second, stdout := runAsOf("2026-03-31")
	if !strings.Contains(stdout, "\nscorecard against plan 1 (horizon 2026-01-01 to 2026-12-31, day 90): ") {
		t.Errorf("the run within the plan's horizon printed no scorecard:\n%s", stdout)
	}

	code, stdout, stderr := run(t, "history", "--out", root)
	if code != 0 {
		t.Fatalf("history: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "  scorecard") || !strings.HasPrefix(lines[1], first) || !strings.HasSuffix(lines[1], "  –") ||
		!strings.HasPrefix(lines[2], second) || !strings.Contains(lines[2], "  plan 1: ") || !strings.HasSuffix(lines[2], " behind") {
		t.Errorf("history lists:\n%s", stdout)
	}
	code, stdout, _ = run(t, "history", "--out", root, second)
	if code != 0 || !strings.Contains(stdout, "\nscorecard      plan 1: ") || !strings.Contains(stdout, "\nscorecard (plan 1, day 90 of 365):\n") ||
		!strings.Contains(stdout, "    1  revenue_12m ") {
		t.Errorf("history %s:\n%s", second, stdout)
	}
	code, stdout, _ = run(t, "history", "--out", root, "--json", second)
	var d store.HistoryDetail
	if err := json.Unmarshal([]byte(stdout), &d); code != 0 || err != nil {
		t.Fatalf("history --json: exit %d, %v", code, err)
	}
	var statuses int64
	for _, n := range []*int64{d.Run.ScorecardAhead, d.Run.ScorecardOnTrack, d.Run.ScorecardAtRisk, d.Run.ScorecardBehind} {
		statuses += *n
	}
	if d.Run.ScorecardPlanID == nil || *d.Run.ScorecardPlanID != 1 || len(d.Scorecard) == 0 || d.Scorecard[0].DaysElapsed != 90 || statuses == 0 {
		t.Errorf("history --json: run %+v, scorecard %+v", d.Run, d.Scorecard)
	}
}
