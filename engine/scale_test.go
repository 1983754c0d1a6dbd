package engine

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/segment"
)

// alignedSegments returns two runs' segment of every customer of the
// first, in one order.
func alignedSegments(t *testing.T, a, b *Result) ([]int, []int) {
	t.Helper()
	sa, _ := segmentsOf(t, a)
	sb, _ := segmentsOf(t, b)
	ids := slices.Sorted(maps.Keys(sa))
	x, y := make([]int, len(ids)), make([]int, len(ids))
	for i, id := range ids {
		x[i], y[i] = sa[id], sb[id]
	}
	return x, y
}

// TestRunSampledRestartsMatchFull bounds what running the k-means restarts on
// a sample changes in a whole run: segmentation.sample_size 1000 of 8000
// customers against every restart on every customer, on generated
// customers whose groups differ (separation 3, as TestRecoversLatentGroups).
// The final inertia is at most 0.5% above the full restarts' best and the
// segments agree by an adjusted Rand index of at least 0.95
// (docs/definitions.md, k-means). On customers without groups (separation 0) both find
// one of many optima of nearly equal inertia, and their segments need not
// agree.
func TestRunSampledRestartsMatchFull(t *testing.T) {
	data := generatedData(t, 8000, 3)
	var res [2]*Result
	for i, size := range []int{-1, 1000} {
		cfg := generatedConfig(t, data, t.TempDir())
		cfg.Segmentation.NInit = 10
		cfg.Segmentation.SampleSize = size
		r, err := Run(context.Background(), cfg, Options{})
		if err != nil {
			t.Fatalf("sample_size %d: %v", size, err)
		}
		res[i] = r
	}
	full, sampled := res[0].Manifest.Quality.Segmentation, res[1].Manifest.Quality.Segmentation
	if full.SampleRows != 8000 || sampled.SampleRows != 1000 {
		t.Fatalf("sample rows %d and %d, want 8000 and 1000", full.SampleRows, sampled.SampleRows)
	}
	rel := (sampled.Inertia - full.Inertia) / full.Inertia
	t.Logf("inertia: every row %.2f, sampled %.2f (%+.4f%%)", full.Inertia, sampled.Inertia, 100*rel)
	if rel > 0.005 {
		t.Errorf("sampled restarts end at inertia %.2f, %+.3f%% from the full restarts' %.2f; want within 0.5%%", sampled.Inertia, 100*rel, full.Inertia)
	}
	ari := segment.AdjustedRandIndex(alignedSegments(t, res[0], res[1]))
	t.Logf("adjusted Rand index between the two segmentations: %.4f", ari)
	if ari < 0.95 {
		t.Errorf("adjusted Rand index %.4f between sampled and full restarts, want at least 0.95", ari)
	}
}

// TestSmallMemoryLimitSameTables runs 30,000 generated customers with
// DuckDB held to 64 MB (below what the run uses unbounded: its tables and
// hash tables then spill to the run's temporary directory) and without a
// limit of its own; every published table is byte-identical.
func TestSmallMemoryLimitSameTables(t *testing.T) {
	if testing.Short() {
		t.Skip("30,000 customers, twice")
	}
	data := generatedData(t, 30000, 0)
	var dirs []string
	for _, limit := range []string{"", "64MB"} {
		cfg := generatedConfig(t, data, t.TempDir())
		cfg.MemoryLimit = limit
		cfg.Threads = 2
		res, err := Run(context.Background(), cfg, Options{})
		if err != nil {
			t.Fatalf("memory_limit %q: %v", limit, err)
		}
		dirs = append(dirs, res.Dir)
	}
	for _, tbl := range outputTables {
		for _, ext := range []string{"parquet", "csv"} {
			a, err1 := os.ReadFile(filepath.Join(dirs[0], tbl.name+"."+ext))
			b, err2 := os.ReadFile(filepath.Join(dirs[1], tbl.name+"."+ext))
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s.%s differs between memory_limit 64MB and the default", tbl.name, ext)
			}
		}
	}
}

// TestGlobRowsAreSeparateOrders: without an order_id, each line is an
// order of its own, and the same row number in two files of a glob is two
// orders, not one; an infinite timestamp is rejected as unparseable.
func TestGlobRowsAreSeparateOrders(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"tx-a.csv": "customer_id,ts,amount\nC1,2025-01-05 10:00:00,10\nC2,2025-01-06 10:00:00,10\nC2,-infinity,5\n",
		"tx-b.csv": "customer_id,ts,amount\nC1,2025-05-05 10:00:00,30\nC2,2025-05-06 10:00:00,10\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.DefaultConfig()
	cfg.Inputs.Transactions = config.InputSpec{Path: filepath.Join(dir, "tx-*.csv")}
	cfg.Output = filepath.Join(dir, "out")
	cfg.AsOf = "2025-06-30"
	cfg.Segmentation.K = 1
	cfg.Rejects.MaxShare = 0.5
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := readTable(t, filepath.Join(res.Dir, "customer_segments.parquet"),
		"SELECT customer_id, frequency, strftime(last_order_date, '%Y-%m-%d') FROM $TABLE ORDER BY customer_id")
	want := map[string]string{"C1": "2 2025-05-05", "C2": "2 2025-05-06"}
	for rows.Next() {
		var id, last string
		var orders int
		if err := rows.Scan(&id, &orders, &last); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%d %s", orders, last); got != want[id] {
			t.Errorf("%s: orders and last order %q, want %q", id, got, want[id])
		}
	}
	rej := readTable(t, filepath.Join(res.Dir, "rejects.parquet"), "SELECT source_file, source_row, reason FROM $TABLE")
	n := 0
	for rej.Next() {
		var file, reason string
		var row int
		if err := rej.Scan(&file, &row, &reason); err != nil {
			t.Fatal(err)
		}
		n++
		if filepath.Base(file) != "tx-a.csv" || row != 3 || reason != "unparseable timestamp" {
			t.Errorf("rejected %s row %d for %q, want tx-a.csv row 3 for %q", file, row, reason, "unparseable timestamp")
		}
	}
	if n != 1 {
		t.Errorf("%d rejected rows, want 1", n)
	}
}
