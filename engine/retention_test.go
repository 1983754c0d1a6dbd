package engine

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/segment"
)

// shopLine is one transaction line of a small hand-made shop.
type shopLine struct {
	order    int
	customer string
	ts       string // TIMESTAMP literal
	amount   float64
	category string // "" leaves the column out of the file
}

// writeShop writes a customers file (customer_id only) and a transactions
// file of the given lines as Parquet in dir. When no line has a category,
// the transactions file has no category column at all.
func writeShop(t *testing.T, dir string, customers []string, lines []shopLine) (custPath, txPath string) {
	t.Helper()
	db := memoryDB(t)
	custPath = filepath.Join(dir, "customers.parquet")
	txPath = filepath.Join(dir, "transactions.parquet")
	ids := make([]string, len(customers))
	for i, c := range customers {
		ids[i] = "(" + sqlquote.Literal(c) + ")"
	}
	withCategory := false
	for _, l := range lines {
		withCategory = withCategory || l.category != ""
	}
	rows := make([]string, len(lines))
	for i, l := range lines {
		row := fmt.Sprintf("(%d, %d, %s, TIMESTAMP %s, %.2f", i+1, l.order, sqlquote.Literal(l.customer), sqlquote.Literal(l.ts), l.amount)
		if withCategory {
			row += ", " + sqlquote.Literal(l.category)
		}
		rows[i] = row + ")"
	}
	cols, category := "transaction_id, order_id, customer_id, ts, amount", ""
	if withCategory {
		cols, category = cols+", category", ", category"
	}
	stmts := []string{
		`COPY (SELECT * FROM (VALUES ` + strings.Join(ids, ", ") + `) AS t(customer_id)) TO ` + sqlquote.Literal(custPath) + ` (FORMAT parquet)`,
		`COPY (SELECT transaction_id::BIGINT AS transaction_id, order_id::BIGINT AS order_id, customer_id, ts,
			amount::DECIMAL(10, 2) AS amount` + category + `
			FROM (VALUES ` + strings.Join(rows, ", ") + `) AS t(` + cols + `))
			TO ` + sqlquote.Literal(txPath) + ` (FORMAT parquet)`,
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return custPath, txPath
}

// runShop runs the pipeline on a hand-made shop segmented into two segments
// by average order value alone: the shops below give their big spenders
// order values far above the small spenders', so segment 1 (the higher mean
// historical value) is the big spenders and segment 2 the small ones.
func runShop(t *testing.T, customers []string, lines []shopLine, asOf string) *Result {
	t.Helper()
	dir := t.TempDir()
	custPath, txPath := writeShop(t, dir, customers, lines)
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{Customers: config.InputSpec{Path: custPath}, Transactions: config.InputSpec{Path: txPath}}
	cfg.Output = filepath.Join(dir, "out")
	cfg.AsOf = asOf
	cfg.Segmentation.K = 2
	cfg.Segmentation.Features = []segment.FeatureSpec{{Name: "avg_order_value", Transform: segment.TransformLog1p}}
	cfg.Segmentation.CategoryMixWeight = 0
	cfg.Segmentation.ChannelMixWeight = 0
	cfg.Segmentation.Demographics = nil
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// segmentsOf reads each customer's segment and next best category.
func segmentsOf(t *testing.T, res *Result) (segmentOf map[string]int, nextBest map[string]string) {
	t.Helper()
	rows := readTable(t, filepath.Join(res.Dir, "customer_segments.parquet"),
		"SELECT customer_id, segment_id, coalesce(next_best_category, '-') FROM $TABLE")
	segmentOf, nextBest = map[string]int{}, map[string]string{}
	for rows.Next() {
		var id, next string
		var seg int
		if err := rows.Scan(&id, &seg, &next); err != nil {
			t.Fatal(err)
		}
		segmentOf[id], nextBest[id] = seg, next
	}
	return segmentOf, nextBest
}

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// TestCohortRetention works out the cohort matrix of a small shop by hand.
// as_of is 2025-03-15, so March 2025 is the last, partial month.
//
//	cust  segment  orders                                   cohort   active in months since
//	H1    1        2025-01-05, 2025-02-10, 2025-03-01       2025-01  0 1 2
//	H2    1        2025-01-20, 2025-03-10                   2025-01  0 2
//	H3    1        2025-02-01                               2025-02  0
//	L1    2        2025-01-31 twice (one month, counted once) 2025-01  0
//	L2    2        2025-02-28, 2025-03-15 23:59             2025-02  0 1
//	L3    2        2024-12-15, 2025-02-01                   2024-12  0 2
//	L4    2        a return only (no order): no cohort
//	L5    2        no transactions: no cohort
func TestCohortRetention(t *testing.T) {
	lines := []shopLine{
		{1, "H1", "2025-01-05 10:00:00", 1000, ""},
		{2, "H1", "2025-02-10 10:00:00", 1000, ""},
		{3, "H1", "2025-03-01 10:00:00", 1000, ""},
		{4, "H2", "2025-01-20 10:00:00", 1000, ""},
		{5, "H2", "2025-03-10 10:00:00", 1000, ""},
		{6, "H3", "2025-02-01 10:00:00", 1000, ""},
		{7, "L1", "2025-01-31 10:00:00", 10, ""},
		{8, "L1", "2025-01-31 12:00:00", 10, ""},
		{9, "L2", "2025-02-28 10:00:00", 10, ""},
		{10, "L2", "2025-03-15 23:59:00", 10, ""},
		{11, "L3", "2024-12-15 10:00:00", 10, ""},
		{12, "L3", "2025-02-01 10:00:00", 10, ""},
		{13, "L4", "2025-02-14 10:00:00", -10, ""},
	}
	res := runShop(t, []string{"H1", "H2", "H3", "L1", "L2", "L3", "L4", "L5"}, lines, "2025-03-15")
	segmentOf, _ := segmentsOf(t, res)
	for id, seg := range segmentOf {
		if want := map[byte]int{'H': 1, 'L': 2}[id[0]]; seg != want {
			t.Fatalf("customer %s in segment %d, want %d", id, seg, want)
		}
	}

	rows := readTable(t, filepath.Join(res.Dir, "cohort_retention.parquet"),
		`SELECT segment_id, segment_name, strftime(cohort_month, '%Y-%m'), months_since, strftime(activity_month, '%Y-%m'),
			cohort_customers, active_customers, retention, complete FROM $TABLE`)
	var got []string
	for rows.Next() {
		var seg, months, cohort, active int64
		var name, cohortMonth, month string
		var retention float64
		var complete bool
		if err := rows.Scan(&seg, &name, &cohortMonth, &months, &month, &cohort, &active, &retention, &complete); err != nil {
			t.Fatal(err)
		}
		if !closeTo(retention, float64(active)/float64(cohort)) {
			t.Errorf("segment %d cohort %s month %d: retention %g, want %d/%d", seg, cohortMonth, months, retention, active, cohort)
		}
		if seg == 0 && name != "All customers" {
			t.Errorf("segment 0 named %q", name)
		}
		got = append(got, fmt.Sprintf("%d %s +%d %s %d/%d %v", seg, cohortMonth, months, month, active, cohort, complete))
	}
	want := []string{
		// All customers: cohorts 2024-12 (L3), 2025-01 (H1 H2 L1), 2025-02 (H3 L2).
		"0 2024-12 +0 2024-12 1/1 true",
		"0 2024-12 +1 2025-01 0/1 true",
		"0 2024-12 +2 2025-02 1/1 true",
		"0 2024-12 +3 2025-03 0/1 false",
		"0 2025-01 +0 2025-01 3/3 true",
		"0 2025-01 +1 2025-02 1/3 true",
		"0 2025-01 +2 2025-03 2/3 false",
		"0 2025-02 +0 2025-02 2/2 true",
		"0 2025-02 +1 2025-03 1/2 false",
		// Segment 1 has no customer in the 2024-12 cohort: no rows for it.
		"1 2025-01 +0 2025-01 2/2 true",
		"1 2025-01 +1 2025-02 1/2 true",
		"1 2025-01 +2 2025-03 2/2 false",
		"1 2025-02 +0 2025-02 1/1 true",
		"1 2025-02 +1 2025-03 0/1 false",
		"2 2024-12 +0 2024-12 1/1 true",
		"2 2024-12 +1 2025-01 0/1 true",
		"2 2024-12 +2 2025-02 1/1 true",
		"2 2024-12 +3 2025-03 0/1 false",
		"2 2025-01 +0 2025-01 1/1 true",
		"2 2025-01 +1 2025-02 0/1 true",
		"2 2025-01 +2 2025-03 0/1 false",
		"2 2025-02 +0 2025-02 1/1 true",
		"2 2025-02 +1 2025-03 1/1 false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("cohort_retention:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The cross-sell shop: every customer places one order on 2025-06-01 with
// one line per category bought; big spenders' lines are worth 100, small
// spenders' 1. N01 is a customer without transactions (segment 2).
//
//	segment 1 (50 buyers): 20 {A,B}, 10 {A}, 10 {B,C}, 5 {C,D}, 5 {C}
//	    buyers of A 30, B 30, C 20, D 5; both A,B 20; B,C 10; C,D 5
//	segment 2 (40 buyers): 15 {A,C}, 10 {A,E}, 5 {A}, 10 {D}
//	    buyers of A 30, C 15, E 10, D 10; both A,C 15; A,E 10
//	all (90 buyers): A 60, B 30, C 35, D 15, E 10; A,B 20; A,C 15; A,E 10; B,C 10; C,D 5
//
// C,D (5 customers) is under the 10-customer minimum everywhere.
var crossSellBaskets = []struct {
	prefix     string
	customers  int
	amount     float64
	categories string
}{
	{"HAB", 20, 100, "AB"}, {"HA", 10, 100, "A"}, {"HBC", 10, 100, "BC"}, {"HCD", 5, 100, "CD"}, {"HC", 5, 100, "C"},
	{"LAC", 15, 1, "AC"}, {"LAE", 10, 1, "AE"}, {"LA", 5, 1, "A"}, {"LD", 10, 1, "D"},
}

func TestCategoryPairsAndNextBest(t *testing.T) {
	customers := []string{"N01"}
	var lines []shopLine
	for _, b := range crossSellBaskets {
		for i := range b.customers {
			id := fmt.Sprintf("%s%02d", b.prefix, i+1)
			customers = append(customers, id)
			for _, c := range b.categories {
				lines = append(lines, shopLine{len(customers), id, "2025-06-01 10:00:00", b.amount, string(c)})
			}
		}
	}
	res := runShop(t, customers, lines, "")
	segmentOf, nextBest := segmentsOf(t, res)
	if len(segmentOf) != 91 {
		t.Fatalf("customer_segments has %d customers, want 91", len(segmentOf))
	}
	for id, seg := range segmentOf {
		if want := map[byte]int{'H': 1, 'L': 2, 'N': 2}[id[0]]; seg != want {
			t.Fatalf("customer %s in segment %d, want %d", id, seg, want)
		}
	}

	type pair struct {
		seg, rank                 int
		a, b                      string
		buyers, nA, nB, both      int64
		support, confidence, lift float64
		liftPop                   float64
	}
	want := []pair{
		// All customers: lift = both * 90 / (nA * nB).
		{0, 1, "A", "E", 90, 60, 10, 10, 10. / 90, 10. / 60, 1.5, 1.5},
		{0, 2, "E", "A", 90, 10, 60, 10, 10. / 90, 1, 1.5, 1.5},
		{0, 3, "A", "B", 90, 60, 30, 20, 20. / 90, 20. / 60, 1, 1},
		{0, 4, "B", "A", 90, 30, 60, 20, 20. / 90, 20. / 30, 1, 1},
		{0, 5, "B", "C", 90, 30, 35, 10, 10. / 90, 10. / 30, 900. / 1050, 900. / 1050},
		{0, 6, "C", "B", 90, 35, 30, 10, 10. / 90, 10. / 35, 900. / 1050, 900. / 1050},
		{0, 7, "A", "C", 90, 60, 35, 15, 15. / 90, 15. / 60, 1350. / 2100, 1350. / 2100},
		{0, 8, "C", "A", 90, 35, 60, 15, 15. / 90, 15. / 35, 1350. / 2100, 1350. / 2100},
		// Segment 1: lift = both * 50 / (nA * nB); against the population,
		// confidence / (population buyers of b / 90).
		{1, 1, "A", "B", 50, 30, 30, 20, 0.4, 20. / 30, 1000. / 900, (20. / 30) / (30. / 90)},
		{1, 2, "B", "A", 50, 30, 30, 20, 0.4, 20. / 30, 1000. / 900, (20. / 30) / (60. / 90)},
		{1, 3, "B", "C", 50, 30, 20, 10, 0.2, 10. / 30, 500. / 600, (10. / 30) / (35. / 90)},
		{1, 4, "C", "B", 50, 20, 30, 10, 0.2, 10. / 20, 500. / 600, (10. / 20) / (30. / 90)},
		// Segment 2: every pair has lift 4/3; ties go to more customers,
		// then to the category names.
		{2, 1, "A", "C", 40, 30, 15, 15, 15. / 40, 0.5, 4. / 3, 0.5 / (35. / 90)},
		{2, 2, "C", "A", 40, 15, 30, 15, 15. / 40, 1, 4. / 3, 1 / (60. / 90)},
		{2, 3, "A", "E", 40, 30, 10, 10, 0.25, 1. / 3, 4. / 3, (1. / 3) / (10. / 90)},
		{2, 4, "E", "A", 40, 10, 30, 10, 0.25, 1, 4. / 3, 1 / (60. / 90)},
	}
	rows := readTable(t, filepath.Join(res.Dir, "category_pairs.parquet"),
		`SELECT segment_id, pair_rank, category_a, category_b, buyers, customers_a, customers_b, customers_both,
			support, confidence, lift, lift_vs_population FROM $TABLE`)
	var got []pair
	for rows.Next() {
		var p pair
		if err := rows.Scan(&p.seg, &p.rank, &p.a, &p.b, &p.buyers, &p.nA, &p.nB, &p.both,
			&p.support, &p.confidence, &p.lift, &p.liftPop); err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	if len(got) != len(want) {
		t.Errorf("category_pairs has %d rows, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.seg != w.seg || g.rank != w.rank || g.a != w.a || g.b != w.b || g.buyers != w.buyers ||
			g.nA != w.nA || g.nB != w.nB || g.both != w.both || !closeTo(g.support, w.support) ||
			!closeTo(g.confidence, w.confidence) || !closeTo(g.lift, w.lift) || !closeTo(g.liftPop, w.liftPop) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i+1, g, w)
		}
	}

	// Next best: the highest lift above 1 from a bought category to one not
	// bought, over the segment's qualifying pairs.
	wantNext := map[string]string{
		"HAB": "-", // B→C and A→C: lift 5/6 or no pair
		"HA":  "B", // A→B, lift 10/9
		"HBC": "A", // B→A, lift 10/9
		"HCD": "-", // C→B, lift 5/6; D is already bought
		"HC":  "-", // C→B, lift 5/6; C→D (lift 2.5) has only 5 customers
		"LAC": "E", // A→E, lift 4/3
		"LAE": "C", // A→C, lift 4/3
		"LA":  "C", // A→C and A→E tie at 4/3; C has the higher confidence (1/2 against 1/3)
		"LD":  "-", // D is in no pair
		"N":   "-", // bought nothing
	}
	for id, next := range nextBest {
		prefix := strings.TrimRight(id, "0123456789")
		if next != wantNext[prefix] {
			t.Errorf("next_best_category of %s = %s, want %s", id, next, wantNext[prefix])
		}
	}
}

// TestUpsellAOV works out the up-sell figures of a shop without categories,
// as of 2025-12-31: the last 12 months are 2025, the previous 12 are 2024.
//
//	cust  segment  2024 (previous)                 2025 (last)                       AOV prev → last
//	U1    1        1000                            1500, 2500                        1000 → 2000  up
//	U2    1        3000, 1000                      2000                              2000 → 2000
//	U3    1        -                               1200 less a return of 200          -   → 1000
//	V1    2        10                              8                                 10 → 8
//	V2    2        20, and a separate return -5    30                                15 → 30      up
//	V3    2        40                              -                                 40 → -
//	V4    2        50                              50                                50 → 50
//
// Segment 1: 7000 over 4 orders against 5000 over 3: AOV 1750 against
// 5000/3, change 1750 / (5000/3) - 1 = 0.05; of U1 and U2 (both years), U1 is up.
// Segment 2: 88 over 3 against 115 over 4: change (88/3) / (115/4) - 1 = 7/345;
// of V1, V2 and V4, V2 is up. All: 7088 over 7 against 5115 over 7, 2 of 5 up.
// The data ends with V2's order of 2025-07-15: the last 12 months are
// covered from 2025-01-01 to then, more than half of them.
func TestUpsellAOV(t *testing.T) {
	lines := []shopLine{
		{1, "U1", "2024-03-01 10:00:00", 1000, ""},
		{2, "U1", "2025-03-01 10:00:00", 1500, ""},
		{3, "U1", "2025-06-01 10:00:00", 2500, ""},
		{4, "U2", "2024-05-01 10:00:00", 3000, ""},
		{5, "U2", "2024-06-01 10:00:00", 1000, ""},
		{6, "U2", "2025-05-01 10:00:00", 2000, ""},
		{7, "U3", "2025-02-01 10:00:00", 1200, ""},
		{7, "U3", "2025-02-10 10:00:00", -200, ""},
		{8, "V1", "2024-02-01 10:00:00", 10, ""},
		{9, "V1", "2025-02-01 10:00:00", 8, ""},
		{10, "V2", "2024-07-01 10:00:00", 20, ""},
		{11, "V2", "2024-08-01 10:00:00", -5, ""},
		{12, "V2", "2025-07-15 10:00:00", 30, ""},
		{13, "V3", "2024-09-09 10:00:00", 40, ""},
		{14, "V4", "2024-04-04 10:00:00", 50, ""},
		{15, "V4", "2025-04-04 10:00:00", 50, ""},
	}
	res := runShop(t, []string{"U1", "U2", "U3", "V1", "V2", "V3", "V4"}, lines, "2025-12-31")
	segmentOf, nextBest := segmentsOf(t, res)
	for id, seg := range segmentOf {
		if want := map[byte]int{'U': 1, 'V': 2}[id[0]]; seg != want {
			t.Fatalf("customer %s in segment %d, want %d", id, seg, want)
		}
		if nextBest[id] != "-" {
			t.Errorf("next_best_category of %s = %s without category data, want NULL", id, nextBest[id])
		}
	}
	want := map[string]float64{
		"0 avg_order_value_12m":      7088. / 7,
		"0 avg_order_value_prev_12m": 5115. / 7,
		"0 aov_change":               7088./5115 - 1,
		"0 aov_increase_share":       2. / 5,
		"1 avg_order_value_12m":      1750,
		"1 avg_order_value_prev_12m": 5000. / 3,
		"1 aov_change":               0.05,
		"1 aov_increase_share":       1. / 2,
		"2 avg_order_value_12m":      88. / 3,
		"2 avg_order_value_prev_12m": 115. / 4,
		"2 aov_change":               7. / 345,
		"2 aov_increase_share":       1. / 3,
	}
	rows := readTable(t, filepath.Join(res.Dir, "segment_metrics.parquet"),
		`SELECT segment_id, metric, value, unit FROM $TABLE
		WHERE metric IN ('avg_order_value_12m', 'avg_order_value_prev_12m', 'aov_change', 'aov_increase_share')`)
	got := map[string]float64{}
	for rows.Next() {
		var seg int
		var metric, unit string
		var v float64
		if err := rows.Scan(&seg, &metric, &v, &unit); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%d %s", seg, metric)] = v
		if metric == "aov_change" && unit != "relative change" {
			t.Errorf("aov_change unit %q", unit)
		}
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %v (present %v), want %.10g", k, g, ok, w)
		}
	}

	// Without categories the pair table is published empty, with its columns.
	db := memoryDB(t)
	pairs := filepath.Join(res.Dir, "category_pairs.parquet")
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM read_parquet(?)", pairs).Scan(&n); err != nil {
		t.Fatal(err)
	}
	var cols []string
	rows = readTable(t, pairs, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM $TABLE)")
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, name+" "+typ)
	}
	schema := strings.Join(cols, ", ")
	wantSchema := "segment_id INTEGER, segment_name VARCHAR, pair_rank BIGINT, category_a VARCHAR, category_b VARCHAR, " +
		"buyers BIGINT, customers_a BIGINT, customers_b BIGINT, customers_both BIGINT, " +
		"support DOUBLE, confidence DOUBLE, lift DOUBLE, lift_vs_population DOUBLE"
	if n != 0 || schema != wantSchema {
		t.Errorf("category_pairs without categories: %d rows, columns\n%s\nwant 0 rows, columns\n%s", n, schema, wantSchema)
	}
}
