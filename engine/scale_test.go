package engine

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

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
// segments agree by an adjusted Rand index of at least 0.95 (the README's
// k-means section). On customers without groups (separation 0) both find
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
