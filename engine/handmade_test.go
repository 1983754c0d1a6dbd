package engine

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/scoring"
)

// The hand-made dataset: twelve customers whose every figure is worked out
// by hand below. as_of defaults to the latest transaction, 2025-12-31, so
// the last 12 months are [2025-01-01, 2026-01-01) and the 12 before are
// [2024-01-01, 2025-01-01).
//
//	cust  orders (date amount category channel)                  net   12m rev  12m ord  prev  cats
//	C01   2024-03-01 100 A web; 2025-03-01 50 B web               150     50       1      yes   2
//	C02   2024-05-01 200 A web                                    200      0       0      yes   1
//	C03   2025-06-01 80 B web; 2025-07-01 20 A web                100    100       2      no    2  new
//	C04   2023-06-01 30 A web                                      30      0       0      no    1
//	C05   2024-12-31 40 A web; 2025-01-01 60 A web                100     60       1      yes   1
//	C06   2025-02-01 100 B web, returned 30 on 2025-02-10          70     70       1      no    1  new
//	C07   no transactions (signed up 2025-05-01)                    -      0       0      no    0
//	C08   2024-07-01, 08-01, 09-01 10 each C web                   30      0       0      yes   1
//	C09   2025-12-31 500 C store                                  500    500       1      no    1  new
//	C10   2022-01-01 1000 A web                                  1000      0       0      no    1
//	C11   2024-02-02 25 A web; 2025-11-11 25 A app                 50     25       1      yes   1
//	C12   2025-08-08 one order: 30 A web + 40 B web                70     70       1      no    2  new
//
// plus two rejected rows: an unknown customer C99 and a row without amount.
const handmadeCustomers = `
	('C01', DATE '2024-01-01'), ('C02', DATE '2024-01-01'), ('C03', DATE '2025-06-01'),
	('C04', DATE '2023-01-01'), ('C05', DATE '2024-12-01'), ('C06', DATE '2025-02-01'),
	('C07', DATE '2025-05-01'), ('C08', DATE '2024-07-01'), ('C09', DATE '2025-12-31'),
	('C10', DATE '2022-01-01'), ('C11', DATE '2024-02-02'), ('C12', DATE '2025-08-08')`

const handmadeTransactions = `
	(1, 1, 'C01', TIMESTAMP '2024-03-01 10:00:00', 100.00, 'A', 'web'),
	(2, 2, 'C01', TIMESTAMP '2025-03-01 10:00:00', 50.00, 'B', 'web'),
	(3, 3, 'C02', TIMESTAMP '2024-05-01 10:00:00', 200.00, 'A', 'web'),
	(4, 4, 'C03', TIMESTAMP '2025-06-01 10:00:00', 80.00, 'B', 'web'),
	(5, 5, 'C03', TIMESTAMP '2025-07-01 10:00:00', 20.00, 'A', 'web'),
	(6, 6, 'C04', TIMESTAMP '2023-06-01 10:00:00', 30.00, 'A', 'web'),
	(7, 7, 'C05', TIMESTAMP '2024-12-31 23:00:00', 40.00, 'A', 'web'),
	(8, 8, 'C05', TIMESTAMP '2025-01-01 01:00:00', 60.00, 'A', 'web'),
	(9, 9, 'C06', TIMESTAMP '2025-02-01 10:00:00', 100.00, 'B', 'web'),
	(10, 9, 'C06', TIMESTAMP '2025-02-10 10:00:00', -30.00, 'B', 'web'),
	(11, 11, 'C08', TIMESTAMP '2024-07-01 10:00:00', 10.00, 'C', 'web'),
	(12, 12, 'C08', TIMESTAMP '2024-08-01 10:00:00', 10.00, 'C', 'web'),
	(13, 13, 'C08', TIMESTAMP '2024-09-01 10:00:00', 10.00, 'C', 'web'),
	(14, 14, 'C09', TIMESTAMP '2025-12-31 18:00:00', 500.00, 'C', 'store'),
	(15, 15, 'C10', TIMESTAMP '2022-01-01 10:00:00', 1000.00, 'A', 'web'),
	(16, 16, 'C11', TIMESTAMP '2024-02-02 10:00:00', 25.00, 'A', 'web'),
	(17, 17, 'C11', TIMESTAMP '2025-11-11 10:00:00', 25.00, 'A', 'app'),
	(18, 18, 'C12', TIMESTAMP '2025-08-08 10:00:00', 30.00, 'A', 'web'),
	(19, 18, 'C12', TIMESTAMP '2025-08-08 10:00:00', 40.00, 'B', 'web'),
	(20, 20, 'C99', TIMESTAMP '2025-05-05 10:00:00', 10.00, 'A', 'web'),
	(21, 21, 'C01', TIMESTAMP '2025-05-05 10:00:00', NULL, 'A', 'web')`

// writeHandmade writes the hand-made dataset as Parquet files in dir.
func writeHandmade(t *testing.T, dir string) (customers, transactions string) {
	t.Helper()
	db := memoryDB(t)
	customers = filepath.Join(dir, "customers.parquet")
	transactions = filepath.Join(dir, "transactions.parquet")
	stmts := []string{
		`COPY (SELECT * FROM (VALUES ` + handmadeCustomers + `) AS t(customer_id, signup_date)) TO ` + sqlquote.Literal(customers) + ` (FORMAT parquet)`,
		`COPY (SELECT transaction_id::BIGINT AS transaction_id, order_id::BIGINT AS order_id, customer_id, ts,
			amount::DECIMAL(10, 2) AS amount, category, channel
			FROM (VALUES ` + handmadeTransactions + `) AS t(transaction_id, order_id, customer_id, ts, amount, category, channel))
			TO ` + sqlquote.Literal(transactions) + ` (FORMAT parquet)`,
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return customers, transactions
}

// readTable reads a published Parquet table with DuckDB.
func readTable(t *testing.T, path, query string, args ...any) *sql.Rows {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rows, err := db.Query(strings.ReplaceAll(query, "$TABLE", "read_parquet("+sqlquote.Literal(path)+")"), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rows.Close() })
	return rows
}

// valueMetrics are the segment metrics rolled up from the customers'
// predictions.
var valueMetrics = map[string]bool{"predicted_clv_12m_mean": true, "predicted_clv_12m_median": true, "predicted_clv_12m_total": true,
	"expected_purchases_12m": true, "expected_revenue_12m": true, "expected_active_12m": true, "share_alive": true}

// countRows counts the rows of a Parquet file that satisfy where.
func countRows(t *testing.T, path, where string) int64 {
	t.Helper()
	rows := readTable(t, path, "SELECT count(*) FROM $TABLE WHERE "+where)
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// checkValueRollups compares each segment's value metrics with the sums of
// its customers' own predictions in customer_segments.
func checkValueRollups(t *testing.T, dir string) {
	t.Helper()
	got := map[int]map[string]float64{}
	rows := readTable(t, filepath.Join(dir, "segment_metrics.parquet"), "SELECT segment_id, metric, value FROM $TABLE WHERE dimension IS NULL OR dimension = ''")
	for rows.Next() {
		var seg int
		var m string
		var v sql.NullFloat64
		if err := rows.Scan(&seg, &m, &v); err != nil {
			t.Fatal(err)
		}
		if valueMetrics[m] && v.Valid {
			if got[seg] == nil {
				got[seg] = map[string]float64{}
			}
			got[seg][m] = v.Float64
		}
	}
	type sums struct {
		clvs                                       []float64
		clv, purchases, revenue, active, alive, nA float64
	}
	per := map[int]*sums{}
	vrows := readTable(t, filepath.Join(dir, "customer_segments.parquet"),
		"SELECT segment_id, predicted_clv_12m, expected_purchases_12m, expected_spend, p_purchase_12m, p_alive FROM $TABLE WHERE predicted_clv_12m IS NOT NULL ORDER BY segment_id, predicted_clv_12m")
	for vrows.Next() {
		var seg int
		var clv, ep, es, pp, pa float64
		if err := vrows.Scan(&seg, &clv, &ep, &es, &pp, &pa); err != nil {
			t.Fatal(err)
		}
		s := per[seg]
		if s == nil {
			s = &sums{}
			per[seg] = s
		}
		s.clvs = append(s.clvs, clv)
		s.clv, s.purchases, s.revenue, s.active, s.alive, s.nA = s.clv+clv, s.purchases+ep, s.revenue+ep*es, s.active+pp, s.alive+pa, s.nA+1
	}
	if len(per) == 0 {
		t.Fatal("no customer with a predicted CLV")
	}
	for seg, s := range per {
		n := len(s.clvs)
		median := s.clvs[n/2]
		if n%2 == 0 {
			median = (s.clvs[n/2-1] + s.clvs[n/2]) / 2
		}
		want := map[string]float64{
			"predicted_clv_12m_mean": s.clv / float64(n), "predicted_clv_12m_median": median, "predicted_clv_12m_total": s.clv,
			"expected_purchases_12m": s.purchases, "expected_revenue_12m": s.revenue, "expected_active_12m": s.active, "share_alive": s.alive / s.nA,
		}
		for m, w := range want {
			g, ok := got[seg][m]
			if !ok {
				t.Errorf("segment %d: metric %s missing", seg, m)
				continue
			}
			tol := 1e-9 * math.Max(1, math.Abs(w))
			if m == "expected_revenue_12m" {
				tol = float64(n) * 5e-7 // each customer's product rounded to 6 decimals
			}
			if math.Abs(g-w) > tol {
				t.Errorf("segment %d: %s = %.10g, want %.10g from its %d customers", seg, m, g, w, n)
			}
		}
	}
}

// handmadeConfig writes the hand-made dataset under dir and returns the
// configuration the hand-worked tests run it with: one segment, no
// demographics, output under dir/out, the unknown customer's and the
// missing amount's rows allowed as rejects.
func handmadeConfig(t *testing.T, dir string) config.Config {
	t.Helper()
	custPath, tx := writeHandmade(t, dir)
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{Customers: config.InputSpec{Path: custPath}, Transactions: config.InputSpec{Path: tx}}
	cfg.Output = filepath.Join(dir, "out")
	cfg.Segmentation.K = 1
	cfg.Segmentation.Demographics = nil
	cfg.Rejects.MaxShare = 0.5
	return cfg
}

func TestHandmadeMetrics(t *testing.T) {
	dir := t.TempDir()
	cfg := handmadeConfig(t, dir)
	cfg.Targets.Baseline = "last_12m" // the hand-worked baselines below
	// Eleven buyers are fewer than the value models need: the limits are
	// lowered so that the value roll-ups below have figures to add up.
	limits := scoring.DataLimits{MinCustomers: 1, MinRepeatBuyers: 1, MinSpan: 1, MinDistinctX: 1, MaxStartShare: 1}
	res, err := Run(context.Background(), cfg, Options{valueLimits: limits})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.AsOf != "2025-12-31" {
		t.Errorf("as_of = %s, want the latest transaction date 2025-12-31", res.Manifest.AsOf)
	}
	// C09's first and only purchase is on as_of (T = 0): predicted, not
	// fitted, so the 10 other buyers make up the BG/NBD fit.
	if m := res.Manifest.Models[0]; m.Model != "bg_nbd" || m.Customers != 10 || strings.Contains(m.Error, "invalid") {
		t.Errorf("BG/NBD record %+v, want a fit on the 10 buyers with T > 0", m)
	}

	got := map[string]float64{}
	rows := readTable(t, filepath.Join(res.Dir, "segment_metrics.parquet"),
		"SELECT metric, dimension, value FROM $TABLE WHERE segment_id = 1")
	for rows.Next() {
		var m, d string
		var v float64
		if err := rows.Scan(&m, &d, &v); err != nil {
			t.Fatal(err)
		}
		if d != "" {
			m += ":" + d
		}
		got[m] = v
	}
	want := map[string]float64{
		"customers":           12,
		"customer_share":      1,
		"revenue_12m":         875,
		"orders_12m":          8,
		"avg_order_value_12m": 875.0 / 8,
		// 2024: 395 over 7 orders; of C01, C05 and C11 (orders in both
		// years), only C05 raised its order value (40 to 60).
		"avg_order_value_prev_12m": 395.0 / 7,
		"aov_change":               (875.0/8)/(395.0/7) - 1,
		"aov_increase_share":       1.0 / 3,
		"purchase_frequency_12m":   8.0 / 7,
		"historical_ltv":           2300.0 / 12,
		"active_customers_12m":     7,
		"retention_12m":            3.0 / 5,
		"churn_rate":               2.0 / 5,
		"repeat_purchase_rate":     5.0 / 11,
		"categories_per_customer":  14.0 / 11,
		"multi_category_share":     3.0 / 11,
		"new_customers_12m":        4,
		"return_rate":              30.0 / 2330,
		"digital_share":            405.0 / 905,
		"channel_share:web":        380.0 / 905,
		"channel_share:app":        25.0 / 905,
		"channel_share:store":      500.0 / 905,
	}
	// Ten buyers cannot pin down BG/NBD's dropout: its fit runs up the
	// ridge towards a and b → ∞ and is reported degenerate, so no customer
	// has a prediction and the value roll-ups are not published (their
	// arithmetic is checked on generated data, checkValueRollups).
	if m := res.Manifest.Models[0]; m.Converged || !strings.Contains(m.Error, "edge of the parameter space") {
		t.Errorf("BG/NBD on ten buyers %+v, want a degenerate fit", m)
	}
	if n := countRows(t, filepath.Join(res.Dir, "customer_segments.parquet"), "predicted_clv_12m IS NOT NULL OR expected_purchases_12m IS NOT NULL"); n != 0 {
		t.Errorf("%d customers with predictions of a degenerate model", n)
	}
	for m, w := range want {
		g, ok := got[m]
		if !ok {
			t.Errorf("metric %s missing", m)
			continue
		}
		if tol := 1e-9 * math.Max(1, math.Abs(w)); math.Abs(g-w) > tol {
			t.Errorf("%s = %.10g, want %.10g", m, g, w)
		}
	}
	for m := range got {
		if _, ok := want[m]; !ok && !valueMetrics[m] {
			t.Errorf("unexpected metric %s = %g", m, got[m])
		}
	}

	// Customer-level figures.
	asOf := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	days := func(y int, m time.Month, d int) int64 {
		return int64(asOf.Sub(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)).Hours() / 24)
	}
	type cust struct {
		recency, frequency, orders12m, categories int64
		value                                     sql.NullFloat64 // null without a purchase
		revenue12m                                float64
	}
	value := func(v float64) sql.NullFloat64 { return sql.NullFloat64{Float64: v, Valid: true} }
	wantCust := map[string]cust{
		"C01": {days(2025, 3, 1), 2, 1, 2, value(150), 50},
		"C06": {days(2025, 2, 1), 1, 1, 1, value(70), 70},
		"C07": {days(2025, 5, 1), 0, 0, 0, sql.NullFloat64{}, 0},
		"C09": {0, 1, 1, 1, value(500), 500},
		"C12": {days(2025, 8, 8), 1, 1, 2, value(70), 70},
	}
	rows = readTable(t, filepath.Join(res.Dir, "customer_segments.parquet"),
		"SELECT customer_id, recency_days, frequency, orders_12m, categories, historical_value, revenue_12m, segment_id FROM $TABLE")
	n := 0
	for rows.Next() {
		var id string
		var c cust
		var seg int
		if err := rows.Scan(&id, &c.recency, &c.frequency, &c.orders12m, &c.categories, &c.value, &c.revenue12m, &seg); err != nil {
			t.Fatal(err)
		}
		n++
		if seg != 1 {
			t.Errorf("%s in segment %d, want 1", id, seg)
		}
		if w, ok := wantCust[id]; ok && c != w {
			t.Errorf("%s = %+v, want %+v", id, c, w)
		}
	}
	if n != 12 {
		t.Errorf("customer_segments has %d rows, want 12", n)
	}

	// Rejects: the unknown customer and the missing amount, by row.
	rows = readTable(t, filepath.Join(res.Dir, "rejects.parquet"), "SELECT source_row, \"column\", reason FROM $TABLE ORDER BY source_row")
	var rejects []string
	for rows.Next() {
		var row int64
		var col, reason string
		if err := rows.Scan(&row, &col, &reason); err != nil {
			t.Fatal(err)
		}
		rejects = append(rejects, fmt.Sprintf("%d %s %s", row, col, reason))
	}
	wantRejects := []string{"20 customer_id unknown customer", "21 amount missing amount"}
	if strings.Join(rejects, "|") != strings.Join(wantRejects, "|") {
		t.Errorf("rejects = %q, want %q", rejects, wantRejects)
	}

	// Targets: the only segment is the population. Its history is four
	// years, so both lifecycle windows are the last 12 months, in which 7
	// of its 12 customers bought (58%, below the 60% of "active"): it is
	// lapsing, with the population's historical LTV, so its objective is
	// win_back, whose uplifts move the baselines.
	rows = readTable(t, filepath.Join(res.Dir, "segment_targets.parquet"), "SELECT metric, baseline, target, objective FROM $TABLE")
	targets := map[string][2]float64{}
	for rows.Next() {
		var m, obj string
		var b, tg float64
		if err := rows.Scan(&m, &b, &tg, &obj); err != nil {
			t.Fatal(err)
		}
		if obj != "win_back" {
			t.Errorf("%s objective = %s, want win_back", m, obj)
		}
		targets[m] = [2]float64{b, tg}
	}
	for m, w := range map[string][2]float64{
		"revenue_12m":          {875, 875 * 1.05},
		"orders_12m":           {8, 8 * 1.05},
		"active_customers_12m": {7, 7 * 1.10},
		"retention_12m":        {0.6, 0.6 + 0.05},
		"digital_share":        {round(405.0/905, 4), round(405.0/905, 4)},
	} {
		g := targets[m]
		if math.Abs(g[0]-w[0]) > 1e-4 || math.Abs(g[1]-w[1]) > 1e-4 {
			t.Errorf("target %s = %v, want %v", m, g, w)
		}
	}
}

func TestValidateHandmade(t *testing.T) {
	dir := t.TempDir()
	custPath, tx := writeHandmade(t, dir)
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{Customers: config.InputSpec{Path: custPath}, Transactions: config.InputSpec{Path: tx}}
	cfg.Output = filepath.Join(dir, "out")
	cfg.Rejects.MaxShare = 0.5
	v, err := Validate(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Validation{
		AsOf: "2025-12-31", TransactionsRead: 21, TransactionsAccepted: 19, MaxShare: 0.5,
		FirstTS: "2022-01-01 10:00:00", LastTS: "2025-12-31 18:00:00",
		Customers: 12, CustomersWithOrders: 11, Orphans: 1, Returns: 1,
		// The data starts with C10's order of 2022-01-01: both windows
		// (2024 a leap year) are covered, no metric is left out.
		Windows: []manifest.WindowCoverage{
			{Window: "last_12m", Start: "2025-01-01", End: "2025-12-31", Days: 365, CoveredDays: 365, Coverage: 1},
			{Window: "previous_12m", Start: "2024-01-01", End: "2024-12-31", Days: 366, CoveredDays: 366, Coverage: 1},
		},
		MetricsLeftOut: []manifest.MetricLeftOut{},
	}
	got := *v
	got.Inputs, got.Rejects = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("validation\n got %+v\nwant %+v", got, want)
	}
	if len(v.Rejects) != 2 || len(v.Inputs) != 2 {
		t.Errorf("rejects %+v, inputs %+v", v.Rejects, v.Inputs)
	}
	if _, err := os.Stat(cfg.Output); err == nil {
		t.Error("validate wrote the output root")
	}
	// Over the limit: the summary and a rejected error.
	cfg.Rejects.MaxShare = 0.05
	v, err = Validate(context.Background(), cfg, Options{})
	if cliExitCode(err) != exitRejected || v == nil {
		t.Errorf("2 of 21 rows rejected with 5%% allowed: %v, exit %d, summary %v", err, cliExitCode(err), v != nil)
	}
}
