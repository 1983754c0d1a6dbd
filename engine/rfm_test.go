package engine

import (
	"context"
	"database/sql"
	"math"
	"path/filepath"
	"testing"
)

// The hand-made dataset's RFM scores (see handmade_test.go), as of
// 2025-12-31. The 11 buyers (C07 never bought) score
// 1 + floor(5 * (rank - 1) / 11), rank from worst to best with ties sharing
// the lowest rank: ranks 1-3 score 1, 4-5 score 2, 6-7 score 3, 8-9 score
// 4, 10-11 score 5.
//
//	cust  recency_days rank R   orders rank F   net  rank M   rfm  segment (first rule that holds)
//	C01   305          7    3   2      7    3   150  8    4   334  Potential Loyalist
//	C02   609          3    1   1      1    1   200  9    4   114  Lost
//	C03   183          8    4   2      7    3   100  6    3   433  Potential Loyalist
//	C04   944          2    1   1      1    1    30  1    1   111  Lost
//	C05   364          5    2   2      7    3   100  6    3   233  Loyal Customers
//	C06   333          6    3   1      1    1    70  4    2   312  About To Sleep
//	C08   486          4    2   3      11   5    30  1    1   251  Others (no rule holds)
//	C09     0          11   5   1      1    1   500  10   5   515  New Customers
//	C10  1460          1    1   1      1    1  1000  11   5   115  Lost
//	C11    50          10   5   2      7    3    50  3    1   531  New Customers
//	C12   145          9    4   1      1    1    70  4    2   412  New Customers
var handmadeRFM = map[string]struct{ score, segment string }{
	"C01": {"334", "Potential Loyalist"},
	"C02": {"114", "Lost"},
	"C03": {"433", "Potential Loyalist"},
	"C04": {"111", "Lost"},
	"C05": {"233", "Loyal Customers"},
	"C06": {"312", "About To Sleep"},
	"C08": {"251", "Others"},
	"C09": {"515", "New Customers"},
	"C10": {"115", "Lost"},
	"C11": {"531", "New Customers"},
	"C12": {"412", "New Customers"},
}

func TestHandmadeRFM(t *testing.T) {
	res, err := Run(context.Background(), handmadeConfig(t, t.TempDir()), Options{})
	if err != nil {
		t.Fatal(err)
	}

	rows := readTable(t, filepath.Join(res.Dir, "customer_segments.parquet"),
		"SELECT customer_id, recency_score, frequency_score, monetary_score, rfm_score, rfm_segment FROM $TABLE ORDER BY customer_id")
	seen := 0
	for rows.Next() {
		var id string
		var r, f, m sql.NullInt32
		var score, segment sql.NullString
		if err := rows.Scan(&id, &r, &f, &m, &score, &segment); err != nil {
			t.Fatal(err)
		}
		seen++
		want, buyer := handmadeRFM[id]
		if !buyer {
			if r.Valid || f.Valid || m.Valid || score.Valid || segment.Valid {
				t.Errorf("%s has no order: RFM %v %v %v %v %v, want all empty", id, r, f, m, score, segment)
			}
			continue
		}
		digits := string(rune('0'+r.Int32)) + string(rune('0'+f.Int32)) + string(rune('0'+m.Int32))
		if score.String != want.score || digits != want.score || segment.String != want.segment {
			t.Errorf("%s: scores %s, rfm_score %q, rfm_segment %q; want %s, %q", id, digits, score.String, segment.String, want.score, want.segment)
		}
	}
	if seen != 12 {
		t.Errorf("customer_segments has %d customers, want 12", seen)
	}

	// The segments' own figures, worked out from the table above and the
	// hand-made figures (12-month revenue and orders, activity in the two
	// windows).
	type figures struct {
		position, customers                                  int64
		share, revenue, orders, recency, avgOrders, aov, ltv float64
		retention                                            sql.NullFloat64
	}
	want := map[string]figures{
		"Potential Loyalist": {2, 2, 2.0 / 11, 150, 3, 244, 2, 250.0 / 4, 125, sql.NullFloat64{Float64: 1, Valid: true}},
		"Loyal Customers":    {3, 1, 1.0 / 11, 60, 1, 364, 2, 50, 100, sql.NullFloat64{Float64: 1, Valid: true}},
		"New Customers":      {5, 3, 3.0 / 11, 595, 3, 65, 4.0 / 3, 155, 620.0 / 3, sql.NullFloat64{Float64: 1, Valid: true}},
		"About To Sleep":     {9, 1, 1.0 / 11, 70, 1, 333, 1, 70, 70, sql.NullFloat64{}},
		"Lost":               {10, 3, 3.0 / 11, 0, 0, 3013.0 / 3, 1, 410, 410, sql.NullFloat64{Float64: 0, Valid: true}},
		"Others":             {11, 1, 1.0 / 11, 0, 0, 486, 3, 10, 30, sql.NullFloat64{Float64: 0, Valid: true}},
	}
	rows = readTable(t, filepath.Join(res.Dir, "rfm_segments.parquet"),
		`SELECT rfm_segment, rfm_segment_position, customers, customer_share, revenue_12m, orders_12m,
			avg_recency_days, avg_orders, avg_order_value, historical_ltv, retention_12m FROM $TABLE`)
	var total int64
	got := 0
	for rows.Next() {
		var name string
		var g figures
		if err := rows.Scan(&name, &g.position, &g.customers, &g.share, &g.revenue, &g.orders,
			&g.recency, &g.avgOrders, &g.aov, &g.ltv, &g.retention); err != nil {
			t.Fatal(err)
		}
		got++
		total += g.customers
		w, ok := want[name]
		if !ok {
			t.Errorf("rfm_segments has %q, which no buyer is in", name)
			continue
		}
		close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
		if g.position != w.position || g.customers != w.customers || !close(g.share, w.share) ||
			!close(g.revenue, w.revenue) || !close(g.orders, w.orders) || !close(g.recency, w.recency) ||
			!close(g.avgOrders, w.avgOrders) || !close(g.aov, w.aov) || !close(g.ltv, w.ltv) ||
			g.retention.Valid != w.retention.Valid || !close(g.retention.Float64, w.retention.Float64) {
			t.Errorf("rfm_segments %s:\n got %+v\nwant %+v", name, g, w)
		}
	}
	if got != len(want) {
		t.Errorf("rfm_segments has %d rows, want %d", got, len(want))
	}
	if total != int64(len(handmadeRFM)) {
		t.Errorf("rfm_segments' customers add up to %d, want the %d customers with an order", total, len(handmadeRFM))
	}
}
