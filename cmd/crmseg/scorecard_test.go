package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// TestScorecardCommands runs before and within the horizon of a plan of
// record: the run within it prints its scorecard's summary, and crmseg
// history lists it per run and shows its rows. A run on other features,
// whose new customers the plan's model cannot assign, says so, and leaves
// the segments' new customers unknown.
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
	if strings.Contains(stdout, "left out") {
		t.Errorf("a run whose new customers the plan's model assigned says some were left out:\n%s", stdout)
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

	// Other features: the plan's model cannot assign the customers new since.
	cfg := filepath.Join(dir, "other.yaml")
	yaml := fmt.Sprintf("inputs:\n  transactions: %s\n  customers: %s\noutput: %s\nsegmentation:\n  k: 3\n  features:\n"+
		"    - {name: recency_days, transform: log1p}\n    - {name: orders_per_year, transform: log1p}\n",
		filepath.Join(data, "transactions.parquet"), filepath.Join(data, "customers.parquet"), root)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run(t, "run", "--config", cfg, "--as-of", "2026-06-30")
	if code != 0 || !regexp.MustCompile(`\n  [1-9][0-9]* customers new since the plan's run left out: the plan's model cannot assign them`).MatchString(stdout) {
		t.Fatalf("run on other features: exit %d:\n%s\n%s", code, stdout, stderr)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	scorecard := sqlquote.Literal(filepath.Join(root, "latest", "segment_scorecard.parquet"))
	if got := queryOne[string](t, db, "SELECT count(*) || ' ' || count(actual_to_date) || ' ' || count(status) FROM "+scorecard+
		" WHERE metric = 'new_customers_12m'"); got != "3 0 0" {
		t.Errorf("new customers of the plan's 3 segments with new customers left out: %s rows, figures and statuses; want 3 0 0", got)
	}
}
