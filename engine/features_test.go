package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// A numeric column listed as a demographic (acquisition_cost, thousands of
// distinct costs) is refused, naming it, before any one-hot column is
// made of it; a demographic within the limit is not.
func TestDemographicLevelsLimit(t *testing.T) {
	data := generatedData(t, 3000, 0)
	cfg := generatedConfig(t, data, t.TempDir())
	cfg.Inputs.Customers.Attributes = []string{"acquisition_cost"}
	cfg.Segmentation.Demographics = []string{"region", "acquisition_cost"}
	_, err := Run(context.Background(), cfg, Options{})
	var ce *config.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("acquisition_cost as a demographic: error %v, want a *config.ConfigError", err)
	}
	msg := err.Error()
	want := fmt.Sprintf("more than the %d a demographic may have", config.MaxDemographicLevels)
	if !strings.Contains(msg, "segmentation.demographics: acquisition_cost has ") || !strings.Contains(msg, want) ||
		!strings.Contains(msg, "bin it") || strings.Contains(msg, "region") {
		t.Errorf("error %q: want it to name acquisition_cost alone, the limit and the advice to bin it", msg)
	}
}

func TestCheckDemographicLevels(t *testing.T) {
	if err := checkDemographicLevels(map[string]int{"region": config.MaxDemographicLevels}); err != nil {
		t.Errorf("a demographic at the limit: %v, want no error", err)
	}
	err := checkDemographicLevels(map[string]int{"b": config.MaxDemographicLevels + 1, "a": 5000, "region": 4})
	var ce *config.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 2 || !strings.Contains(ce.Problems[0], " a has 5000 ") || !strings.Contains(ce.Problems[1], " b has ") {
		t.Errorf("two demographics over the limit: %v, want one problem each, in name order", err)
	}
}

// checkCustomerFeatures checks a run's published customer_features: one
// row per customer of customer_segments, in their segments, with one
// column per feature of the run's model, in its order, in original units
// (recency and tenure as customer_segments has them, shares and one-hot
// columns in [0, 1], each customer's one-hot columns of a demographic
// adding up to 1, or 0 for a value the model does not have).
func checkCustomerFeatures(t *testing.T, res *Result) {
	t.Helper()
	path := filepath.Join(res.Dir, "customer_features.parquet")
	segments := filepath.Join(res.Dir, "customer_segments.parquet")
	db := memoryDB(t)
	rows, err := db.Query("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))", path)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, name)
	}
	rows.Close()
	want := []string{"customer_id", "segment_id"}
	for _, f := range res.Model.Scaler.Features {
		want = append(want, f.Name)
	}
	if !slices.Equal(cols, want) {
		t.Fatalf("customer_features columns %v, want customer_id, segment_id and the model's features %v", cols, want[2:])
	}
	var n, customers, same int64
	err = db.QueryRow(`SELECT count(*), count(DISTINCT f.customer_id),
			count(*) FILTER (WHERE f.segment_id = s.segment_id AND f.recency_days = s.recency_days AND f.tenure_days = s.tenure_days)
		FROM read_parquet(?) AS f JOIN read_parquet(?) AS s ON f.customer_id = s.customer_id`, path, segments).Scan(&n, &customers, &same)
	if err != nil {
		t.Fatal(err)
	}
	total := countRows(t, segments, "true")
	if n != total || customers != total || same != total {
		t.Errorf("customer_features: %d rows of %d customers joined to customer_segments' %d, %d with their segment, recency and tenure; want all",
			n, customers, total, same)
	}
	oneHot := map[string][]string{}
	var bounds []string
	for _, c := range cols[2:] {
		dim, _, ok := strings.Cut(c, "=")
		if !ok {
			continue
		}
		id := sqlquote.Ident(c)
		bounds = append(bounds, id+" BETWEEN 0 AND 1")
		if dim != "category" && dim != "channel" {
			oneHot[dim] = append(oneHot[dim], id)
		}
	}
	if len(oneHot) == 0 {
		t.Fatal("customer_features: no one-hot demographic columns; the test expects the default demographics")
	}
	for dim, ids := range oneHot {
		sum := "(" + strings.Join(ids, " + ") + ")"
		bounds = append(bounds, sum+" IN (0, 1)")
		if n := countRows(t, path, sum+" = 1"); n < total/2 {
			t.Errorf("customer_features: %d of %d customers with a value of %s, want most", n, total, dim)
		}
	}
	if bad := countRows(t, path, "NOT ("+strings.Join(bounds, " AND ")+")"); bad != 0 {
		t.Errorf("customer_features: %d customers with a share or one-hot value outside [0, 1], or a demographic's one-hot columns adding up to more than 1", bad)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "customer_features.csv")); err != nil {
		t.Errorf("customer_features: %v", err)
	}
}
