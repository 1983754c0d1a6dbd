package engine

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/crmseg/crmseg/datasets/synth"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/segment"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// generated writes a synthetic dataset once per test binary and separation.
var generated sync.Map // separation -> *genData

type genData struct {
	once sync.Once
	dir  string
	err  error
}

func generatedData(t *testing.T, customers int, separation float64) string {
	t.Helper()
	key := fmt.Sprintf("%d-%g", customers, separation)
	v, _ := generated.LoadOrStore(key, &genData{})
	g := v.(*genData)
	g.once.Do(func() {
		g.dir, g.err = os.MkdirTemp("", "crmseg-gen-")
		if g.err != nil {
			return
		}
		_, g.err = synth.Generate(context.Background(), synth.Config{Customers: customers, Seed: 7, Separation: separation}, g.dir)
	})
	if g.err != nil {
		t.Fatal(g.err)
	}
	return g.dir
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	generated.Range(func(_, v any) bool {
		os.RemoveAll(v.(*genData).dir)
		return true
	})
	os.Exit(code)
}

func generatedConfig(t *testing.T, data, out string) config.Config {
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{
		Customers:    config.InputSpec{Path: filepath.Join(data, "customers.parquet")},
		Transactions: config.InputSpec{Path: filepath.Join(data, "transactions.parquet")},
		Products:     config.InputSpec{Path: filepath.Join(data, "products.parquet")},
	}
	cfg.Output = out
	cfg.Segmentation.K = 5
	cfg.Segmentation.NInit = 4
	return cfg
}

// outputSchema describes every published table as "table column TYPE" lines.
func outputSchema(t *testing.T, dir string) string {
	t.Helper()
	db := memoryDB(t)
	var b strings.Builder
	for _, tbl := range outputTables {
		rows, err := db.Query("DESCRIBE SELECT * FROM read_parquet(?)", filepath.Join(dir, tbl.name+".parquet"))
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %v %v\n", tbl.name, vals[0], vals[1])
		}
		rows.Close()
	}
	return b.String()
}

func TestEndToEndGenerated(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Generated customers carry the value models: the check passes, and
	// each segment's value metrics add up its customers' predictions.
	if vd := res.Manifest.ValueData; vd == nil || !vd.Sufficient {
		t.Errorf("generated data: value data check %+v, want it passed", vd)
	}
	checkValueRollups(t, res.Dir)

	// Every table, in both formats, with the documented columns.
	for _, tbl := range outputTables {
		for _, ext := range []string{"parquet", "csv"} {
			if _, err := os.Stat(filepath.Join(res.Dir, tbl.name+"."+ext)); err != nil {
				t.Errorf("missing output: %v", err)
			}
		}
	}
	schema := outputSchema(t, res.Dir)
	// Centroid columns follow the configured features, so they are not
	// part of the fixed contract: drop them before comparing.
	schema = regexp.MustCompile(`(?m)^segments centroid_\S+ DOUBLE\n`).ReplaceAllString(schema, "")
	// So do the feature columns of customer_features (checkCustomerFeatures).
	schema = regexp.MustCompile(`(?m)^customer_features \S+ DOUBLE\n`).ReplaceAllString(schema, "")
	checkCustomerFeatures(t, res)
	golden := filepath.Join("testdata", "output_schema.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(schema), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if schema != string(want) {
		t.Errorf("output schema changed (run go test -update if intended):\n got:\n%s\nwant:\n%s", schema, want)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "outputs.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(schema), "\n") {
		f := strings.Fields(line)
		if !documented(string(doc), f[0], f[1]) {
			t.Errorf("docs/outputs.md does not document column %s of %s", f[1], f[0])
		}
	}

	// Every customer exactly once; sizes add up.
	db := memoryDB(t)
	var customers, distinct, rows int64
	err = db.QueryRow("SELECT count(*), count(DISTINCT customer_id) FROM read_parquet(?)", filepath.Join(res.Dir, "customer_segments.parquet")).Scan(&rows, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM read_parquet(?)", cfg.Inputs.Customers.Path).Scan(&customers); err != nil {
		t.Fatal(err)
	}
	if rows != customers || distinct != customers {
		t.Errorf("customer_segments: %d rows, %d distinct customers; input has %d customers", rows, distinct, customers)
	}
	var sizes int64
	var k int
	if err := db.QueryRow("SELECT sum(customers), count(*) FROM read_parquet(?)", filepath.Join(res.Dir, "segments.parquet")).Scan(&sizes, &k); err != nil {
		t.Fatal(err)
	}
	if sizes != customers || k != cfg.Segmentation.K {
		t.Errorf("segments: %d segments summing to %d customers, want %d summing to %d", k, sizes, cfg.Segmentation.K, customers)
	}
	var perSegment int64
	if err := db.QueryRow("SELECT sum(value) FROM read_parquet(?) WHERE metric = 'customers' AND segment_id > 0",
		filepath.Join(res.Dir, "segment_metrics.parquet")).Scan(&perSegment); err != nil {
		t.Fatal(err)
	}
	if perSegment != customers {
		t.Errorf("segment_metrics customers sum to %d, want %d", perSegment, customers)
	}

	// Every customer with an order has RFM scores 1..5 and one named RFM
	// segment, every other none; the RFM segments add up to the buyers.
	var buyers, scored, unscored, rfmSum, rfmRows, rfmNames int64
	err = db.QueryRow(`SELECT count(*) FILTER (WHERE frequency > 0),
			count(*) FILTER (WHERE frequency > 0 AND recency_score BETWEEN 1 AND 5 AND frequency_score BETWEEN 1 AND 5
				AND monetary_score BETWEEN 1 AND 5 AND rfm_segment IS NOT NULL
				AND rfm_score = concat(recency_score, frequency_score, monetary_score)),
			count(*) FILTER (WHERE frequency = 0 AND coalesce(recency_score, frequency_score, monetary_score) IS NULL
				AND rfm_score IS NULL AND rfm_segment IS NULL)
		FROM read_parquet(?)`, filepath.Join(res.Dir, "customer_segments.parquet")).Scan(&buyers, &scored, &unscored)
	if err != nil {
		t.Fatal(err)
	}
	if buyers == 0 || scored != buyers || unscored != customers-buyers {
		t.Errorf("RFM: %d of %d buyers scored with a segment, %d of %d others without; want all", scored, buyers, unscored, customers-buyers)
	}
	err = db.QueryRow("SELECT sum(customers), count(*), count(DISTINCT rfm_segment) FROM read_parquet(?)",
		filepath.Join(res.Dir, "rfm_segments.parquet")).Scan(&rfmSum, &rfmRows, &rfmNames)
	if err != nil {
		t.Fatal(err)
	}
	if rfmSum != buyers || rfmRows != rfmNames {
		t.Errorf("rfm_segments: %d rows (%d names) summing to %d customers, want one per name summing to the %d buyers", rfmRows, rfmNames, rfmSum, buyers)
	}

	// The manifest describes the run and latest points at it.
	var man manifest.Manifest
	b, err := os.ReadFile(filepath.Join(res.Dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	if man.RunID != res.RunID || man.AsOf == "" || len(man.Inputs) != 3 || len(man.Outputs) != len(outputTables)+1 { // the tables and the report
		t.Errorf("manifest incomplete: run_id %q as_of %q, %d inputs, %d outputs", man.RunID, man.AsOf, len(man.Inputs), len(man.Outputs))
	}
	for _, in := range man.Inputs {
		if len(in.SHA256) != 64 || in.Rows <= 0 {
			t.Errorf("manifest input %s: rows %d sha256 %q", in.Table, in.Rows, in.SHA256)
		}
	}
	target, err := os.Readlink(filepath.Join(out, "latest"))
	if err != nil || target != filepath.Join("runs", res.RunID) {
		t.Errorf("latest -> %q (%v), want runs/%s", target, err, res.RunID)
	}
}

// documented reports whether the section of docs/outputs.md for table (a
// heading that names it in backquotes) mentions column in backquotes.
func documented(doc, table, column string) bool {
	heading := "\n## `" + table + "`\n"
	i := strings.Index(doc, heading)
	if i < 0 {
		return false
	}
	sec := doc[i+len(heading):]
	if j := strings.Index(sec, "\n## "); j >= 0 {
		sec = sec[:j]
	}
	return strings.Contains(sec, "`"+column+"`")
}

func TestRecoversLatentGroups(t *testing.T) {
	data := generatedData(t, 3000, 3)
	cfg := generatedConfig(t, data, t.TempDir())
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := memoryDB(t)
	rows, err := db.Query(`SELECT s.segment_id, g."group" FROM read_parquet(?) AS s
		JOIN read_parquet(?) AS g ON s.customer_id = g.customer_id ORDER BY s.customer_id`,
		filepath.Join(res.Dir, "customer_segments.parquet"), filepath.Join(data, "truth", "customers_truth.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got, truth []int
	for rows.Next() {
		var s, g int
		if err := rows.Scan(&s, &g); err != nil {
			t.Fatal(err)
		}
		got, truth = append(got, s), append(truth, g)
	}
	if len(got) != 3000 {
		t.Fatalf("joined %d customers with the ground truth, want 3000", len(got))
	}
	ari := segment.AdjustedRandIndex(got, truth)
	t.Logf("adjusted Rand index against the generator's groups: %.3f", ari)
	if ari < 0.7 {
		t.Errorf("adjusted Rand index %.3f, want at least 0.7", ari)
	}
}

// TestRunsAreByteIdentical runs the same inputs and seed on 1 and 2
// threads, with the defaults and with value.model: auto and a backtest
// (every purchase model fitted twice, the choice, the chosen model's fit):
// every output table is the same, byte for byte.
func TestRunsAreByteIdentical(t *testing.T) {
	data := generatedData(t, 3000, 0)
	for _, c := range []struct {
		name string
		edit func(*config.Config)
	}{
		{"defaults", func(*config.Config) {}},
		{"auto", func(c *config.Config) { c.Value.Model, c.Value.BacktestHoldout = "auto", "26w" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var dirs []string
			var mans []manifest.Manifest
			for _, threads := range []int{1, 2} {
				cfg := generatedConfig(t, data, t.TempDir())
				cfg.Threads = threads
				c.edit(&cfg)
				res, err := Run(context.Background(), cfg, Options{})
				if err != nil {
					t.Fatal(err)
				}
				dirs = append(dirs, res.Dir)
				mans = append(mans, *res.Manifest)
			}
			for _, tbl := range outputTables {
				for _, ext := range []string{"parquet", "csv"} {
					a, err1 := os.ReadFile(filepath.Join(dirs[0], tbl.name+"."+ext))
					b, err2 := os.ReadFile(filepath.Join(dirs[1], tbl.name+"."+ext))
					if err := errors.Join(err1, err2); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(a, b) {
						t.Errorf("%s.%s differs between a 1-thread and a 2-thread run", tbl.name, ext)
					}
				}
			}
			if !slices.Equal(mans[0].Outputs[0].Files, mans[1].Outputs[0].Files) {
				t.Errorf("manifest output hashes differ")
			}
			if !reflect.DeepEqual(mans[0].Quality.Segmentation, mans[1].Quality.Segmentation) {
				t.Errorf("segmentation quality differs: %+v vs %+v", mans[0].Quality.Segmentation, mans[1].Quality.Segmentation)
			}
			a, _ := json.Marshal(mans[0].ModelChoice)
			b, _ := json.Marshal(mans[1].ModelChoice)
			if !bytes.Equal(a, b) || (c.name == "auto") != (mans[0].ModelChoice != nil) {
				t.Errorf("model choice %s on 1 thread, %s on 2", a, b)
			}
			if ch := mans[0].ModelChoice; ch != nil {
				t.Logf("value.model auto chose %s: %s", ch.Model, ch.Reason)
			}
		})
	}
}

func TestBadInputStopsBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	db := memoryDB(t)
	noAmount := filepath.Join(dir, "no_amount.parquet")
	stringTS := filepath.Join(dir, "string_ts.parquet")
	notParquet := filepath.Join(dir, "tx.parquet")
	for _, q := range []string{
		"COPY (SELECT 'C1' AS customer_id, TIMESTAMP '2025-01-01' AS ts) TO " + sqlquote.Literal(noAmount) + " (FORMAT parquet)",
		"COPY (SELECT 'C1' AS customer_id, '2025-01-01' AS ts, 1.5 AS amount) TO " + sqlquote.Literal(stringTS) + " (FORMAT parquet)",
		"COPY (SELECT 'C1' AS customer_id) TO " + sqlquote.Literal(notParquet) + " (FORMAT csv)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, transactions string
		want               []string
	}{
		{"missing file", filepath.Join(dir, "nope.parquet"), []string{"nope.parquet", "no such file"}},
		{"missing column", noAmount, []string{"no_amount.parquet", `column "amount"`, "required column"}},
		{"wrong type", stringTS, []string{"string_ts.parquet", `column "ts"`, "date or timestamp", "found string"}},
		{"not parquet", notParquet, []string{"tx.parquet", "not a readable Parquet file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(c.name, " ", "-"))
			cfg := config.DefaultConfig()
			cfg.Inputs.Transactions = config.InputSpec{Path: c.transactions}
			cfg.Output = out
			_, err := Run(context.Background(), cfg, Options{})
			if err == nil {
				t.Fatal("run succeeded on bad input")
			}
			if code := cliExitCode(err); code != exitRejected {
				t.Errorf("exit code %d, want %d", code, exitRejected)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output root was created on bad input: %v", err)
			}
		})
	}
}

func TestFailedRunKeepsLatest(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out)

	// A run with no usable row (every transaction is after as_of) fails
	// after loading, and must leave latest and the earlier run alone.
	cfg.AsOf = "2000-01-01"
	if _, err := Run(context.Background(), cfg, Options{}); cliExitCode(err) != exitRejected {
		t.Fatalf("run with no usable row: %v (exit %d), want exit %d", err, cliExitCode(err), exitRejected)
	}
	after := snapshot(t, out)
	if !maps.Equal(before, after) {
		t.Errorf("a failed run changed the output root:\nbefore %v\nafter  %v", before, after)
	}
	if target, _ := os.Readlink(filepath.Join(out, "latest")); target != filepath.Join("runs", res.RunID) {
		t.Errorf("latest -> %q after a failed run, want runs/%s", target, res.RunID)
	}
}

// TestFailureAnywhereKeepsLatest fails a run at every checkpoint, from
// after loading to between renaming the run into place and switching
// latest: each time the output root must be exactly as before, and the next
// run must succeed.
func TestFailureAnywhereKeepsLatest(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	cfg.Segmentation.NInit = 1
	if _, err := Run(context.Background(), cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out)
	points := []string{"ingest", "features", "segment", "score", "targets"}
	for _, tbl := range outputTables {
		points = append(points, "publish:"+tbl.name)
	}
	points = append(points, "publish:report", "publish:renamed")
	for _, p := range points {
		_, err := Run(context.Background(), cfg, Options{failAt: p})
		if !errors.Is(err, errInjected) {
			t.Fatalf("failure at %s: run returned %v", p, err)
		}
		if after := snapshot(t, out); !maps.Equal(before, after) {
			t.Errorf("failure at %s changed the output root:\nbefore %v\nafter  %v", p, before, after)
		}
	}
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatalf("run after the failures: %v", err)
	}
	if target, _ := os.Readlink(filepath.Join(out, "latest")); target != filepath.Join("runs", res.RunID) {
		t.Errorf("latest -> %s after a good run, want runs/%s", target, res.RunID)
	}
}

// snapshot maps every path under root to its content hash (or link target),
// leaving out the run history, which records failed runs by design.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case strings.HasPrefix(rel, store.HistoryFile):
			return nil
		case info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			m[rel] = "-> " + target
			return err
		case info.Mode().IsRegular():
			h, err := hashFile(p)
			m[rel] = h
			return err
		}
		m[rel] = "dir"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// memoryDB opens an in-memory DuckDB database for a test, closed when the
// test ends.
func memoryDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
