package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// writeCompareRun writes a hand-made run directory: its manifest, its
// customer_segments (customer ID and segment ID, as in segments) and its
// segments (with a one-feature profile, the centroid its segment ID times
// 10), and its segment_metrics' customers of all customers when metric is
// given.
func writeCompareRun(t *testing.T, dir string, segments map[string]int, metric float64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	js := fmt.Sprintf(`{"run_id": %q, "as_of": "2026-06-30", "inputs": [{"table": "transactions", "sha256": "ab12"}]}`, filepath.Base(dir))
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	var rows, segs []string
	sizes := map[int]int{}
	for id, s := range segments {
		rows = append(rows, fmt.Sprintf("(%s, %d)", sqlquote.Literal(id), s))
		sizes[s]++
	}
	for s, n := range sizes {
		segs = append(segs, fmt.Sprintf("(%d, 'segment %d', %d, %d.0)", s, s, n, 10*s))
	}
	db := memoryDB(t)
	file := func(name string) string { return sqlquote.Literal(filepath.Join(dir, name+".parquet")) }
	for _, q := range []string{
		"COPY (SELECT customer_id, segment_id::INTEGER AS segment_id FROM (VALUES " + strings.Join(rows, ", ") + ") v(customer_id, segment_id)) TO " +
			file("customer_segments") + " (FORMAT parquet)",
		"COPY (SELECT segment_id::INTEGER AS segment_id, segment_name, customers::BIGINT AS customers, centroid_recency_days FROM (VALUES " +
			strings.Join(segs, ", ") + ") v(segment_id, segment_name, customers, centroid_recency_days)) TO " + file("segments") + " (FORMAT parquet)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if !math.IsNaN(metric) {
		q := fmt.Sprintf("COPY (SELECT 0::INTEGER AS segment_id, 'All customers' AS segment_name, 'customers' AS metric, '' AS dimension, "+
			"%g::DOUBLE AS value, 'customers' AS unit) TO %s (FORMAT parquet)", metric, file("segment_metrics"))
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompareKnownSegmentations compares hand-made segmentations whose
// contingency table and adjusted Rand index are worked out by hand.
func TestCompareKnownSegmentations(t *testing.T) {
	root := t.TempDir()
	// Customers c1..c10 are in both runs; c11 only in A, c12 only in B.
	// The table of the ten (rows A's segments 1-3, columns B's 1-2):
	//   1: 3 1    (c1-c3 to B 1, c4 to B 2)
	//   2: 0 3    (c5-c7 to B 2)
	//   3: 2 1    (c8, c9 to B 1, c10 to B 2)
	a := map[string]int{"c1": 1, "c2": 1, "c3": 1, "c4": 1, "c5": 2, "c6": 2, "c7": 2, "c8": 3, "c9": 3, "c10": 3, "c11": 2}
	b := map[string]int{"c1": 1, "c2": 1, "c3": 1, "c4": 2, "c5": 2, "c6": 2, "c7": 2, "c8": 1, "c9": 1, "c10": 2, "c12": 1}
	// By Hubert & Arabie's formula: pairs within cells 3+0+0+3+1+0 = 7;
	// within A's rows (4, 3, 3) 6+3+3 = 12; within B's columns (5, 5)
	// 10+10 = 20; of the 10 customers 45. Expected 12·20/45 = 16/3, max
	// (12+20)/2 = 16: (7 − 16/3) / (16 − 16/3) = 5/32.
	const wantARI = 5.0 / 32
	wantCells := []ContingencyCell{{0, 1, 1}, {1, 1, 3}, {1, 2, 1}, {2, 0, 1}, {2, 2, 3}, {3, 1, 2}, {3, 2, 1}}
	runA := "20260701T020000Z-aaaaaa"
	writeCompareRun(t, filepath.Join(root, "runs", runA), a, 11)
	writeCompareRun(t, filepath.Join(root, store.ExperimentsDir, "fewer"), b, 12)
	if err := os.Symlink(filepath.Join("runs", runA), filepath.Join(root, "latest")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	c, err := Compare(ctx, CompareOptions{Root: root, A: "latest", B: "fewer"})
	if err != nil {
		t.Fatal(err)
	}
	if got := float64(c.AdjustedRandIndex); math.Abs(got-wantARI) > 1e-12 {
		t.Errorf("adjusted Rand index %v, want 5/32 = %v", got, wantARI)
	}
	if !slices.Equal(c.Contingency, wantCells) {
		t.Errorf("contingency %v, want %v", c.Contingency, wantCells)
	}
	if want := (CompareCustomers{InBoth: 10, OnlyInA: 1, OnlyInB: 1}); c.Customers != want {
		t.Errorf("customers %+v, want %+v", c.Customers, want)
	}
	if c.A.Kind != store.KindRun || c.A.Name != runA || c.B.Kind != store.KindExperiment || c.B.Name != "fewer" || !c.SameInputs {
		t.Errorf("A %s %s, B %s %s, same inputs %v: want latest's run, the experiment, the same inputs", c.A.Kind, c.A.Name, c.B.Kind, c.B.Name, c.SameInputs)
	}
	if c.A.K != 3 || c.B.K != 2 || c.A.Customers != 11 || c.B.Customers != 11 {
		t.Errorf("A: k %d of %d customers, B: k %d of %d; want 3 of 11, 2 of 11", c.A.K, c.A.Customers, c.B.K, c.B.Customers)
	}
	// Profiles: the centroid is ten times the segment ID.
	for _, run := range []CompareRun{c.A, c.B} {
		if !slices.Equal(run.Features, []string{"recency_days"}) {
			t.Fatalf("%s's features %v, want recency_days", run.Name, run.Features)
		}
		for _, s := range run.Segments {
			if float64(s.Centroid[0]) != float64(10*s.ID) || s.Name != fmt.Sprintf("segment %d", s.ID) {
				t.Errorf("%s's segment %d: %q, centroid %v; want %d", run.Name, s.ID, s.Name, s.Centroid, 10*s.ID)
			}
		}
		if !slices.Equal(run.Missing, []string{"segment_targets", "k_selection", "model_backtest"}) {
			t.Errorf("%s's missing tables %v", run.Name, run.Missing)
		}
	}
	if len(c.Metrics) != 1 || c.Metrics[0].A != 11 || c.Metrics[0].B != 12 || c.Metrics[0].Difference != 1 {
		t.Errorf("metrics %+v, want customers 11 in A, 12 in B, difference 1", c.Metrics)
	}

	// A run with itself: 1, and the table is diagonal.
	c, err = Compare(ctx, CompareOptions{Root: root, A: runA, B: filepath.Join(root, "runs", runA)})
	if err != nil {
		t.Fatal(err)
	}
	if c.AdjustedRandIndex != 1 || c.Customers != (CompareCustomers{InBoth: 11}) || c.B.Kind != store.KindDirectory || c.B.Name != runA {
		t.Errorf("a run with itself: ARI %v, customers %+v, B %s %s; want 1, all 11 in both, the directory of %s",
			c.AdjustedRandIndex, c.Customers, c.B.Kind, c.B.Name, runA)
	}
	for _, cell := range c.Contingency {
		if cell.A != cell.B {
			t.Errorf("a run with itself: cell %+v off the diagonal", cell)
		}
	}

	// The same segments under other labels: 1, one cell per row.
	relabel := map[int]int{1: 3, 2: 1, 3: 2}
	perm := map[string]int{}
	for id, s := range a {
		perm[id] = relabel[s]
	}
	writeCompareRun(t, filepath.Join(root, "elsewhere", "relabelled"), perm, math.NaN())
	c, err = Compare(ctx, CompareOptions{Root: root, A: runA, B: filepath.Join(root, "elsewhere", "relabelled")})
	if err != nil {
		t.Fatal(err)
	}
	if c.AdjustedRandIndex != 1 || len(c.Contingency) != 3 {
		t.Errorf("relabelled: ARI %v, contingency %v; want 1 and three cells", c.AdjustedRandIndex, c.Contingency)
	}
	for _, cell := range c.Contingency {
		if relabel[cell.A] != cell.B {
			t.Errorf("relabelled: cell %+v, want A's segment %d in B's %d", cell, cell.A, relabel[cell.A])
		}
	}
	if len(c.Metrics) != 1 || !math.IsNaN(float64(c.Metrics[0].B)) {
		t.Errorf("B without segment_metrics: metrics %+v, want A's row with B's figure null", c.Metrics)
	}

	// A reference that leads nowhere names where it looked.
	_, err = Compare(ctx, CompareOptions{Root: root, A: runA, B: "nightly-k9"})
	var re *store.RunRefError
	if !errors.As(err, &re) || re.Ref != "nightly-k9" {
		t.Fatalf("unknown ref: %v, want a *store.RunRefError for nightly-k9", err)
	}
	for _, want := range []string{filepath.Join(root, "runs", "nightly-k9"), filepath.Join(root, store.ExperimentsDir, "nightly-k9"), "experiment name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("unknown ref: %q does not name %s", err, want)
		}
	}

	// A customer twice in one run is refused, naming the file.
	writeCompareRun(t, filepath.Join(root, "runs", "dup"), a, math.NaN())
	db := memoryDB(t)
	path := filepath.Join(root, "runs", "dup", "customer_segments.parquet")
	if _, err := db.Exec("COPY (SELECT * FROM read_parquet(" + sqlquote.Literal(path) + ") UNION ALL SELECT 'c1', 2) TO " +
		sqlquote.Literal(path+".new") + " (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	_, err = Compare(ctx, CompareOptions{Root: root, A: runA, B: "dup"})
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "customer_ids on more than one row") || !strings.Contains(err.Error(), path) {
		t.Errorf("a customer twice: %v, want a *store.RunRefError naming %s and the repeated rows", err, path)
	}

	// A table that is not Parquet is refused naming the file, with DuckDB's
	// reason but not the SQL of crmseg's views it was read through.
	writeCompareRun(t, filepath.Join(root, "runs", "corrupt"), a, 11)
	for _, table := range []string{"customer_segments", "segment_metrics"} {
		path := filepath.Join(root, "runs", "corrupt", table+".parquet")
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("not parquet"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Compare(ctx, CompareOptions{Root: root, A: runA, B: "corrupt"})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "Parquet") ||
			strings.Contains(err.Error(), "LINE 1") || strings.Contains(err.Error(), "VIEW") {
			t.Errorf("%s not Parquet: %v, want an error naming %s, without SQL", table, err, path)
		}
		if err := os.WriteFile(path, good, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// crmseg report on it: the same.
	path = filepath.Join(root, "runs", "corrupt", "segments.parquet")
	for _, table := range reportTables {
		if err := os.WriteFile(filepath.Join(root, "runs", "corrupt", table+".parquet"), []byte("not parquet"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = WriteReport(ctx, filepath.Join(root, "runs", "corrupt"), filepath.Join(t.TempDir(), "report.html"), nil)
	var rep *ReportError
	if !errors.As(err, &rep) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "LINE 1") || strings.Contains(err.Error(), "VIEW") {
		t.Errorf("report of a run whose tables are not Parquet: %v, want a *ReportError naming %s, without SQL", err, path)
	}
}

// TestCompareDifference: B − A is signed and grouped as the figures it is
// the difference of.
func TestCompareDifference(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{-2723, "customers", "-2,723"},
		{1234567, "orders", "+1,234,567"},
		{-311215.5, "currency", "-311,215.50"},
		{116.57, "currency", "+116.57"},
		{0, "customers", "+0"},
		{0.1117, "share", "+11.17 pp"},
		{math.NaN(), "customers", "–"},
	} {
		if got := CompareDifference(c.v, c.unit); got != c.want {
			t.Errorf("CompareDifference(%v, %s) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}
