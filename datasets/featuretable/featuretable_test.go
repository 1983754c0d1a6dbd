package featuretable

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/datasets"
)

// TestWriteRead checks that Read reads back what Write wrote, with integer
// and with string ids.
func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	for _, want := range []*Table{
		{IDColumn: "id", IntIDs: []int64{7, 3, 11}, Columns: []string{"b", "a"}, X: []float64{1, 2, 3.5, -4, 0, 1e300}, N: 3, D: 2},
		{IDColumn: "customer", IDs: []string{"x", "y"}, Columns: []string{"spend"}, X: []float64{10, 20}, N: 2, D: 1},
	} {
		path := filepath.Join(dir, want.IDColumn+".parquet")
		if err := Write(path, want); err != nil {
			t.Fatal(err)
		}
		got, err := Read(path, want.IDColumn)
		if err != nil {
			t.Fatal(err)
		}
		// The file's columns come in name order.
		byName := map[string]int{}
		for j, c := range want.Columns {
			byName[c] = j
		}
		if got.N != want.N || got.D != want.D || len(got.Columns) != want.D {
			t.Fatalf("%s: read %d × %d %v, wrote %d × %d %v", path, got.N, got.D, got.Columns, want.N, want.D, want.Columns)
		}
		for i := range want.N {
			if got.ID(i) != want.ID(i) {
				t.Errorf("%s: row %d id %s, want %s", path, i, got.ID(i), want.ID(i))
			}
			for j, c := range got.Columns {
				if g, w := got.X[i*got.D+j], want.X[i*want.D+byName[c]]; g != w {
					t.Errorf("%s: row %d, %s = %v, want %v", path, i, c, g, w)
				}
			}
		}
		if (got.IntIDs != nil) != (want.IntIDs != nil) {
			t.Errorf("%s: integer ids %v, want %v", path, got.IntIDs != nil, want.IntIDs != nil)
		}
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := Read(write("empty.csv", ""), "id"); !errors.Is(err, datasets.ErrNotText) {
		t.Errorf("empty CSV: error %v, want ErrNotText", err)
	}
	if _, err := Read(write("bad.parquet", "not parquet at all"), "id"); !errors.Is(err, datasets.ErrNotParquet) {
		t.Errorf("not Parquet: error %v, want ErrNotParquet", err)
	}
	if _, err := Read(write("nan.csv", "id,x\n1,2\n2,NaN\n"), "id"); err == nil || !strings.Contains(err.Error(), `row 2, column "x"`) {
		t.Errorf("NaN feature: error %v, want one naming row 2 and column x", err)
	}
	if _, err := Read(write("noid.csv", "a,b\n1,2\n"), "id"); err == nil || !strings.Contains(err.Error(), `id column "id"`) {
		t.Errorf("missing id column: error %v", err)
	}
	// Every failure is an *InputError naming the file (crmseg cluster
	// exits 3 on it).
	for _, p := range []string{filepath.Join(dir, "missing.parquet"), filepath.Join(dir, "missing.csv"), filepath.Join(dir, "bad.parquet"), filepath.Join(dir, "nan.csv")} {
		var ie *InputError
		if _, err := Read(p, "id"); !errors.As(err, &ie) || ie.Path != p {
			t.Errorf("%s: error %v (%T), want an *InputError with its path", p, err, err)
		}
	}
	missing := filepath.Join(dir, "missing.csv")
	if _, err := Read(missing, "id"); err == nil || err.Error() != missing+": expected a readable feature table (Parquet, or CSV by its extension), found no such file or directory" {
		t.Errorf("missing file: %v, want the path, what was expected and what was found", err)
	}
}
