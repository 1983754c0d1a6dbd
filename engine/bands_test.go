package engine

import (
	"context"
	"database/sql"
	"math"
	"path/filepath"
	"testing"

	"github.com/crmseg/crmseg/datasets/synth"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// bandSeeds are the generated datasets of TestBandsCoverActuals.
var bandSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// TestBandsCoverActuals replays generated data (which runs to 2026-06-30)
// as of 2025-06-30, a year before its end, with a backtest holdout, and
// compares each segment's P10-P90 bands for the next 12 months' revenue and
// active customers with what the segment's customers then did in the
// generated transactions after as_of. Over several seeds, the bands must
// hold the actuals in 65-95% of the segments: about 80%, as a P10-P90 band
// should.
func TestBandsCoverActuals(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline on several generated datasets")
	}
	type check struct{ inside, total int }
	coverage := map[string]*check{"revenue_12m": {}, "active_customers_12m": {}}
	for _, seed := range bandSeeds {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		if _, err := synth.Generate(context.Background(), synth.Config{Customers: 4000, Seed: seed}, data); err != nil {
			t.Fatal(err)
		}
		cfg := generatedConfig(t, data, filepath.Join(dir, "out"))
		cfg.AsOf = "2025-06-30"
		cfg.Value.BacktestHoldout = "26w"
		cfg.Segmentation.K, cfg.Segmentation.NInit = 6, 2
		res, err := Run(context.Background(), cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if bt := res.Manifest.Backtest; bt == nil || bt.BandError == nil {
			t.Fatalf("seed %d: no model error from the backtest: %+v", seed, bt)
		}
		be := res.Manifest.Backtest.BandError
		t.Logf("seed %d: model error: purchases %.3f, active customers %.3f, revenue %.3f", seed, be.Purchases, be.Active, be.Revenue)
		tx := sqlquote.Literal(filepath.Join(data, "transactions.parquet"))
		rows := readTable(t, filepath.Join(res.Dir, "segment_targets.parquet"), `
			WITH actual AS (
				SELECT seg.segment_id,
					sum(tx.amount) FILTER (WHERE tx.ts >= TIMESTAMP '2025-07-01' AND tx.ts < TIMESTAMP '2026-07-01') AS revenue,
					count(DISTINCT tx.customer_id) FILTER (WHERE tx.amount > 0
						AND tx.ts >= TIMESTAMP '2025-07-01' AND tx.ts < TIMESTAMP '2026-07-01') AS active
				FROM read_parquet(`+sqlquote.Literal(filepath.Join(res.Dir, "customer_segments.parquet"))+`) AS seg
				LEFT JOIN read_parquet(`+tx+`) AS tx ON tx.customer_id = seg.customer_id
				GROUP BY seg.segment_id
			)
			SELECT t.segment_id, t.metric, t.method, t.baseline, t.low, t.high,
				CASE t.metric WHEN 'revenue_12m' THEN actual.revenue ELSE actual.active END::DOUBLE
			FROM $TABLE AS t JOIN actual USING (segment_id)
			WHERE t.metric IN ('revenue_12m', 'active_customers_12m')
			ORDER BY t.segment_id, t.metric`)
		for rows.Next() {
			var sg int
			var metric, method string
			var base, low, actual float64
			var hi sql.NullFloat64 // empty: no upper bound
			if err := rows.Scan(&sg, &metric, &method, &base, &low, &hi, &actual); err != nil {
				t.Fatal(err)
			}
			high := math.Inf(1)
			if hi.Valid {
				high = hi.Float64
			}
			if method == "last_12m_projection" {
				t.Fatalf("seed %d segment %d %s: baseline not from the models", seed, sg, metric)
			}
			c := coverage[metric]
			c.total++
			in := low <= actual && actual <= high
			if in {
				c.inside++
			}
			t.Logf("seed %d segment %d %-21s baseline %12.1f  P10 %12.1f  P90 %12.1f  actual %12.1f  error %+6.1f%%  inside %v",
				seed, sg, metric, base, low, high, actual, 100*(base/actual-1), in)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for metric, c := range coverage {
		share := float64(c.inside) / float64(c.total)
		t.Logf("%s: actual inside P10-P90 in %d of %d segments (%.0f%%)", metric, c.inside, c.total, 100*share)
		if c.total < 20 || share < 0.65 || share > 0.95 {
			t.Errorf("%s: actual inside P10-P90 in %d of %d segments (%.0f%%), want 65-95%% of 20 or more", metric, c.inside, c.total, 100*share)
		}
	}
}
