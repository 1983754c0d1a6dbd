package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// scenarioOut is what crmseg scenario --json prints.
type scenarioOut struct {
	Scenario  string `json:"scenario"`
	RunID     string `json:"run_id"`
	Directory string `json:"directory"`
	Rows      []struct {
		SegmentID int      `json:"segment_id"`
		Metric    string   `json:"metric"`
		Baseline  *float64 `json:"baseline"`
		Scenario  *float64 `json:"scenario"`
		Change    *float64 `json:"change"`
	} `json:"rows"`
}

func (o *scenarioOut) row(t *testing.T, segment int, metric string) (baseline, scenario, change float64) {
	t.Helper()
	for _, r := range o.Rows {
		if r.SegmentID == segment && r.Metric == metric {
			v := func(p *float64) float64 {
				if p == nil {
					return math.NaN()
				}
				return *p
			}
			return v(r.Baseline), v(r.Scenario), v(r.Change)
		}
	}
	t.Fatalf("no row of segment %d, %s", segment, metric)
	return 0, 0, 0
}

// queryOne runs a query that returns one value.
func queryOne[T any](t *testing.T, db *sql.DB, q string) T {
	t.Helper()
	var v T
	if err := db.QueryRow(q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// TestScenarioCommand runs scenarios on a published run: one with no
// change reproduces the run's baselines and bands exactly; a retention
// change moves the segment's projected active customers by the change times
// its customers active in the last 12 months; each is written under the
// run and recorded in the run history, and the run's own files stay as they
// were. Then the requests the run cannot carry out, each refused with exit
// code 2, nothing written; a locked output root (75); a history that
// cannot be written (4, the scenario written).
func TestScenarioCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, stderr := run(t, "generate", "--customers", "300", "--seed", "3", "--out", data); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	root := filepath.Join(dir, "out")
	code, stdout, stderr := run(t, "run", "--transactions", filepath.Join(data, "transactions.parquet"),
		"--customers", filepath.Join(data, "customers.parquet"), "--out", root, "--k", "3")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	runID := strings.Fields(stdout)[1]
	runDir := filepath.Join(root, "runs", runID)
	before := hashTree(t, runDir)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	file := func(parts ...string) string {
		return sqlquote.Literal(filepath.Join(append([]string{runDir}, parts...)...))
	}

	// No change: the baseline, exactly, the bands too; the totals are the
	// segments' sums.
	code, stdout, stderr = run(t, "scenario", "--out", root, "--name", "base")
	if code != 0 || !strings.Contains(stdout, "no change: the scenario is the baseline") {
		t.Fatalf("scenario without changes: exit %d: %s\n%s", code, stderr, stdout)
	}
	results := file("scenarios", "base", "scenario_results.parquet")
	if n := queryOne[int](t, db, "SELECT count(*) FROM "+results+" WHERE baseline IS DISTINCT FROM scenario OR "+
		"baseline_low IS DISTINCT FROM scenario_low OR baseline_high IS DISTINCT FROM scenario_high OR change <> 0"); n != 0 {
		t.Errorf("%d rows of the scenario without changes differ from the baseline", n)
	}
	if n := queryOne[int](t, db, "SELECT count(*) FROM "+file("segment_targets.parquet")+" AS t LEFT JOIN "+results+
		" AS s USING (segment_id, metric) WHERE s.baseline IS DISTINCT FROM t.baseline OR s.baseline_low IS DISTINCT FROM t.low "+
		"OR s.baseline_high IS DISTINCT FROM t.high OR s.horizon_start <> t.horizon_start"); n != 0 {
		t.Errorf("%d of the run's targets are not the scenario's baselines", n)
	}
	if n := queryOne[int](t, db, "SELECT count(*) FROM "+results+" AS s WHERE segment_id = 0 AND metric = 'revenue_12m' AND "+
		"abs(baseline - (SELECT sum(baseline) FROM "+file("segment_targets.parquet")+" WHERE metric = 'revenue_12m')) < 1e-6"); n != 1 {
		t.Errorf("the total revenue baseline is not the segments' sum")
	}

	// Retention +0.05 on segment 1, with a cost. The run's baseline of
	// active customers is the sum of the customers' p_purchase_12m
	// rounded to 4 decimals, each of which is published rounded to 6; the
	// scenario moves the baseline by its ratio to that sum, so the move is
	// 0.05 × n off by at most 0.05 × n × (5e-5 + customers × 5e-7) / the
	// sum, and by 1e-4 for the change's own rounding.
	code, stdout, stderr = run(t, "scenario", "--out", root, "--set", "segment=1 retention_12m=+0.05", "--cost", "500", "--name", "ret", "--json", runID)
	var out scenarioOut
	if err := json.Unmarshal([]byte(stdout), &out); code != 0 || err != nil {
		t.Fatalf("retention scenario: exit %d, %v: %s\n%s", code, err, stderr, stdout)
	}
	segs := file("customer_segments.parquet")
	active := queryOne[float64](t, db, "SELECT count(*) FROM "+segs+" WHERE segment_id = 1 AND orders_12m > 0")
	customers := queryOne[float64](t, db, "SELECT count(*) FROM "+segs+" WHERE segment_id = 1 AND p_purchase_12m IS NOT NULL")
	sum := queryOne[float64](t, db, "SELECT sum(p_purchase_12m) FROM "+segs+" WHERE segment_id = 1")
	_, _, moved := out.row(t, 1, "active_customers_12m")
	if tol := 0.05*active*(5e-5+customers*5e-7)/sum + 1e-4; math.Abs(moved-0.05*active) > tol {
		t.Errorf("retention +0.05: active customers moved by %.6f, want 0.05 × %.0f = %.6f within %.2g", moved, active, 0.05*active, tol)
	}
	if b, s, _ := out.row(t, 1, "retention_12m"); math.Abs(s-b-0.05) > 1e-9 {
		t.Errorf("retention_12m from %v to %v", b, s)
	}
	for _, m := range []string{"revenue_12m", "orders_12m", "predicted_clv_12m"} {
		if _, _, c := out.row(t, 1, m); !(c > 0) {
			t.Errorf("retention +0.05: %s moved by %v", m, c)
		}
		if _, _, c := out.row(t, 2, m); c != 0 {
			t.Errorf("retention on segment 1 moved segment 2's %s by %v", m, c)
		}
	}
	_, _, inc := out.row(t, 0, "revenue_12m")
	_, cost, _ := out.row(t, 0, "programme_cost")
	_, value, _ := out.row(t, 0, "incremental_value")
	_, roi, _ := out.row(t, 0, "roi")
	// The JSON's figures are rounded to 4 decimals, as scenario_results'.
	if cost != 500 || math.Abs(value-inc) > 1e-3 || math.Abs(roi-(value-500)/500) > 1e-4 {
		t.Errorf("programme: cost %v, incremental value %v (revenue %v), ROI %v", cost, value, inc, roi)
	}

	// Both are recorded in the run history, and the run's files are as
	// they were.
	hist := sqlquote.Literal(filepath.Join(root, store.HistoryFile))
	if _, err := db.Exec("ATTACH " + hist + " AS h (READ_ONLY)"); err != nil {
		t.Fatal(err)
	}
	if v := queryOne[string](t, db, "SELECT value FROM h.meta WHERE key = 'schema_version'"); v != fmt.Sprint(store.HistorySchemaVersion) {
		t.Errorf("schema version %s, want %d", v, store.HistorySchemaVersion)
	}
	if got := queryOne[string](t, db, "SELECT string_agg(concat_ws(' ', scenario_name, directory, changes, programme_cost, roi IS NULL), "+
		"', ' ORDER BY scenario_name) FROM h.scenarios"); got != "base runs/"+runID+"/scenarios/base  true, ret runs/"+runID+"/scenarios/ret 1: retention_12m=+0.05 500.0 false" {
		t.Errorf("history's scenarios: %s", got)
	}
	if r := queryOne[float64](t, db, "SELECT roi FROM h.scenarios WHERE scenario_name = 'ret'"); math.Abs(r-roi) > 1e-4 {
		t.Errorf("history's ROI %v, the scenario's %v", r, roi)
	}
	if n := queryOne[int](t, db, "SELECT count(*) FROM h.scenario_results WHERE scenario_name = 'ret'"); n != queryOne[int](t, db, "SELECT count(*) FROM "+file("scenarios", "ret", "scenario_results.parquet")) {
		t.Errorf("%d rows of the scenario in the history", n)
	}
	if _, err := db.Exec("DETACH h"); err != nil {
		t.Fatal(err)
	}
	after := hashTree(t, runDir)
	for f, h := range before {
		if after[f] != h {
			t.Errorf("the run's %s changed", f)
		}
	}
	for f := range after {
		if _, ok := before[f]; !ok && !strings.HasPrefix(f, "scenarios"+string(filepath.Separator)) {
			t.Errorf("the scenario wrote %s into the run's directory", f)
		}
	}

	// Requests the run cannot carry out.
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--set", "segment=1 retention_12m=+0.05"}, "scenario needs --out (the output root) or --config"},
		{[]string{"--out", root, "--set", "segment=9 retention_12m=+0.05"}, `--set "segment=9 retention_12m=+0.05": expected a segment of run ` + runID + " (1, 2, 3), found segment 9"},
		{[]string{"--out", root, "--set", "segment=1 churn_rate=+0.05"}, `expected a change of retention_12m, multi_category_share, avg_order_value, digital_share, new_customers, found "churn_rate"`},
		{[]string{"--out", root, "--set", "segment=1 retention_12m=0.7"}, "expected a signed change in share points"},
		{[]string{"--out", root, "--set", "retention_12m=+0.05"}, `expected "segment=ID" or "segment=*"`},
		{[]string{"--out", root, "--set", "segment=1 digital_share=+0.9"}, "expected digital_share to stay within 0 to 1, found segment 1's"},
		{[]string{"--out", root, "--set", "segment=1 retention_12m=+0.3"}, "expected a change of retention_12m the purchase model can make in segment 1, at most +0."},
		{[]string{"--out", root, "--name", "ret"}, "--name ret: expected a name run " + runID + " has no scenario of"},
		{[]string{"--out", root, "--name", "../x"}, `--name "../x": expected a name of letters`},
		{[]string{"--out", root, "nope"}, "run nope: expected the run's directory " + filepath.Join(root, "runs", "nope")},
		{[]string{"--out", root, "--cost", "-5"}, "--cost -5: expected a cost of 0 or more"},
		{[]string{"--out", root, "--margin", "0"}, "--margin 0: expected the share of incremental revenue that is value"},
		{[]string{"--out", filepath.Join(dir, "none")}, "--out " + filepath.Join(dir, "none") + ": expected an output root"},
	}
	for _, c := range bad {
		code, stdout, stderr := run(t, append([]string{"scenario"}, c.args...)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("%v: exit %d, %s", c.args, code, stderr)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(runDir, "scenarios")); len(entries) != 2 {
		t.Errorf("refused scenarios wrote %d entries, want the 2 of before", len(entries))
	}

	// Another process holds the output root.
	lock, _, err := store.Acquire(root, store.LockHolder{PID: 1, Host: "elsewhere", Command: "run"})
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "scenario", "--out", root, "--set", "segment=1 avg_order_value=+2%")
	lock.Release()
	if code != exitLocked || !strings.Contains(stderr, "is in use by another run (pid 1 on host elsewhere, crmseg run") {
		t.Errorf("locked root: exit %d, %s", code, stderr)
	}

	// A history that cannot be written: the scenario is written, exit 4.
	if err := os.WriteFile(filepath.Join(root, store.HistoryFile), []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run(t, "scenario", "--out", root, "--set", "segment=2 avg_order_value=+2%", "--name", "unrecorded")
	if code != exitHistory || !strings.Contains(stderr, "scenario written to "+filepath.Join(runDir, "scenarios", "unrecorded")+" but not recorded in the run history") ||
		!strings.Contains(stdout, "segment 2 ") {
		t.Errorf("unwritable history: exit %d, %s\n%s", code, stderr, stdout)
	}
	if _, err := os.Stat(filepath.Join(runDir, "scenarios", "unrecorded", "scenario_results.csv")); err != nil {
		t.Errorf("unrecorded scenario: %v", err)
	}
}

// TestScenarioWithoutValueModels: a run whose data cannot carry the value
// models (40 customers) has no predictions: a retention change is refused
// with the reason and what the run can still take, which works.
func TestScenarioWithoutValueModels(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, stderr := run(t, "generate", "--customers", "40", "--seed", "3", "--out", data); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	root := filepath.Join(dir, "out")
	if code, _, stderr := run(t, "run", "--transactions", filepath.Join(data, "transactions.parquet"),
		"--customers", filepath.Join(data, "customers.parquet"), "--out", root, "--k", "2"); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	code, _, stderr := run(t, "scenario", "--out", root, "--set", "segment=* retention_12m=+0.05")
	if code != exitUsage || !strings.Contains(stderr, "expected the run's customer-value predictions, found none: a retention change acts through "+
		"the purchase model's dropout (bg_nbd not used: the data cannot carry the customer-value models as of") ||
		!strings.Contains(stderr, "can still take multi_category_share, digital_share, avg_order_value and new_customers changes, on its baselines") {
		t.Errorf("retention without value models: exit %d, %s", code, stderr)
	}
	code, stdout, stderr := run(t, "scenario", "--out", root, "--set", "segment=1 avg_order_value=+10%", "--json")
	var out scenarioOut
	if err := json.Unmarshal([]byte(stdout), &out); code != 0 || err != nil {
		t.Fatalf("order value without value models: exit %d, %v: %s", code, err, stderr)
	}
	if b, s, _ := out.row(t, 1, "revenue_12m"); math.Abs(s/b-1.1) > 1e-6 {
		t.Errorf("revenue from %v to %v, want +10%%", b, s)
	}
	for _, r := range out.Rows {
		if r.Metric == "predicted_clv_12m" {
			t.Errorf("a predicted_clv_12m row without value models")
		}
	}
}
