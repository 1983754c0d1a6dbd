package featuretable

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
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
	if _, err := Read(write("nan.csv", "id,x\n1,2\n2,NaN\n"), "id"); err == nil || !strings.Contains(err.Error(), `row 2 (line 3), column "x": expected a finite number, found "NaN"`) {
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

// TestReadColumnsAndBadCells: --columns reads the named features in their
// order, whatever the other columns hold, and refuses a name the file does
// not have, listing its columns; a bad cell fails the read with every bad
// cell counted and the first ones named by row, line, column and value,
// or, with SkipBadRows, leaves its row out.
func TestReadColumnsAndBadCells(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "f.csv")
	data := "id,name,a,b\n" +
		"1,Ann,1,10\n" +
		"2,Bob,,20\n" + // row 2: a empty
		"3,\"Cy\nmore\",3,x\n" + // row 3, a quoted field over two lines: b is on line 5
		"4,Di,4,40\n" +
		"5,Ed,NaN,inf\n" // row 5: two bad cells
	if err := os.WriteFile(csv, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadWith(csv, "id", Options{Columns: []string{"b", "c", "a", "d"}}); err == nil ||
		err.Error() != csv+`: feature column "c", "d": not found (the file's columns: "id", "name", "a", "b")` {
		t.Errorf("unknown columns: %v", err)
	}
	_, err := ReadWith(csv, "id", Options{Columns: []string{"b", "a"}})
	var be *BadCellsError
	var ie *InputError
	if !errors.As(err, &be) || !errors.As(err, &ie) || ie.Path != csv {
		t.Fatalf("bad cells: %v (%T), want a *BadCellsError in an *InputError", err, err)
	}
	want := []BadCell{
		{Row: 2, Line: 3, Column: "a", Found: `""`},
		{Row: 3, Line: 5, Column: "b", Found: `"x"`},
		{Row: 5, Line: 7, Column: "b", Found: `"inf"`},
		{Row: 5, Line: 7, Column: "a", Found: `"NaN"`},
	}
	if be.Cells != 4 || be.Rows != 3 || !slices.Equal(be.First, want) {
		t.Errorf("bad cells %+v, want 4 in 3 rows, %+v", be.BadCells, want)
	}
	if !strings.Contains(err.Error(), "4 feature values in 3 rows are not finite numbers") ||
		!strings.Contains(err.Error(), `row 3 (line 5), column "b": expected a finite number, found "x"`) {
		t.Errorf("message %q", err)
	}

	tab, err := ReadWith(csv, "id", Options{Columns: []string{"b", "a"}, SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if tab.N != 2 || !slices.Equal(tab.IDs, []string{"1", "4"}) || !slices.Equal(tab.Columns, []string{"b", "a"}) ||
		!slices.Equal(tab.X, []float64{10, 1, 40, 4}) || tab.Skipped.Rows != 3 || tab.Skipped.Cells != 4 {
		t.Errorf("skipped: %+v", tab)
	}

	// Parquet: NaN and infinite values, rows counted from 1, no lines.
	pq := filepath.Join(dir, "f.parquet")
	inf := math.Inf(1)
	if err := Write(pq, &Table{IDColumn: "id", IntIDs: []int64{7, 8, 9}, Columns: []string{"a", "b"},
		X: []float64{1, 2, math.NaN(), 3, 4, inf}, N: 3, D: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadWith(pq, "id", Options{}); !errors.As(err, &be) || be.Cells != 2 ||
		!slices.Equal(be.First, []BadCell{{Row: 2, Column: "a", Found: "NaN"}, {Row: 3, Column: "b", Found: "+Inf"}}) {
		t.Errorf("Parquet bad cells: %v", err)
	}
	tab, err = ReadWith(pq, "id", Options{Columns: []string{"a"}, SkipBadRows: true})
	if err != nil || !slices.Equal(tab.IntIDs, []int64{7, 9}) || !slices.Equal(tab.X, []float64{1, 4}) {
		t.Errorf("Parquet, column a, bad rows skipped: %+v, %v", tab, err)
	}
}
