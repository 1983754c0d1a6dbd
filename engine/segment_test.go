package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/datasets/synth"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/segment"
)

// TestSegmentsHoldStill runs the nightly sequence: a first training, a run
// that assigns with the first run's model (same customers, same segments,
// nobody moves), and a retraining on another draw of the same population,
// whose segments must all keep their IDs and names.
func TestSegmentsHoldStill(t *testing.T) {
	data := generatedData(t, 4000, 3)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)

	first, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if q := first.Manifest.Quality.Segmentation; q.Source != "trained" || q.Compared != 0 || q.Algorithm != "hamerly" {
		t.Errorf("first run: %+v", q)
	}
	if first.Model == nil || len(first.Model.Segments) != 5 || first.Model.NextID != 6 {
		t.Fatalf("first model: %+v", first.Model)
	}
	if _, err := segment.ReadModel(filepath.Join(first.Dir, "model.json")); err != nil {
		t.Fatalf("the run's model.json: %v", err)
	}

	// Assign with the model: the same customers land in the same segments.
	assign := cfg
	assign.Segmentation.Model = filepath.Join(first.Dir, "model.json")
	second, err := Run(context.Background(), assign, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := second.Manifest.Quality.Segmentation
	if q.Source != "model" || q.Compared != 4000 || q.ChangedShare != 0 {
		t.Errorf("assigning with the model: %+v, want every customer compared and none changed", q)
	}
	rows := readTable(t, filepath.Join(second.Dir, "segment_drift.parquet"),
		"SELECT count(*) FILTER (WHERE change <> 'kept' OR stayed <> customers OR moved_in + moved_out + arrived + left_customers <> 0) FROM $TABLE")
	var bad int
	rows.Next()
	if err := rows.Scan(&bad); err != nil || bad != 0 {
		t.Errorf("segment_drift after assigning with the model: %d rows with changes (%v)", bad, err)
	}
	rows.Close()

	// Retrain on another night's draw of the same population.
	other := t.TempDir()
	if _, err := synth.Generate(context.Background(), synth.Config{Customers: 5000, Seed: 8, Separation: 3}, other); err != nil {
		t.Fatal(err)
	}
	third, err := Run(context.Background(), generatedConfig(t, other, out), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if q := third.Manifest.Quality.Segmentation; q.Source != "retrained" {
		t.Errorf("third run: source %q, want retrained", q.Source)
	}
	// The retraining started once more from the previous centroids and,
	// the population being the same, kept that start.
	if q := third.Manifest.Quality.Segmentation; q.Restarts != cfg.Segmentation.NInit+1 || !q.WarmStart {
		t.Errorf("third run: %d restarts, warm start kept %v; want %d and true", q.Restarts, q.WarmStart, cfg.Segmentation.NInit+1)
	}
	byID := map[int]string{}
	for _, s := range first.Model.Segments {
		byID[s.ID] = s.Name
	}
	for _, c := range third.Model.Changes {
		if c.Change != "kept" || byID[c.ID] != c.Name {
			t.Errorf("retraining: segment %d %q %s (shift %.3f), want kept with its name %q", c.ID, c.Name, c.Change, c.Shift, byID[c.ID])
		}
	}
	if third.Model.NextID != 6 {
		t.Errorf("retraining: next ID %d, want 6", third.Model.NextID)
	}
}

// A model given to a run meets one-hot values it was not trained on (a
// region first seen tonight): the run assigns every customer as before
// rather than fail, and publishes the model's columns in
// customer_features. A run whose numeric features are not the model's is
// refused with a configuration error that names both lists and the
// missing features.
func TestModelMeetsNewValues(t *testing.T) {
	data := generatedData(t, 4000, 3)
	cfg := generatedConfig(t, data, t.TempDir())
	first, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := memoryDB(t)
	src, cust := cfg.Inputs.Customers.Path, filepath.Join(t.TempDir(), "customers.parquet")
	if _, err := db.Exec(fmt.Sprintf(`COPY (SELECT * REPLACE (CASE WHEN customer_id = (SELECT min(customer_id) FROM read_parquet(%[1]s))
		THEN 'Atlantis' ELSE region END AS region) FROM read_parquet(%[1]s)) TO %[2]s (FORMAT parquet)`, sqlquote.Literal(src), sqlquote.Literal(cust))); err != nil {
		t.Fatal(err)
	}
	assign := cfg
	assign.Output = t.TempDir()
	assign.Inputs.Customers.Path = cust
	assign.Segmentation.Model = filepath.Join(first.Dir, "model.json")
	res, err := Run(context.Background(), assign, Options{})
	if err != nil {
		t.Fatalf("assigning with the model, a new region among the customers: %v", err)
	}
	if q := res.Manifest.Quality.Segmentation; q.Source != "model" || q.Customers != 4000 {
		t.Errorf("assigning with the model: %+v, want all 4000 customers assigned by the model", q)
	}
	// customer_features has the model's columns: no region=Atlantis.
	checkCustomerFeatures(t, res)

	assign.Segmentation.Features = config.DefaultFeatures[:2]
	_, err = Run(context.Background(), assign, Options{})
	var ce *config.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "the configuration's segmentation.features list recency_days, orders_per_year: missing the model's avg_order_value") {
		t.Errorf("a run with two of the model's numeric features: %v, want a configuration error naming the configuration's and the missing ones", err)
	}
}
