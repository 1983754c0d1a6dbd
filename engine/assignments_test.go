package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/segment"
)

// writeAssignments writes a segmentation.assignments CSV file of the given
// rows (customer_id, segment_id, name) under dir.
func writeAssignments(t *testing.T, dir string, rows ...string) string {
	t.Helper()
	path := filepath.Join(dir, "segments.csv")
	if err := os.WriteFile(path, []byte("customer_id,segment_id,name\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Bring your own segments: every metric, target and table takes the
// file's segments; the run's customers the file does not hold form the
// segment Unassigned, the file's customers the run does not have are
// counted and left out; given names are kept, the others generated; the
// IDs are the file's, related to the previous run's by ID alone.
func TestGivenSegments(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	first, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}

	// The file: the first run's customers by their k-means segment, moved
	// to IDs 10, 20, ... (segment 1 named, the others not), less those of
	// segment 5 whose id ends in 7, plus three customers the run lacks.
	db := memoryDB(t)
	file := filepath.Join(t.TempDir(), "segments.csv")
	_, err = db.Exec(`COPY (
			SELECT customer_id, segment_id * 10 AS segment_id, CASE WHEN segment_id = 1 THEN 'Our best' END AS name
			FROM read_parquet(` + sqlquote.Literal(filepath.Join(first.Dir, "customer_segments.parquet")) + `)
			WHERE NOT (segment_id = 5 AND customer_id LIKE '%7')
			UNION ALL SELECT * FROM (VALUES ('X1', 10, 'Our best'), ('X2', 30, NULL), ('X3', 30, NULL))
		) TO ` + sqlquote.Literal(file) + ` (HEADER)`)
	if err != nil {
		t.Fatal(err)
	}
	var left int64
	if err := db.QueryRow(`SELECT count(*) FROM read_parquet(?) WHERE segment_id = 5 AND customer_id LIKE '%7'`,
		filepath.Join(first.Dir, "customer_segments.parquet")).Scan(&left); err != nil || left == 0 {
		t.Fatalf("%d customers left out of the file (%v), want some", left, err)
	}

	given := cfg
	given.Segmentation.Assignments = file
	res, err := Run(context.Background(), given, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := res.Manifest.Quality.Segmentation
	if a := q.Assignments; q.Source != "assignments" || a == nil || a.FileCustomers != 3000-left+3 || a.NotInRun != 3 || a.Unassigned != left {
		t.Errorf("manifest: source %q, assignments %+v; want assignments, %d file customers, 3 not in the run, %d unassigned", q.Source, a, 3000-left+3, left)
	}
	// Every customer in the file's segment, or in Unassigned (ID 51).
	var wrong int64
	err = db.QueryRow(`SELECT count(*) FROM read_parquet(?) AS now JOIN read_parquet(?) AS was USING (customer_id)
		WHERE now.segment_id <> CASE WHEN was.segment_id = 5 AND customer_id LIKE '%7' THEN 51 ELSE was.segment_id * 10 END
		   OR (now.segment_id = 51) <> (now.segment_name = 'Unassigned')`,
		filepath.Join(res.Dir, "customer_segments.parquet"), filepath.Join(first.Dir, "customer_segments.parquet")).Scan(&wrong)
	if err != nil || wrong != 0 {
		t.Errorf("%d customers not in the file's segment or Unassigned (%v)", wrong, err)
	}
	var ids []int
	names := map[int]string{}
	for _, s := range res.Model.Segments {
		ids = append(ids, s.ID)
		names[s.ID] = s.Name
	}
	if !slices.Equal(ids, []int{10, 20, 30, 40, 50, 51}) || res.Model.NextID != 52 {
		t.Errorf("model segments %v, next ID %d; want the file's 10 to 50, Unassigned 51, next 52", ids, res.Model.NextID)
	}
	if names[10] != "Our best" || names[51] != "Unassigned" || names[20] == "" || names[20] == "Our best" {
		t.Errorf("names %v: want 10 as given, 51 Unassigned, the others generated", names)
	}
	if _, err := segment.ReadModel(filepath.Join(res.Dir, "model.json")); err != nil {
		t.Errorf("model.json: %v", err)
	}
	// The metrics and targets are the file's segments'; the previous run's
	// IDs are retired, the file's new.
	for table, want := range map[string]int64{"segments": 6, "segment_targets": 6} {
		if n := countRows(t, filepath.Join(res.Dir, table+".parquet"), "true"); (table == "segments" && n != want) || n < want {
			t.Errorf("%s: %d rows, want one per segment", table, n)
		}
	}
	if n := countRows(t, filepath.Join(res.Dir, "segment_metrics.parquet"), "metric = 'customers' AND segment_id IN (10, 20, 30, 40, 50, 51)"); n != 6 {
		t.Errorf("segment_metrics: customers of %d of the 6 segments", n)
	}
	if n := countRows(t, filepath.Join(res.Dir, "segment_drift.parquet"), "(change = 'new' AND segment_id >= 10) OR (change = 'retired' AND segment_id <= 5)"); n != 11 {
		t.Errorf("segment_drift: %d of 11 rows new (the file's) or retired (the previous run's)", n)
	}
	checkCustomerFeatures(t, res)
}

// A file of segments with bad rows is refused, every kind of problem
// named with its file, row, column, what was expected and found; --k, a
// choose_k or a model with it are configuration errors.
func TestGivenSegmentsRefused(t *testing.T) {
	data := generatedData(t, 3000, 0)
	cfg := generatedConfig(t, data, t.TempDir())
	db := memoryDB(t)
	var id1, id2 string
	if err := db.QueryRow("SELECT min(customer_id), max(customer_id) FROM read_parquet(?)", cfg.Inputs.Customers.Path).Scan(&id1, &id2); err != nil {
		t.Fatal(err)
	}
	cfg.Segmentation.Assignments = writeAssignments(t, t.TempDir(),
		id1+",1,Alpha", // row 1
		id2+",2.5,",    // row 2: no whole number
		",1,",          // row 3: no customer
		id1+",2,",      // row 4: the customer again
		"Z9,1,Beta",    // row 5: segment 1 renamed
		"Z8,abc,")      // row 6: no number
	// The run refuses the rows, and validate refuses them as the run does.
	_, runErr := Run(context.Background(), cfg, Options{})
	_, valErr := Validate(context.Background(), cfg, Options{})
	var ie *InputError
	for what, err := range map[string]error{"run": runErr, "validate": valErr} {
		if !errors.As(err, &ie) {
			t.Fatalf("%s of bad rows: %v, want an *InputError", what, err)
		}
		for _, want := range []string{
			`segments.csv (segment_assignments): column "customer_id": expected a customer_id on every row, found "" on row 3`,
			`column "segment_id": expected a whole number from 1 to 2147483647, found "2.5" on row 2 (and 1 more rows)`,
			`column "customer_id": expected each customer once, found "` + id1 + `" on row 4, after row 1`,
			`column "name": expected one name per segment_id (1: Alpha), found "Beta" on row 5, after row 1`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q\ndoes not say %q", what, err, want)
			}
		}
	}

	cfg.Segmentation.Assignments = writeAssignments(t, t.TempDir(), "nobody,1,")
	if _, err := Run(context.Background(), cfg, Options{}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "none of its 1 customers among the run's 3000") {
		t.Errorf("a file of none of the run's customers: %v", err)
	}
	if _, err := Validate(context.Background(), cfg, Options{}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "none of its 1 customers among the run's 3000") {
		t.Errorf("validate of a file of none of the run's customers: %v", err)
	}

	cfg.Segmentation.ChooseK = &config.ChooseK{Min: 2, Max: 4}
	var ce *config.ConfigError
	if _, err := Run(context.Background(), cfg, Options{}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "excludes choose_k") {
		t.Errorf("assignments with choose_k: %v, want a configuration error", err)
	}
}
