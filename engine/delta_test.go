package engine

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/segment"
)

// order is one customer's single order of the delta tests, on 2025-06-01.
type order struct {
	customer string
	amount   float64
}

// writeOrders writes a transactions file of one order per customer.
func writeOrders(t *testing.T, path string, orders []order) {
	t.Helper()
	db := memoryDB(t)
	var values []string
	for _, o := range orders {
		values = append(values, fmt.Sprintf("(%s, %g)", sqlquote.Literal(o.customer), o.amount))
	}
	q := `COPY (SELECT customer_id, TIMESTAMP '2025-06-01 10:00:00' AS ts, amount::DECIMAL(10, 2) AS amount
		FROM (VALUES ` + strings.Join(values, ", ") + `) AS t(customer_id, amount) ORDER BY customer_id)
		TO ` + sqlquote.Literal(path) + ` (FORMAT parquet)`
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

// group is n customers prefix1..prefixn ordering amount each.
func group(prefix string, n int, amount float64) []order {
	var out []order
	for i := 1; i <= n; i++ {
		out = append(out, order{fmt.Sprintf("%s%02d", prefix, i), amount})
	}
	return out
}

// orderConfig clusters on one unscaled feature, the average order value, so
// that every distance can be worked out by hand.
func orderConfig(tx, out string) config.Config {
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{Transactions: config.InputSpec{Path: tx}}
	cfg.Output = out
	cfg.AsOf = "2025-12-31"
	cfg.Segmentation.K = 2
	cfg.Segmentation.NInit = 2
	cfg.Segmentation.Features = []segment.FeatureSpec{{Name: "avg_order_value", Method: "none"}}
	cfg.Segmentation.CategoryMixWeight = 0
	cfg.Segmentation.ChannelMixWeight = 0
	cfg.Segmentation.Demographics = nil
	return cfg
}

// tableLines reads a published table as one line per row, columns
// separated by spaces and nulls as "-", in orderBy's order or, when it is
// empty, in the file's.
func tableLines(t *testing.T, dir, table, columns, orderBy string) []string {
	t.Helper()
	var cols []string
	for _, c := range strings.Split(columns, ",") {
		cols = append(cols, "coalesce(CAST("+strings.TrimSpace(c)+" AS VARCHAR), '-')")
	}
	q := "SELECT concat_ws(' ', " + strings.Join(cols, ", ") + ") FROM $TABLE"
	if orderBy != "" {
		q += " ORDER BY " + orderBy
	}
	return stringRows(t, readTable(t, filepath.Join(dir, table+".parquet"), q))
}

// stringRows reads rows of one text column, closing them.
func stringRows(t *testing.T, rows *sql.Rows) []string {
	t.Helper()
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestDeltaAndMigration runs two nights whose inputs differ in known ways
// and checks the whole delta and migration of each. Night 1: A01..A04 and C
// spend 10, M 20, B01..B04 and R 100; k = 2 gives segment 1 = {B, R}
// (higher value) and segment 2 = {A, C, M}. Night 2 assigns with night 1's
// model: R is gone, N (spending 100, like R did) is new, M now spends 90
// and moves to segment 1, and C spends 12, staying in segment 2 with other
// money figures. Everyone else is unchanged, and so are the value models'
// inputs (same purchase dates, R and N alike), so nobody else is in the
// delta.
func TestDeltaAndMigration(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	tx1, tx2 := filepath.Join(dir, "night1.parquet"), filepath.Join(dir, "night2.parquet")
	night1 := append(group("A", 4, 10), order{"C", 10}, order{"M", 20})
	night1 = append(append(night1, group("B", 4, 100)...), order{"R", 100})
	writeOrders(t, tx1, night1)
	night2 := append(group("A", 4, 10), order{"C", 12}, order{"M", 90})
	night2 = append(append(night2, group("B", 4, 100)...), order{"N", 100})
	writeOrders(t, tx2, night2)

	first, err := Run(context.Background(), orderConfig(tx1, out), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const cols = "customer_id, change, previous_segment_id, segment_id, changed_fields, monetary"
	var want []string
	for _, o := range night1 {
		seg := 2
		if o.amount == 100 {
			seg = 1
		}
		want = append(want, fmt.Sprintf("%s new - %d - %.2f", o.customer, seg, o.amount))
	}
	checkLines(t, "first night's delta: everyone new",
		tableLines(t, first.Dir, "customer_segments_delta", cols, "customer_id"), slices.Sorted(slices.Values(want)))
	checkLines(t, "first night's migration",
		tableLines(t, first.Dir, "segment_migration", "from_segment_id, to_segment_id, customers", ""),
		[]string{"- 1 5", "- 2 6"})
	if d := first.Manifest.Quality.Delta; d != (manifest.DeltaCounts{New: 11}) {
		t.Errorf("first night's delta counts %+v, want 11 new", d)
	}

	cfg := orderConfig(tx2, out)
	cfg.Segmentation.Model = filepath.Join(first.Dir, "model.json")
	second, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "second night's delta", tableLines(t, second.Dir, "customer_segments_delta", cols, "customer_id"), []string{
		"C changed 2 2 monetary,revenue_12m,historical_value,monetary_score,rfm_score 12.00",
		"M changed 2 1 segment_id,segment_name,monetary,revenue_12m,historical_value 90.00",
		"N new - 1 - 100.00",
		"R exit 1 - - -",
	})
	// In the file, new customers come first, then each previous segment
	// with its leavers last.
	checkLines(t, "second night's migration", tableLines(t, second.Dir, "segment_migration", "from_segment_id, to_segment_id, customers", ""),
		[]string{"- 1 1", "1 1 4", "1 - 1", "2 1 1", "2 2 5"})
	if d := second.Manifest.Quality.Delta; d != (manifest.DeltaCounts{New: 1, Changed: 2, Exit: 1}) {
		t.Errorf("second night's delta counts %+v, want 1 new, 2 changed, 1 exit", d)
	}
	// A delta row is the customer's row of customer_segments, whatever
	// columns it has, behind the delta's own.
	describe := func(table string) []string {
		rows := readTable(t, filepath.Join(second.Dir, table+".parquet"), "SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM $TABLE)")
		return stringRows(t, rows)
	}
	if got, want := describe("customer_segments_delta"), describe("customer_segments"); strings.Join(got, "|") !=
		strings.Join(append([]string{want[0], "change VARCHAR", "previous_segment_id INTEGER", "changed_fields VARCHAR"}, want[1:]...), "|") {
		t.Errorf("customer_segments_delta columns %q do not follow customer_segments' %q", got, want)
	}
	got := tableLines(t, second.Dir, "customer_segments_delta", "segment_name, revenue_12m, historical_value, frequency, last_order_date", "customer_id")
	segs := tableLines(t, second.Dir, "customer_segments", "segment_name, revenue_12m, historical_value, frequency, last_order_date", "customer_id")
	if want := []string{segs[8], segs[9], segs[10]}; strings.Join(got[:3], "|") != strings.Join(want, "|") {
		t.Errorf("delta rows of C, M, N = %q, want their customer_segments rows %q", got[:3], want)
	}
}

// TestHysteresis moves customer X, who spent 30 among 20 customers
// spending 10 (segment 2) and 20 spending 100 (segment 1), to 57: slightly
// nearer segment 1's centroid. With a margin X stays in segment 2, in the
// published table and in the segment sizes; without one, X moves.
func TestHysteresis(t *testing.T) {
	dir := t.TempDir()
	tx1, tx2 := filepath.Join(dir, "night1.parquet"), filepath.Join(dir, "night2.parquet")
	night := func(x float64) []order {
		return append(append(group("A", 20, 10), group("B", 20, 100)...), order{"X", x})
	}
	writeOrders(t, tx1, night(30))
	writeOrders(t, tx2, night(57))

	// xIn returns X's segment and distance and the size of segment 2.
	xIn := func(res *Result) (seg int, dist float64, size2 int64) {
		t.Helper()
		rows := readTable(t, filepath.Join(res.Dir, "customer_segments.parquet"),
			"SELECT segment_id, distance, (SELECT count(*) FROM $TABLE WHERE segment_id = 2) FROM $TABLE WHERE customer_id = 'X'")
		if !rows.Next() {
			t.Fatal("X not in customer_segments")
		}
		if err := rows.Scan(&seg, &dist, &size2); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		var published int64
		rows = readTable(t, filepath.Join(res.Dir, "segments.parquet"), "SELECT customers FROM $TABLE WHERE segment_id = 2")
		if !rows.Next() || rows.Scan(&published) != nil || published != size2 {
			t.Errorf("segments says segment 2 has %d customers, customer_segments %d", published, size2)
		}
		return seg, dist, size2
	}
	run := func(cfg config.Config) *Result {
		t.Helper()
		res, err := Run(context.Background(), cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// Night 1 trains: segment 2's centroid is (20·10 + 30)/21 = 230/21, segment 1's 100.
	cases := []struct {
		name string
		// assign with night 1's model (centroids stay at 230/21 and 100)
		// or retrain (X alone on the far side: centroids 10 and 2057/21).
		model          bool
		margin         float64
		keptDist       float64 // X's distance to segment 2 when kept
		movedDist      float64 // X's distance to segment 1 when moved
		keptSize2      int64
		distanceRatios string
	}{
		{"assign with the model", true, 0.1, 57 - 230.0/21, 43, 21, "46.05/43 = 1.071 < 1.1"},
		{"retrain", false, 0.2, 47, 2057.0/21 - 57, 21, "47/40.95 = 1.148 < 1.2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			first := run(orderConfig(tx1, out))
			if seg, _, _ := xIn(first); seg != 2 {
				t.Fatalf("night 1: X in segment %d, want 2", seg)
			}
			cfg := orderConfig(tx2, out)
			if c.model {
				cfg.Segmentation.Model = filepath.Join(first.Dir, "model.json")
			}

			cfg.Segmentation.Hysteresis = c.margin
			kept := run(cfg)
			seg, dist, size2 := xIn(kept)
			if seg != 2 || !near(dist, c.keptDist, 1e-6) || size2 != c.keptSize2 {
				t.Errorf("margin %g (%s): X in segment %d at %.6f, segment 2 of %d; want kept in 2 at %.6f, of %d",
					c.margin, c.distanceRatios, seg, dist, size2, c.keptDist, c.keptSize2)
			}
			if n := kept.Manifest.Quality.Segmentation.HysteresisKept; n != 1 {
				t.Errorf("margin %g: hysteresis_kept %d, want 1", c.margin, n)
			}
			checkLines(t, "delta with X kept", tableLines(t, kept.Dir, "customer_segments_delta", "customer_id, change, changed_fields", "customer_id"),
				[]string{"X changed monetary,revenue_12m,historical_value"})

			cfg.Segmentation.Hysteresis = 0
			moved := run(cfg)
			seg, dist, size2 = xIn(moved)
			if seg != 1 || !near(dist, c.movedDist, 1e-6) || size2 != c.keptSize2-1 {
				t.Errorf("margin 0: X in segment %d at %.6f, segment 2 of %d; want moved to 1 at %.6f, segment 2 of %d",
					seg, dist, size2, c.movedDist, c.keptSize2-1)
			}
			if n := moved.Manifest.Quality.Segmentation.HysteresisKept; n != 0 {
				t.Errorf("margin 0: hysteresis_kept %d, want 0", n)
			}
			checkLines(t, "migration with X moved", tableLines(t, moved.Dir, "segment_migration", "from_segment_id, to_segment_id, customers", ""),
				[]string{"1 1 20", "2 1 1", "2 2 20"})
		})
	}
}

func near(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }

// TestDeltaComparison runs the delta model on hand-made previous and
// current rows, one per comparison rule: fields that move every night do
// not count, probabilities count from a change of their value rounded to
// 0.01, expected purchases rounded to 0.1, money predictions from a change
// of whole units.
func TestDeltaComparison(t *testing.T) {
	ctx := context.Background()
	cfg := config.DefaultConfig()
	s, err := openSession(ctx, &cfg, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Columns: customer_id, segment_id, distance, recency_days, tenure_days,
	// p_alive, predicted_clv_12m, expected_purchases_12m; the other fields
	// are equal.
	previous := `('same', 1, 0.5, 10, 100, 0.501, 10.4, 1.5), ('drift', 1, 0.5, 10, 100, 0.5, 10.0, 1.5),
		('p_alive_same', 1, 0.5, 10, 100, 0.501, 10.0, 1.5), ('p_alive_up', 1, 0.5, 10, 100, 0.504, 10.0, 1.5),
		('clv_same', 1, 0.5, 10, 100, 0.5, 10.4, 1.5), ('clv_up', 1, 0.5, 10, 100, 0.5, 10.4, 1.5),
		('clv_null', 1, 0.5, 10, 100, 0.5, 10.0, 1.5), ('segment', 1, 0.5, 10, 100, 0.5, 10.0, 1.5),
		('purchases_same', 1, 0.5, 10, 100, 0.5, 10.0, 1.51), ('purchases_down', 1, 0.5, 10, 100, 0.5, 10.0, 1.51),
		('rfm', 1, 0.5, 10, 100, 0.5, 10.0, 1.5)`
	current := `('same', 1, 0.5, 10, 100, 0.501, 10.4, 1.5), ('drift', 1, 0.9, 11, 101, 0.5, 10.0, 1.5),
		('p_alive_same', 1, 0.5, 10, 100, 0.504, 10.0, 1.5), ('p_alive_up', 1, 0.5, 10, 100, 0.506, 10.0, 1.5),
		('clv_same', 1, 0.5, 10, 100, 0.5, 10.49, 1.5), ('clv_up', 1, 0.5, 10, 100, 0.5, 10.6, 1.5),
		('clv_null', 1, 0.5, 10, 100, 0.5, NULL, 1.5), ('segment', 2, 0.5, 10, 100, 0.5, 10.0, 1.5),
		('purchases_same', 1, 0.5, 10, 100, 0.5, 10.0, 1.46), ('purchases_down', 1, 0.5, 10, 100, 0.5, 10.0, 1.44),
		('rfm', 1, 0.5, 10, 100, 0.5, 10.0, 1.5)`
	// The customer rfm's monetary score (and so its rfm_score and segment)
	// is rfmMonetary; every other customer's RFM fields are equal.
	table := func(name, values, rfmMonetary string) string {
		m := "CASE WHEN customer_id = 'rfm' THEN " + rfmMonetary + " ELSE 4 END"
		return `CREATE TABLE ` + name + ` AS SELECT customer_id, segment_id::INTEGER AS segment_id, 'S' || segment_id AS segment_name,
			distance::DOUBLE AS distance, recency_days::BIGINT AS recency_days, 3::BIGINT AS frequency,
			12.5::DECIMAL(18, 2) AS monetary, 1::BIGINT AS orders_12m, 12.5::DECIMAL(18, 2) AS revenue_12m,
			37.5::DECIMAL(18, 2) AS historical_value, DATE '2024-01-01' AS first_order_date,
			DATE '2025-06-01' AS last_order_date, tenure_days::BIGINT AS tenure_days, 2::BIGINT AS categories,
			'books' AS next_best_category,
			ep::DOUBLE AS expected_purchases_12m, p_alive::DOUBLE AS p_alive, 0.7::DOUBLE AS p_purchase_12m,
			20.0::DOUBLE AS expected_spend, clv::DOUBLE AS predicted_clv_12m,
			3 AS recency_score, 3 AS frequency_score, (` + m + `)::INTEGER AS monetary_score,
			'33' || (` + m + `) AS rfm_score,
			CASE WHEN (` + m + `) = 4 THEN 'Potential Loyalist' ELSE 'About To Sleep' END AS rfm_segment
			FROM (VALUES ` + values + `) AS t(customer_id, segment_id, distance, recency_days, tenure_days, p_alive, clv, ep)`
	}
	for _, q := range []string{table("customer_segments", current, "1"), table("previous_customer_segments", previous, "4")} {
		if err := s.exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.modelAs(ctx, "marts/customer_segments_delta", "customer_segments_delta"); err != nil {
		t.Fatal(err)
	}
	rows, err := s.conn.QueryContext(ctx, "SELECT customer_id || ' ' || change || ' ' || changed_fields FROM customer_segments_delta ORDER BY customer_id")
	if err != nil {
		t.Fatal(err)
	}
	got := stringRows(t, rows)
	checkLines(t, "delta", got, []string{
		"clv_null changed predicted_clv_12m",
		"clv_up changed predicted_clv_12m",
		"p_alive_up changed p_alive",
		"purchases_down changed expected_purchases_12m",
		"rfm changed monetary_score,rfm_score,rfm_segment",
		"segment changed segment_id,segment_name",
	})
}
