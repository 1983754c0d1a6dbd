package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/datasets/featuretable"
	"github.com/crmseg/crmseg/internal/bench"
	"github.com/crmseg/crmseg/segment"
)

// TestCluster runs cluster on generated blobs, from Parquet and from the
// same table as CSV, and checks the outputs against the true blobs.
func TestCluster(t *testing.T) {
	dir := t.TempDir()
	if err := bench.WriteBlobs(dir, bench.BlobsConfig{Rows: 3000, Dims: 4, Centers: 3, Spread: 20, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	truthCSV, err := os.ReadFile(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var truth []int
	for _, line := range strings.Split(strings.TrimSpace(string(truthCSV)), "\n")[1:] {
		truth = append(truth, int(line[strings.IndexByte(line, ',')+1]-'0'))
	}
	// The same table as CSV, with the id column last.
	tab, err := featuretable.Read(filepath.Join(dir, "blobs.parquet"), "id")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(strings.Join(tab.Columns, ",") + ",id\n")
	for i := range tab.N {
		for j := range tab.D {
			b.WriteString(strconv.FormatFloat(tab.X[i*tab.D+j], 'g', -1, 64))
			b.WriteByte(',')
		}
		b.WriteString(tab.ID(i) + "\n")
	}
	csvPath := filepath.Join(dir, "blobs.csv")
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	var reports []clusterReport
	for _, in := range []string{filepath.Join(dir, "blobs.parquet"), csvPath} {
		out := filepath.Join(dir, "out-"+filepath.Ext(in)[1:])
		code, stdout, stderr := run(t, "cluster", "--features", in, "--id-column", "id", "--k", "3", "--n-init", "4", "--seed", "1", "--out", out, "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", in, code, stderr)
		}
		var rep clusterReport
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("--json printed %q: %v", stdout, err)
		}
		if rep.K != 3 || rep.Rows != 3000 || rep.Iterations < 1 || !(rep.Inertia > 0) || !(rep.FitSeconds > 0) {
			t.Errorf("%s: report %+v", in, rep)
		}
		got, err := featuretable.Read(filepath.Join(out, "assignments.parquet"), "id")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Columns, []string{"cluster", "distance"}) || got.N != 3000 {
			t.Fatalf("assignments: columns %v, %d rows", got.Columns, got.N)
		}
		labels := make([]int, got.N)
		for i := range got.N {
			if got.ID(i) != tab.ID(i) {
				t.Fatalf("row %d: id %s, want %s", i, got.ID(i), tab.ID(i))
			}
			labels[i] = int(got.X[i*2])
		}
		if ari := segment.AdjustedRandIndex(labels, truth); ari != 1 {
			t.Errorf("%s: ARI %v against the true blobs, want 1", in, ari)
		}
		cent, err := os.ReadFile(filepath.Join(out, "centroids.csv"))
		if err != nil || !strings.HasPrefix(string(cent), "cluster,size,f00,f01,f02,f03\n") || strings.Count(string(cent), "\n") != 4 {
			t.Errorf("centroids.csv: %q %v", cent, err)
		}
		reports = append(reports, rep)
	}
	if reports[0].Inertia != reports[1].Inertia {
		t.Errorf("inertia from Parquet %v, from CSV %v: the same table must give the same fit", reports[0].Inertia, reports[1].Inertia)
	}
}

func TestClusterBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path, id string
		code     int
		want     string
	}{
		{write("nan.csv", "id,a,b\n1,2,3\n2,NaN,4\n"), "id", exitRejected, `row 2 (line 3), column "a": expected a finite number, found "NaN"`},
		{write("text.csv", "id,a\n1,x\n"), "id", exitRejected, `row 1 (line 2), column "a": expected a finite number, found "x"`},
		{write("noid.csv", "key,a\n1,2\n"), "id", exitRejected, `id column "id": not found`},
		{write("few.csv", "id,a\n1,2\n"), "id", exitRejected, "1 rows, fewer than --k 2"},
		{write("trunc.parquet", "PAR1xx"), "id", exitRejected, "not a readable Parquet file"},
		{filepath.Join(dir, "missing.parquet"), "id", exitRejected, "no such file"},
	}
	for _, c := range cases {
		code, _, stderr := run(t, "cluster", "--features", c.path, "--id-column", c.id, "--k", "2", "--out", filepath.Join(dir, "out"))
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", filepath.Base(c.path), code, stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("a rejected input left an output directory (%v)", err)
	}
	code, _, stderr := run(t, "cluster", "--features", "x.csv", "--id-column", "id", "--out", "o", "--algorithm", "elkan")
	if code != exitUsage || !strings.Contains(stderr, `--algorithm: expected hamerly, lloyd or minibatch, found "elkan"`) {
		t.Errorf("bad algorithm: exit %d, %q", code, stderr)
	}
}

// TestClusterColumnsAndBadCells: --columns clusters the named columns
// only (a text column beside them is no error) and refuses a name the file
// lacks, listing its columns; a table with empty or non-numeric cells is
// refused with their count and the first ones by file, row, line, column
// and value, or, with --skip-bad-rows, clustered without their rows, which
// are counted.
func TestClusterColumnsAndBadCells(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("customer_id,name,recency,spend\n")
	for i := range 40 {
		recency, spend := strconv.Itoa(i%4*100), strconv.Itoa(10+i)
		switch i {
		case 5:
			recency = "" // row 6, line 7
		case 17:
			spend = "n/a" // row 18, line 19
		}
		b.WriteString("C" + strconv.Itoa(i) + ",name " + strconv.Itoa(i) + "," + recency + "," + spend + "\n")
	}
	features := filepath.Join(dir, "customers.csv")
	if err := os.WriteFile(features, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cluster := func(out string, args ...string) (int, string, string) {
		return run(t, append([]string{"cluster", "--features", features, "--id-column", "customer_id", "--k", "2", "--out", filepath.Join(dir, out)}, args...)...)
	}

	code, _, stderr := cluster("o1", "--columns", "recency,spend,age")
	if code != exitRejected || !strings.Contains(stderr, features+`: feature column "age": not found (the file's columns: "customer_id", "name", "recency", "spend")`) {
		t.Errorf("unknown column: exit %d, %s", code, stderr)
	}
	for _, c := range []struct{ columns, want string }{
		{"recency,spend,recency", `--columns: expected each column once, found "recency" twice in "recency,spend,recency"`},
		{"spend, customer_id", `--columns: expected feature columns, found the identifier column "customer_id" (--id-column)`},
		{"recency,,spend", `--columns: expected column names separated by commas, found "recency,,spend"`},
	} {
		if code, _, stderr := cluster("o-usage", "--columns", c.columns); code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("--columns %q: exit %d, want %d and %q:\n%s", c.columns, code, exitUsage, c.want, stderr)
		}
	}
	code, _, stderr = cluster("o2")
	if code != exitRejected || !strings.Contains(stderr, `column "name": expected a finite number, found "name 0"`) {
		t.Errorf("without --columns the text column is a feature: exit %d, %s", code, stderr)
	}
	code, _, stderr = cluster("o3", "--columns", "spend,recency")
	for _, w := range []string{
		features + ": 2 feature values in 2 rows are not finite numbers",
		`row 6 (line 7), column "recency": expected a finite number, found ""`,
		`row 18 (line 19), column "spend": expected a finite number, found "n/a"`,
		"(fix them, or leave their rows out with --skip-bad-rows)",
	} {
		if code != exitRejected || !strings.Contains(stderr, w) {
			t.Errorf("bad cells: exit %d, stderr lacks %q:\n%s", code, w, stderr)
		}
	}
	code, stdout, stderr := cluster("o4", "--columns", "spend,recency", "--skip-bad-rows", "--json")
	if code != 0 {
		t.Fatalf("--skip-bad-rows: exit %d: %s", code, stderr)
	}
	var rep clusterReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 38 || rep.SkippedRows != 2 || rep.BadCells != 2 || !slices.Equal(rep.Columns, []string{"spend", "recency"}) {
		t.Errorf("report: %d rows, %d skipped, %d bad cells, columns %v", rep.Rows, rep.SkippedRows, rep.BadCells, rep.Columns)
	}
	if !strings.Contains(stderr, "rows with a bad feature value left out") || !strings.Contains(stderr, "rows=2") {
		t.Errorf("no warning of the rows left out: %s", stderr)
	}
	got, err := featuretable.Read(filepath.Join(dir, "o4", "assignments.parquet"), "customer_id")
	if err != nil {
		t.Fatal(err)
	}
	if got.N != 38 || slices.Contains(got.IDs, "C5") || slices.Contains(got.IDs, "C17") || got.IDs[5] != "C6" {
		t.Errorf("assignments: %d rows, ids %v", got.N, got.IDs)
	}
	code, stdout, _ = cluster("o5", "--columns", "spend,recency", "--skip-bad-rows")
	if code != 0 || !strings.Contains(stdout, "left out 2 rows with 2 bad feature values (--skip-bad-rows), the first:\n  row 6 (line 7)") {
		t.Errorf("text summary: exit %d:\n%s", code, stdout)
	}
}
