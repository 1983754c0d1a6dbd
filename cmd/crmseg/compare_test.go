package main

import (
	"database/sql"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// TestCompareCommand compares two runs of the demo data at different k:
// the contingency table is the customers' join of the two runs'
// customer_segments, its margins the segments' sizes, a run with itself
// agrees fully, and an unknown run is refused with exit 2.
func TestCompareCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "demo")
	if code, _, stderr := run(t, "demo", "--out", out, "--customers", "1500", "--k", "3", "--no-progress"); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	root, data := filepath.Join(out, "out"), filepath.Join(out, "data")
	code, stdout, stderr := run(t, "run", "--transactions", filepath.Join(data, "transactions.parquet"),
		"--customers", filepath.Join(data, "customers.parquet"), "--products", filepath.Join(data, "products.parquet"),
		"--out", root, "--k", "5", "--seed", "1", "--no-progress")
	if code != 0 {
		t.Fatalf("run --k 5: exit %d: %s", code, stderr)
	}
	runB := strings.Fields(stdout)[1]
	dirs, _ := filepath.Glob(filepath.Join(root, "runs", "*"))
	if len(dirs) != 2 {
		t.Fatalf("runs %v, want the demo's and the k 5 run", dirs)
	}
	runA := filepath.Base(dirs[0])
	if runA == runB {
		runA = filepath.Base(dirs[1])
	}

	code, stdout, stderr = run(t, "compare", "--out", root, runA, "latest", "--json")
	if code != 0 {
		t.Fatalf("compare --json: exit %d: %s", code, stderr)
	}
	var c engine.Comparison
	if err := json.Unmarshal([]byte(stdout), &c); err != nil {
		t.Fatalf("compare --json: %v:\n%s", err, stdout)
	}
	// Every field of the JSON is documented.
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "compare.md"))
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal([]byte(stdout), &generic); err != nil {
		t.Fatal(err)
	}
	for _, key := range jsonKeys(generic) {
		if !regexp.MustCompile(`[\x60{ ]` + regexp.QuoteMeta(key) + `[\x60,}.]`).Match(doc) {
			t.Errorf("compare --json's field %q is not in docs/compare.md", key)
		}
	}
	if c.A.Name != runA || c.B.Name != runB || c.A.K != 3 || c.B.K != 5 || !c.SameInputs {
		t.Errorf("A %s (k %d), B %s (k %d), same inputs %v; want %s at 3, %s at 5, the same inputs", c.A.Name, c.A.K, c.B.Name, c.B.K, c.SameInputs, runA, runB)
	}
	if c.Customers.InBoth != 1500 || c.Customers.OnlyInA != 0 || c.Customers.OnlyInB != 0 {
		t.Errorf("customers %+v, want 1500 in both", c.Customers)
	}
	if ari := float64(c.AdjustedRandIndex); !(ari > 0 && ari < 1) {
		t.Errorf("adjusted Rand index of k 3 against k 5 on the same data: %v, want between 0 and 1", ari)
	}

	// The cells are the join of the two customer_segments files.
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	file := func(id string) string {
		return "read_parquet(" + sqlquote.Literal(filepath.Join(root, "runs", id, "customer_segments.parquet")) + ")"
	}
	rows, err := db.Query("SELECT a.segment_id, b.segment_id, count(*) FROM " + file(runA) + " a JOIN " + file(runB) +
		" b USING (customer_id) GROUP BY ALL ORDER BY ALL")
	if err != nil {
		t.Fatal(err)
	}
	var want []engine.ContingencyCell
	for rows.Next() {
		var cell engine.ContingencyCell
		if err := rows.Scan(&cell.A, &cell.B, &cell.Customers); err != nil {
			t.Fatal(err)
		}
		want = append(want, cell)
	}
	rows.Close()
	if len(c.Contingency) != len(want) {
		t.Fatalf("contingency %v, want %v", c.Contingency, want)
	}
	for i := range want {
		if c.Contingency[i] != want[i] {
			t.Errorf("contingency cell %+v, want %+v", c.Contingency[i], want[i])
		}
	}
	// Its margins are the segments' sizes.
	for _, side := range []struct {
		run *engine.CompareRun
		of  func(engine.ContingencyCell) int
	}{{&c.A, func(x engine.ContingencyCell) int { return x.A }}, {&c.B, func(x engine.ContingencyCell) int { return x.B }}} {
		for _, s := range side.run.Segments {
			var n int64
			for _, cell := range c.Contingency {
				if side.of(cell) == s.ID {
					n += cell.Customers
				}
			}
			if n != s.Customers {
				t.Errorf("%s's segment %d: %d customers in the contingency table, %d in segments", side.run.Name, s.ID, n, s.Customers)
			}
		}
		if len(side.run.KSelection) != 1 || !side.run.KSelection[0].Chosen || side.run.KSelection[0].K != side.run.K {
			t.Errorf("%s's k_selection %+v, want its one k, chosen", side.run.Name, side.run.KSelection)
		}
	}
	if len(c.A.Backtest) == 0 || c.A.Backtest[0].Grouping != "all" || len(c.B.Backtest) != 0 {
		t.Errorf("backtests: A %d rows, B %d; want the demo's (all first) and none for the run without a holdout", len(c.A.Backtest), len(c.B.Backtest))
	}
	if len(c.Metrics) == 0 || len(c.Targets) == 0 {
		t.Errorf("%d metric and %d target rows compared, want both runs'", len(c.Metrics), len(c.Targets))
	}

	// The text: the index, the table and every section.
	code, stdout, stderr = run(t, "compare", "--out", root, runA, runB)
	if code != 0 {
		t.Fatalf("compare: exit %d: %s", code, stderr)
	}
	for _, w := range []string{"adjusted Rand index", "customers by segment of A (rows) and of B (columns)", "segments:", "A's profiles",
		"metrics (segment_metrics", "targets for the 12 months", "A's choice of k", "A's backtest", "B has no backtest"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("compare's text lacks %q:\n%s", w, stdout)
		}
	}

	// A run with itself, one by ID and one by its directory.
	code, stdout, stderr = run(t, "compare", "--out", root, runB, filepath.Join(root, "latest"), "--json")
	if code != 0 {
		t.Fatalf("compare with itself: exit %d: %s", code, stderr)
	}
	var self engine.Comparison
	if err := json.Unmarshal([]byte(stdout), &self); err != nil {
		t.Fatal(err)
	}
	if self.AdjustedRandIndex != 1 || len(self.Contingency) != 5 || math.IsNaN(float64(self.AdjustedRandIndex)) {
		t.Errorf("a run with itself: ARI %v, %d cells; want 1 and 5 cells", self.AdjustedRandIndex, len(self.Contingency))
	}

	code, _, stderr = run(t, "compare", "--out", root, runA, "k9-experiment")
	if code != exitUsage || !strings.Contains(stderr, filepath.Join(root, "experiments", "k9-experiment")) {
		t.Errorf("an unknown run: exit %d, %s; want exit 2 naming where it looked", code, stderr)
	}
	if code, _, _ := run(t, "compare", "--out", root, runA); code != exitUsage {
		t.Errorf("one run: exit %d, want 2", code)
	}
}

// jsonKeys are the keys of every object in v, sorted, once each.
func jsonKeys(v any) []string {
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				seen[k] = true
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestCompareInBrowser loads compare.html of the two demo runs of the
// report's browser test in headless Chromium, with the network off: no
// console error, no request, every chart drawn, every table with the rows
// the runs' tables give, a screenshot that is not blank.
func TestCompareInBrowser(t *testing.T) {
	browser := findBrowser(t)
	runs := demoRuns(t)
	path := filepath.Join(t.TempDir(), "compare.html")
	if code, _, stderr := run(t, "compare", runs[0], runs[1], "--html", path); code != 0 {
		t.Fatalf("compare --html: exit %d: %s", code, stderr)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// count counts the rows of query, $A and $B the two runs' table.
	count := func(table, query string) int {
		t.Helper()
		file := func(dir string) string {
			return "read_parquet(" + sqlquote.Literal(filepath.Join(dir, table+".parquet")) + ")"
		}
		var n int
		q := strings.NewReplacer("$A", file(runs[0]), "$B", file(runs[1])).Replace(query)
		if err := db.QueryRow("SELECT count(*) FROM (" + q + ")").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	list := func(metrics []string) string {
		var q []string
		for _, m := range metrics {
			q = append(q, sqlquote.Literal(m))
		}
		return "(" + strings.Join(q, ", ") + ")"
	}
	headline := "WHERE metric IN " + list(engine.CompareHeadlineMetrics) + " AND coalesce(dimension, '') = ''"
	rows := map[string]int{
		engine.CompareTableRuns:        2,
		engine.CompareTableContingency: count("segments", "SELECT * FROM $A"), // the same customers: no "not in A" row
		engine.CompareTableSegments:    count("segments", "SELECT segment_id FROM $A UNION SELECT segment_id FROM $B"),
		engine.CompareTableProfilesA:   count("segments", "SELECT * FROM $A"),
		engine.CompareTableProfilesB:   count("segments", "SELECT * FROM $B"),
		engine.CompareTableMetrics: count("segment_metrics", "SELECT segment_id, metric FROM $A "+headline+
			" UNION SELECT segment_id, metric FROM $B "+headline),
		engine.CompareTableTargets: count("segment_targets", "SELECT segment_id, metric FROM $A WHERE metric IN "+list(engine.CompareHeadlineTargets)+
			" UNION SELECT segment_id, metric FROM $B WHERE metric IN "+list(engine.CompareHeadlineTargets)),
		engine.CompareTableKSelection: count("k_selection", "SELECT * FROM $A UNION ALL SELECT * FROM $B"),
		engine.CompareTableBacktest:   count("model_backtest", "SELECT * FROM $A WHERE grouping <> 'frequency' UNION ALL SELECT * FROM $B WHERE grouping <> 'frequency'"),
	}
	checkPage(t, path, inspectPage(t, browser, path), []string{engine.CompareChartContingency, engine.CompareChartKSelection}, rows)
}

// TestCompareNoCustomersInBoth: runs that share no customer say so, in the
// text and on the page, instead of an adjusted Rand index left blank.
func TestCompareNoCustomersInBoth(t *testing.T) {
	c := &engine.Comparison{
		A:                 engine.CompareRun{Ref: "a", Kind: "directory", Name: "a", K: 1, Customers: 2},
		B:                 engine.CompareRun{Ref: "b", Kind: "directory", Name: "b", K: 1, Customers: 3},
		Customers:         engine.CompareCustomers{OnlyInA: 2, OnlyInB: 3},
		AdjustedRandIndex: nullable.Float(math.NaN()),
		Contingency:       []engine.ContingencyCell{{A: 1, B: 0, Customers: 2}, {A: 0, B: 1, Customers: 3}},
	}
	var text, page strings.Builder
	printComparison(&text, c)
	if err := engine.WriteComparePage(&page, c); err != nil {
		t.Fatal(err)
	}
	for what, got := range map[string]string{"text": text.String(), "page": page.String()} {
		if !strings.Contains(got, engine.CompareNoCustomersInBoth) {
			t.Errorf("%s of runs without a customer in common does not say so:\n%s", what, got)
		}
	}
}
