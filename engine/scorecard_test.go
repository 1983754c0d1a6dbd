package engine

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/scoring"
	"github.com/crmseg/crmseg/segment"
)

// The scorecard's hand-made dataset: a plan of record committed from a run
// as of 2025-12-31 (horizon 2026-01-01 to 2026-12-31), measured by runs as
// of 2026-03-31 and 2026-06-30. Every order is one line at noon but H3's,
// whose order 11 has a return of 100 on 2026-02-20 (net 200).
//
//	cust  signup      orders (date amount category channel)
//	H1    2024-03-01  2024-03-10 500 A web; 2025-02-15 600 A web; 2025-08-20 400 B store; 2026-01-20 700 A web; 2026-05-15 500 B web
//	H2    2024-05-01  2024-06-01 800 A store; 2025-05-10 900 A store; 2026-04-12 1000 A store
//	H3    2025-03-01  2025-03-05 450 B web; 2025-11-11 550 A app; 2026-02-02 300 B web (100 returned)
//	H4    2024-09-01  2024-09-09 1000 A web; 2026-06-01 1200 A web
//	L1    2024-01-01  2024-01-01 20 A web; 2025-01-15 25 A web; 2025-07-07 15 B web; 2026-03-03 30 A web
//	L2    2024-11-01  2024-11-11 10 B store; 2025-04-04 12 B store; 2026-06-06 18 A store
//	L3    2025-09-01  2025-09-09 22 A web; 2026-01-05 16 A app; 2026-02-14 14 A app
//	L4    2024-02-01  2024-02-02 30 A store; 2025-12-12 20 B web
//	N1    2026-02-01  2026-02-10 600 A web; 2026-06-20 700 B web
//	N2    2026-05-01  2026-05-05 10 B store
//
// The runs cluster on the average order value alone. The plan's run (k 2)
// puts H1-H4 (average order values 500-1000) in segment 1 and L1-L4
// (15-30) in segment 2; N1 and N2, not yet customers on 2025-12-31, are
// given segments 1 and 2 by the plan's model when they appear. The later
// runs use k 3: their own segments do not matter to the scorecard.
const scorecardCustomers = `
	('H1', DATE '2024-03-01'), ('H2', DATE '2024-05-01'), ('H3', DATE '2025-03-01'), ('H4', DATE '2024-09-01'),
	('L1', DATE '2024-01-01'), ('L2', DATE '2024-11-01'), ('L3', DATE '2025-09-01'), ('L4', DATE '2024-02-01'),
	('N1', DATE '2026-02-01'), ('N2', DATE '2026-05-01')`

const scorecardOrders = `
	('H1', 1, DATE '2024-03-10', 500, 'A', 'web'), ('H1', 2, DATE '2025-02-15', 600, 'A', 'web'),
	('H1', 3, DATE '2025-08-20', 400, 'B', 'store'), ('H1', 4, DATE '2026-01-20', 700, 'A', 'web'),
	('H1', 5, DATE '2026-05-15', 500, 'B', 'web'),
	('H2', 6, DATE '2024-06-01', 800, 'A', 'store'), ('H2', 7, DATE '2025-05-10', 900, 'A', 'store'),
	('H2', 8, DATE '2026-04-12', 1000, 'A', 'store'),
	('H3', 9, DATE '2025-03-05', 450, 'B', 'web'), ('H3', 10, DATE '2025-11-11', 550, 'A', 'app'),
	('H3', 11, DATE '2026-02-02', 300, 'B', 'web'), ('H3', 11, DATE '2026-02-20', -100, 'B', 'web'),
	('H4', 12, DATE '2024-09-09', 1000, 'A', 'web'), ('H4', 13, DATE '2026-06-01', 1200, 'A', 'web'),
	('L1', 14, DATE '2024-01-01', 20, 'A', 'web'), ('L1', 15, DATE '2025-01-15', 25, 'A', 'web'),
	('L1', 16, DATE '2025-07-07', 15, 'B', 'web'), ('L1', 17, DATE '2026-03-03', 30, 'A', 'web'),
	('L2', 18, DATE '2024-11-11', 10, 'B', 'store'), ('L2', 19, DATE '2025-04-04', 12, 'B', 'store'),
	('L2', 20, DATE '2026-06-06', 18, 'A', 'store'),
	('L3', 21, DATE '2025-09-09', 22, 'A', 'web'), ('L3', 22, DATE '2026-01-05', 16, 'A', 'app'),
	('L3', 23, DATE '2026-02-14', 14, 'A', 'app'),
	('L4', 24, DATE '2024-02-02', 30, 'A', 'store'), ('L4', 25, DATE '2025-12-12', 20, 'B', 'web'),
	('N1', 26, DATE '2026-02-10', 600, 'A', 'web'), ('N1', 27, DATE '2026-06-20', 700, 'B', 'web'),
	('N2', 28, DATE '2026-05-05', 10, 'B', 'store')`

// scorecardRow is a row of segment_scorecard as the test works it out.
type scorecardRow struct {
	actual, expected, baseline, target, phased, projected float64
	method, status                                        string
}

// scorecardAdded is the part of the figures to date of the customers added
// since the plan's run, by "run segment metric": run 2's N1 (600, one
// order, active and new), run 3's N1 (600+700) and N2 (10).
var scorecardAdded = map[string]float64{
	"2 1 revenue_12m": 600, "2 1 orders_12m": 1, "2 1 active_customers_12m": 1, "2 1 new_customers_12m": 1,
	"3 1 revenue_12m": 1300, "3 1 orders_12m": 2, "3 1 active_customers_12m": 1, "3 1 new_customers_12m": 1,
	"3 2 revenue_12m": 10, "3 2 orders_12m": 1, "3 2 active_customers_12m": 1, "3 2 new_customers_12m": 1,
}

// The plan's targets (run 1, as of 2025-12-31, targets.baseline last_12m):
// 2025 repeated, moved by the uplifts the test configures, as stored
// (rounded to 4 decimals).
//
//	segment 1 (retention): revenue 600+400+900+450+550 = 2900 (+10%), orders 5 (+10%),
//	  active 3 (H1 H2 H3, +10%), retention 2/3 (of H1 H2 H4 active in 2024; +5 points),
//	  multi-category 2/4 (H1 H3; +5 points), digital (600+450+550)/2900 (+2 points), new 1 (H3)
//	segment 2 (acquisition): revenue 25+15+12+22+20 = 94 (+20%), orders 5, active 4 (+25%),
//	  retention 3/3 (L1 L2 L4), multi-category 2/4 (L1 L4), digital 82/94, new 1 (L3; +100%)
var scorecardTargets = map[string][2]float64{
	"1 revenue_12m": {2900, 3190}, "1 orders_12m": {5, 5.5}, "1 active_customers_12m": {3, 3.3},
	"1 retention_12m": {0.6667, 0.7167}, "1 multi_category_share": {0.5, 0.55}, "1 digital_share": {0.5517, 0.5717},
	"1 new_customers_12m": {1, 1},
	"2 revenue_12m":       {94, 112.8}, "2 orders_12m": {5, 5}, "2 active_customers_12m": {4, 5},
	"2 retention_12m": {1, 1}, "2 multi_category_share": {0.5, 0.5}, "2 digital_share": {0.8723, 0.8723},
	"2 new_customers_12m": {1, 2},
}

// TestScorecardHandWorked commits a plan of record from a run of the
// hand-made dataset and measures it with two later runs: every row of
// their segment_scorecard is worked out below, statuses included. The
// value models cannot be fitted on ten customers, so the year-end is the
// run rate (counts, money, retention) or the plan for the rest (shares).
func TestScorecardHandWorked(t *testing.T) {
	dir := t.TempDir()
	db := memoryDB(t)
	customers, transactions := filepath.Join(dir, "customers.parquet"), filepath.Join(dir, "transactions.parquet")
	for _, q := range []string{
		`COPY (SELECT * FROM (VALUES ` + scorecardCustomers + `) AS t(customer_id, signup_date)) TO ` + sqlquote.Literal(customers) + ` (FORMAT parquet)`,
		`COPY (SELECT row_number() OVER ()::BIGINT AS transaction_id, order_id::BIGINT AS order_id, customer_id,
			day + INTERVAL 12 HOUR AS ts, amount::DECIMAL(10, 2) AS amount, category, channel
			FROM (VALUES ` + scorecardOrders + `) AS t(customer_id, order_id, day, amount, category, channel))
			TO ` + sqlquote.Literal(transactions) + ` (FORMAT parquet)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, "out")
	run := func(asOf string, k int) (*Result, string) {
		t.Helper()
		cfg := config.DefaultConfig()
		cfg.Inputs = config.Inputs{Customers: config.InputSpec{Path: customers}, Transactions: config.InputSpec{Path: transactions}}
		cfg.Output, cfg.AsOf, cfg.Today = root, asOf, "2026-07-01"
		cfg.Segmentation.K = k
		cfg.Segmentation.Features = []segment.FeatureSpec{{Name: "avg_order_value", Transform: "log1p"}}
		cfg.Segmentation.CategoryMixWeight, cfg.Segmentation.ChannelMixWeight, cfg.Segmentation.Demographics = 0, 0, nil
		cfg.Targets.Baseline = "last_12m"
		cfg.Targets.Objectives = map[int]string{1: "retention", 2: "acquisition"}
		cfg.Targets.Uplift = map[string]map[string]float64{
			"retention": {"revenue_12m": 0.10, "orders_12m": 0.10, "active_customers_12m": 0.10, "retention_12m": 0.05,
				"multi_category_share": 0.05, "digital_share": 0.02},
			"acquisition": {"revenue_12m": 0.20, "active_customers_12m": 0.25, "new_customers_12m": 1},
		}
		var logs bytes.Buffer
		res, err := Run(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("run as of %s: %v", asOf, err)
		}
		return res, logs.String()
	}

	// Run 1: no plan yet. The scorecard is published empty, and the log
	// says why.
	plan, logs := run("2025-12-31", 2)
	if !strings.Contains(logs, `msg="no plan of record covers as_of: no scorecard" run_id=`+plan.RunID+" as_of=2025-12-31") {
		t.Errorf("log of a run without a plan lacks the no-plan line:\n%s", logs)
	}
	if n := countRows(t, filepath.Join(plan.Dir, "segment_scorecard.parquet"), "true"); n != 0 || plan.Manifest.Scorecard != nil {
		t.Errorf("run without a plan: %d scorecard rows, manifest %+v; want none", n, plan.Manifest.Scorecard)
	}
	segOf := map[string]int{}
	rows := readTable(t, filepath.Join(plan.Dir, "customer_segments.parquet"), "SELECT customer_id, segment_id FROM $TABLE")
	for rows.Next() {
		var id string
		var seg int
		if err := rows.Scan(&id, &seg); err != nil {
			t.Fatal(err)
		}
		segOf[id] = seg
	}
	if got, want := fmt.Sprint(segOf), "map[H1:1 H2:1 H3:1 H4:1 L1:2 L2:2 L3:2 L4:2]"; got != want {
		t.Fatalf("the plan's run's segments %s, want %s", got, want)
	}
	if _, _, err := store.CommitPlan(context.Background(), root, store.PlanCommit{By: "test", Note: "FY26", Now: time.Now()}); err != nil {
		t.Fatal(err)
	}

	// Run 2, as of 2026-03-31: day 90 of 365. The plan is phased by 2025,
	// to 2025-03-31 and in all (no segment has the 30 customers behind a
	// figure of its own): revenue, orders and spend of the customers
	// established by its start (first order in 2024: H1 H2 H4 L1 L2 L4),
	// revenue 600+25 = 625 of 600+400+900+25+15+12+20 = 1972, orders 2 of
	// 7, of them with an order 2 (H1 L1) of 5, gross spend 625, all of it
	// digital against 660/1972 in the year; new customers 1 (H3) of 2 (H3
	// L3); of the 6 active in 2024, active again 2 (H1 L1) of 5 (H1 H2 L1
	// L2 L4).
	// Segment 1 is H1-H4 and N1 (new, added): revenue 700+200+600 = 1500,
	// orders 3, active 3 (H1 H3 N1), new 1 (N1), of H1 H2 H3 active in
	// 2025 2 again (H1 H3), buyers 5 of whom 2 bought 2 categories (H1
	// H3), gross spend 1600, all digital. Segment 2 is L1-L4: revenue
	// 30+16+14 = 60, orders 3, active 2 (L1 L3), new 0, of the 4 active in
	// 2025 2 again, multi-category 2 of 4, spend 60, all digital.
	run2, _ := run("2026-03-31", 3)
	rev2, shift2 := 625.0/1972, 625.0/625-660.0/1972
	checkScorecard(t, run2, "2", 90, map[string]int64{"1": 5, "2": 4}, map[string]int64{"1": 1, "2": 0}, map[string]scorecardRow{
		"1 revenue_12m":          {actual: 1500, expected: 3190 * rev2, phased: rev2, projected: 1500 / rev2, method: "run_rate", status: "ahead"},
		"1 orders_12m":           {actual: 3, expected: 5.5 * 2 / 7, phased: 2.0 / 7, projected: 3 / (2.0 / 7), method: "run_rate", status: "ahead"},
		"1 active_customers_12m": {actual: 3, expected: 3.3 * 0.4, phased: 0.4, projected: 3 / 0.4, method: "run_rate", status: "ahead"},
		"1 new_customers_12m":    {actual: 1, expected: 0.5, phased: 0.5, projected: 2, method: "run_rate", status: "ahead"},
		"1 retention_12m":        {actual: 2.0 / 3, expected: 0.7167 * 0.4, phased: 0.4, projected: 1, method: "run_rate", status: "ahead"}, // the run rate 1.67, held at 1
		"1 multi_category_share": {actual: 0.4, expected: 0.5 + 0.05*2/7, phased: 2.0 / 7, projected: 0.55 + (0.4 - (0.5 + 0.05*2/7)), method: "rest_as_planned", status: "behind"},
		"1 digital_share": {actual: 1, expected: math.Min(0.5517+0.02*rev2+shift2, 1), phased: rev2, projected: 0.5717, // 1.22, held at 1
			method: "rest_as_planned", status: "on_track"},
		"2 revenue_12m":          {actual: 60, expected: 112.8 * rev2, phased: rev2, projected: 60 / rev2, method: "run_rate", status: "ahead"},
		"2 orders_12m":           {actual: 3, expected: 5 * 2.0 / 7, phased: 2.0 / 7, projected: 3 / (2.0 / 7), method: "run_rate", status: "ahead"},
		"2 active_customers_12m": {actual: 2, expected: 5 * 0.4, phased: 0.4, projected: 2 / 0.4, method: "run_rate", status: "on_track"},
		"2 new_customers_12m":    {actual: 0, expected: 1, phased: 0.5, projected: 0, method: "run_rate", status: "behind"},
		"2 retention_12m":        {actual: 0.5, expected: 0.4, phased: 0.4, projected: 1, method: "run_rate", status: "ahead"}, // the run rate 1.25, held at 1
		"2 multi_category_share": {actual: 0.5, expected: 0.5, phased: 2.0 / 7, projected: 0.5, method: "rest_as_planned", status: "on_track"},
		"2 digital_share": {actual: 1, expected: math.Min(0.8723+shift2, 1), phased: rev2, projected: 0.8723, // 1.54, held at 1
			method: "rest_as_planned", status: "on_track"},
	})

	// Run 3, as of 2026-06-30: day 181. 2025 to 2025-06-30: the
	// established customers' revenue 625 + 900 + 12 = 1537, orders 4, with
	// an order 4 (H1 H2 L1 L2), gross spend 1537 of which 625 digital; new
	// 1; again active 4 (H1 H2 L1 L2). Segment 1 adds H2's 1000, H1's 500,
	// H4's 1200 and N1's 700: revenue 4900, orders 7, active 5, new 1, all
	// 3 of 2025 again, gross 5000 of which 4000 digital (H2 buys in store),
	// multi-category 3 of 5 (N1 now too). Segment 2 adds L2's 18 and N2
	// (new, added): revenue 88, orders 5, active 4 (L1 L2 L3 N2), new 1, of
	// 4 active in 2025 3 again, digital 60 of 88, multi-category 3 of 5 (L2
	// now too).
	run3, _ := run("2026-06-30", 3)
	rev3, shift3 := 1537.0/1972, 625.0/1537-660.0/1972
	exp1, exp2 := 0.5517+0.02*rev3+shift3, 0.8723+shift3
	checkScorecard(t, run3, "3", 181, map[string]int64{"1": 5, "2": 5}, map[string]int64{"1": 1, "2": 1}, map[string]scorecardRow{
		"1 revenue_12m":          {actual: 4900, expected: 3190 * rev3, phased: rev3, projected: 4900 / rev3, method: "run_rate", status: "ahead"},
		"1 orders_12m":           {actual: 7, expected: 5.5 * 4 / 7, phased: 4.0 / 7, projected: 7 / (4.0 / 7), method: "run_rate", status: "ahead"},
		"1 active_customers_12m": {actual: 5, expected: 3.3 * 0.8, phased: 0.8, projected: 5 / 0.8, method: "run_rate", status: "ahead"},
		"1 new_customers_12m":    {actual: 1, expected: 0.5, phased: 0.5, projected: 2, method: "run_rate", status: "ahead"},
		"1 retention_12m":        {actual: 1, expected: 0.7167 * 0.8, phased: 0.8, projected: 1, method: "run_rate", status: "ahead"},
		"1 multi_category_share": {actual: 0.6, expected: 0.5 + 0.05*4/7, phased: 4.0 / 7, projected: 0.55 + (0.6 - (0.5 + 0.05*4/7)), method: "rest_as_planned", status: "ahead"},
		"1 digital_share":        {actual: 0.8, expected: exp1, phased: rev3, projected: 0.5717 + (0.8-exp1)*rev3, method: "rest_as_planned", status: "ahead"},
		"2 revenue_12m":          {actual: 88, expected: 112.8 * rev3, phased: rev3, projected: 88 / rev3, method: "run_rate", status: "on_track"}, // +0.1%
		"2 orders_12m":           {actual: 5, expected: 5 * 4.0 / 7, phased: 4.0 / 7, projected: 5 / (4.0 / 7), method: "run_rate", status: "ahead"},
		"2 active_customers_12m": {actual: 4, expected: 5 * 0.8, phased: 0.8, projected: 5, method: "run_rate", status: "on_track"},
		"2 new_customers_12m":    {actual: 1, expected: 1, phased: 0.5, projected: 2, method: "run_rate", status: "on_track"},
		"2 retention_12m":        {actual: 0.75, expected: 0.8, phased: 0.8, projected: 0.75 / 0.8, method: "run_rate", status: "at_risk"}, // -6.25%
		"2 multi_category_share": {actual: 0.6, expected: 0.5, phased: 4.0 / 7, projected: 0.6, method: "rest_as_planned", status: "ahead"},
		"2 digital_share":        {actual: 60.0 / 88, expected: exp2, phased: rev3, projected: 0.8723 + (60.0/88-exp2)*rev3, method: "rest_as_planned", status: "behind"},
	})

	// The history keeps each run's scorecard: its summary on the run's row,
	// its rows for crmseg history RUN_ID.
	runs, err := store.List(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	summary := map[string]string{}
	for _, r := range runs {
		s := "none"
		if r.ScorecardPlanID != nil {
			s = fmt.Sprintf("plan %d: %d/%d/%d/%d", *r.ScorecardPlanID, *r.ScorecardAhead, *r.ScorecardOnTrack, *r.ScorecardAtRisk, *r.ScorecardBehind)
		}
		summary[r.RunID] = s
	}
	for id, want := range map[string]string{plan.RunID: "none", run2.RunID: "plan 1: 8/4/0/2", run3.RunID: "plan 1: 9/3/1/1"} {
		if summary[id] != want {
			t.Errorf("history's scorecard of run %s: %s, want %s (ahead/on track/at risk/behind)", id, summary[id], want)
		}
	}
	d, err := store.Show(context.Background(), root, run3.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Scorecard) != 14 || d.Scorecard[0].Metric != "active_customers_12m" || d.Scorecard[0].Status != "ahead" || d.Scorecard[0].DaysElapsed != 181 {
		t.Errorf("history's scorecard rows of run 3: %+v", d.Scorecard)
	}

	// The plan's run's customers damaged, then gone: the run goes on and
	// publishes, without a scorecard, and the log says why.
	planCustomers := filepath.Join(plan.Dir, "customer_segments.parquet")
	for _, c := range []struct{ damage, log string }{
		{"damaged", `msg="customers of the plan of record's run unreadable: no scorecard"`},
		{"removed", `msg="customers of the plan of record's run not found: no scorecard"`},
	} {
		var err error
		if c.damage == "damaged" {
			err = os.WriteFile(planCustomers, []byte("not parquet"), 0o644)
		} else {
			err = os.Remove(planCustomers)
		}
		if err != nil {
			t.Fatal(err)
		}
		res, logs := run("2026-06-30", 3)
		if !strings.Contains(logs, c.log+" run_id="+res.RunID+" plan_id=1") {
			t.Errorf("log of a run whose plan's customers are %s lacks %s:\n%s", c.damage, c.log, logs)
		}
		if n := countRows(t, filepath.Join(res.Dir, "segment_scorecard.parquet"), "true"); n != 0 || res.Manifest.Scorecard != nil {
			t.Errorf("run whose plan's customers are %s: %d scorecard rows, manifest %+v; want none", c.damage, n, res.Manifest.Scorecard)
		}
	}
}

// checkScorecard compares the segment_scorecard of a run with the rows
// worked out, by "segment metric", and the manifest's summary with them.
func checkScorecard(t *testing.T, res *Result, name string, days int64, customers, added map[string]int64, want map[string]scorecardRow) {
	t.Helper()
	rows := readTable(t, filepath.Join(res.Dir, "segment_scorecard.parquet"), `SELECT plan_id, segment_id, metric, unit,
		strftime(horizon_start, '%Y-%m-%d'), strftime(horizon_end, '%Y-%m-%d'), strftime(as_of, '%Y-%m-%d'), days_elapsed, horizon_days,
		customers, added_customers, actual_to_date, added_to_date, expected_to_date, phasing, phased_share, baseline_full_year, target_full_year,
		projected_year_end, projection_method, comparison, gap, status FROM $TABLE`)
	seen := map[string]bool{}
	counts := map[string]int64{}
	for rows.Next() {
		var plan, seg int
		var metric, unit, start, end, asOf, phasing, method, comparison string
		var elapsed, horizon, cust, add int64
		var actual, addedToDate, expected, phased, baseline, target, projected, gap sql.NullFloat64
		var status sql.NullString
		if err := rows.Scan(&plan, &seg, &metric, &unit, &start, &end, &asOf, &elapsed, &horizon, &cust, &add, &actual, &addedToDate, &expected,
			&phasing, &phased, &baseline, &target, &projected, &method, &comparison, &gap, &status); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("%d %s", seg, metric)
		seen[key] = true
		counts[status.String]++
		w, ok := want[key]
		if !ok {
			t.Errorf("%s: unexpected row", key)
			continue
		}
		tgt := scorecardTargets[key]
		w.baseline, w.target = tgt[0], tgt[1]
		level := metric == "digital_share" || metric == "multi_category_share"
		wantGap, wantComparison := w.actual/w.expected-1, "ratio"
		if level {
			wantGap, wantComparison = w.actual-w.expected, "points"
		}
		if plan != 1 || start != "2026-01-01" || end != "2026-12-31" || asOf != res.Manifest.AsOf || elapsed != days || horizon != 365 ||
			cust != customers[fmt.Sprint(seg)] || add != added[fmt.Sprint(seg)] || phasing != "base" || method != w.method ||
			comparison != wantComparison || status.String != w.status {
			t.Errorf("%s: plan %d, %s to %s as of %s, day %d of %d, %d customers (%d added), phasing %s, projection %s, comparison %s, status %q; "+
				"want plan 1, 2026-01-01 to 2026-12-31 as of %s, day %d of 365, %d (%d), base, %s, %s, %q", key, plan, start, end, asOf,
				elapsed, horizon, cust, add, phasing, method, comparison, status.String, res.Manifest.AsOf, days,
				customers[fmt.Sprint(seg)], added[fmt.Sprint(seg)], w.method, wantComparison, w.status)
		}
		if level || metric == "retention_12m" {
			if addedToDate.Valid {
				t.Errorf("%s: added_to_date %v, want none for a share", key, addedToDate.Float64)
			}
		} else if w := scorecardAdded[name+" "+key]; !addedToDate.Valid || math.Abs(addedToDate.Float64-w) > 1e-9 {
			t.Errorf("%s: added_to_date %v, want %v", key, addedToDate, w)
		}
		for _, f := range []struct {
			name      string
			got       sql.NullFloat64
			want      float64
			tolerance float64
		}{
			{"actual_to_date", actual, w.actual, 1e-6}, {"expected_to_date", expected, w.expected, 1e-6},
			{"phased_share", phased, w.phased, 1e-6}, {"baseline_full_year", baseline, w.baseline, 1e-9},
			{"target_full_year", target, w.target, 1e-9}, {"projected_year_end", projected, w.projected, 1e-6},
			{"gap", gap, wantGap, 2e-6},
		} {
			if !f.got.Valid || math.Abs(f.got.Float64-f.want) > f.tolerance*math.Max(1, math.Abs(f.want)) {
				t.Errorf("%s: %s = %v, want %.6f", key, f.name, f.got, f.want)
			}
		}
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("%s: no row", key)
		}
	}
	sc := res.Manifest.Scorecard
	if sc == nil {
		t.Fatal("manifest: no scorecard")
	}
	var all, add int64
	for seg, n := range customers {
		all += n
		add += added[seg]
	}
	if sc.PlanID != 1 || sc.DaysElapsed != days || sc.Rows != 14 || sc.Customers != all || sc.AddedCustomers != add ||
		sc.Ahead != counts["ahead"] || sc.OnTrack != counts["on_track"] || sc.AtRisk != counts["at_risk"] || sc.Behind != counts["behind"] {
		t.Errorf("manifest's scorecard %+v; rows by status %v", sc, counts)
	}
}

// TestScorecardModels measures a plan of record on generated data, where
// the value models fit: the year-end of revenue, orders, active customers
// and retention comes from them, at least what is done and, for retention,
// at most all of the cohort; at the horizon's last day nothing is left to
// come, the year-end is the actual figure and the plan's full-year target
// is expected. The segments are the plan's: its run's customers keep
// theirs, whatever this run's segmentation (another k) makes of them. The
// year-end comes from the purchase model the measuring run chose
// (value.model), not the plan's run's.
func TestScorecardModels(t *testing.T) {
	data := generatedData(t, 3000, 0)
	root := t.TempDir()
	run := func(asOf string, k int, model string) *Result {
		t.Helper()
		cfg := generatedConfig(t, data, root)
		cfg.AsOf, cfg.Today, cfg.Segmentation.K, cfg.Value.Model = asOf, "2026-07-01", k, model
		res, err := Run(context.Background(), cfg, Options{})
		if err != nil {
			t.Fatalf("run as of %s: %v", asOf, err)
		}
		return res
	}
	plan := run("2025-06-30", 4, config.ModelBGNBD)
	if _, _, err := store.CommitPlan(context.Background(), root, store.PlanCommit{By: "test", Note: "FY", Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	planned := countRows(t, filepath.Join(plan.Dir, "segment_targets.parquet"), "true")

	for _, asOf := range []string{"2025-09-30", "2026-06-30"} {
		model := map[string]string{"2025-09-30": config.ModelParetoNBD, "2026-06-30": config.ModelBGNBD}[asOf]
		res := run(asOf, 5, model)
		sc := res.Manifest.Scorecard
		if sc == nil || sc.Rows != planned || sc.UnassignedCustomers != 0 || sc.Customers != int64(res.Manifest.Quality.Segmentation.Customers) {
			t.Fatalf("as of %s: scorecard %+v, want the plan's %d targets over all %d customers", asOf, sc, planned, res.Manifest.Quality.Segmentation.Customers)
		}
		end := asOf == "2026-06-30"
		rows := readTable(t, filepath.Join(res.Dir, "segment_scorecard.parquet"), `SELECT segment_id, metric, customers - added_customers,
			actual_to_date, expected_to_date, target_full_year, projected_year_end, projection_method, phasing, phased_share FROM $TABLE`)
		models := map[string]string{"revenue_12m": model + "_gamma_gamma", "orders_12m": model, "active_customers_12m": model, "retention_12m": model}
		ownPhasing := 0
		for rows.Next() {
			var seg int
			var metric, method, phasing string
			var kept int64
			var actual, expected, target, projected, phased sql.NullFloat64
			if err := rows.Scan(&seg, &metric, &kept, &actual, &expected, &target, &projected, &method, &phasing, &phased); err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("as of %s, segment %d %s", asOf, seg, metric)
			// The plan's run's customers in the segment, all still here.
			if want := countRows(t, filepath.Join(plan.Dir, "customer_segments.parquet"), fmt.Sprintf("segment_id = %d", seg)); kept != want {
				t.Errorf("%s: %d of the plan's run's customers, want its %d", key, kept, want)
			}
			// Revenue, orders, spend and new customers are phased by the
			// base's year (the data starts in 2023); customers with an order
			// and retention by the segment's own, with 30 customers behind
			// it (the new customers' segment has fewer established ones).
			switch metric {
			case "active_customers_12m":
				if end {
					break
				}
				// The segment's established customers (a first order before
				// 2024-07-01) with an order from 2024-07-01 to 2024-09-30, and
				// with one in the year to 2025-06-30.
				rows := readTable(t, filepath.Join(plan.Dir, "customer_segments.parquet"), `WITH orders AS (
					SELECT customer_id::VARCHAR AS customer_id, min(ts) FILTER (WHERE amount > 0) AS order_ts
					FROM read_parquet(?) WHERE ts < DATE '2025-10-01' GROUP BY customer_id, order_id),
				customers AS (SELECT customer_id, min(order_ts) AS first_order, bool_or(order_ts >= DATE '2024-07-01' AND order_ts < DATE '2024-10-01') AS to_date,
					bool_or(order_ts >= DATE '2024-07-01' AND order_ts < DATE '2025-07-01') AS year FROM orders GROUP BY customer_id)
				SELECT count(*) FILTER (WHERE to_date), count(*) FILTER (WHERE year) FROM customers JOIN $TABLE AS plan USING (customer_id)
				WHERE plan.segment_id = ? AND first_order < DATE '2024-07-01'`, filepath.Join(data, "transactions.parquet"), seg)
				var toDate, year float64
				if !rows.Next() || rows.Scan(&toDate, &year) != nil {
					t.Fatalf("%s: %v", key, rows.Err())
				}
				if year >= 30 {
					ownPhasing++
				}
				if year >= 30 && (phasing != "segment" || math.Abs(phased.Float64-toDate/year) > 1e-6) {
					t.Errorf("%s: phased by the %s, %v; want the segment's %v/%v", key, phasing, phased, toDate, year)
				}
				if year < 30 && phasing != "base" {
					t.Errorf("%s: phased by the %s; want the base's, the segment's %v customers being too few", key, phasing, year)
				}
			case "retention_12m":
			default:
				if phasing != "base" {
					t.Errorf("%s: phased by the %s, want the base", key, phasing)
				}
			}
			if m, ok := models[metric]; ok {
				if method != m || !projected.Valid || projected.Float64 < actual.Float64-1e-6 ||
					(metric == "retention_12m" && projected.Float64 > 1) || (end && math.Abs(projected.Float64-actual.Float64) > 1e-6) {
					t.Errorf("%s: year-end %v by %s from %v to date, want %s's, at least that%s", key, projected, method, actual, m,
						map[bool]string{true: " and no more on the horizon's last day"}[end])
				}
			}
			if end && (phased.Float64 != 1 || math.Abs(expected.Float64-target.Float64) > 1e-6*math.Max(1, target.Float64)) {
				t.Errorf("%s: on the horizon's last day phased %v, expected %v, want 1 and the target %v", key, phased, expected, target)
			}
		}
		if !end && ownPhasing == 0 {
			t.Errorf("as of %s: no segment phased by its own year", asOf)
		}
	}
}

// The year-end is projected with the purchase model the run chose, whatever
// it is, and the spend model in use: each customer's expectations over the rest of the
// horizon are the model's own. A customer without a purchase history has
// none; without the spend model there is no spend, and without the
// purchase model no expectation at all.
func TestRestForecastUsesRunModel(t *testing.T) {
	hist := []scoring.RFM{{X: 3, TX: 20, T: 50}, {X: 0, TX: 0, T: 30}}
	spend := []scoring.Spend{{X: 3, ZBar: 40}, {X: 0, ZBar: 0}}
	gg := scoring.GammaGamma{P: 6, Q: 4, Gamma: 15}
	const weeks = 26
	seen := map[float64]string{}
	for name, m := range map[string]scoring.DropoutModel{
		config.ModelBGNBD:     scoring.BGNBD{R: 0.8, Alpha: 12, A: 0.6, B: 2.5},
		config.ModelMBGNBD:    scoring.MBGNBD{R: 0.8, Alpha: 12, A: 0.6, B: 2.5},
		config.ModelParetoNBD: scoring.ParetoNBD{R: 0.8, Alpha: 12, S: 0.7, Beta: 40},
	} {
		h := &histories{idx: []int64{2, 5}, hist: hist, spend: spend, first: []float64{30, 25}}
		sf := &spendFit{name: config.SpendGammaGamma, h: h, models: []scoring.GammaGamma{gg}, fits: make([]scoring.FitResult, 1)}
		val := &valueFit{idx: h.idx, hist: hist, spend: sf, model: name, bg: m}
		f, err := newRestForecast(val, weeks)
		if err != nil {
			t.Fatal(err)
		}
		for i, idx := range val.idx {
			c := hist[i]
			e, ok := f.at(idx)
			want := m.ConditionalExpectedPurchases(weeks, c.X, c.TX, c.T)
			wantBuys := m.ConditionalProbPurchase(weeks, c.X, c.TX, c.T)
			wantSpend := want * gg.ConditionalExpectedSpend(spend[i].X, spend[i].ZBar)
			if e.spend != want*val.expectedSpend(i) {
				t.Errorf("%s, customer %d: spend %v, want the run's spend model's %v", name, idx, e.spend, want*val.expectedSpend(i))
			}
			if !ok || e.purchases != want || e.buys != wantBuys || e.spend != wantSpend {
				t.Errorf("%s, customer %d: %+v, %v; want purchases %v, P(buy) %v, spend %v", name, idx, e, ok, want, wantBuys, wantSpend)
			}
			if i == 0 {
				if other, dup := seen[want]; dup {
					t.Errorf("%s and %s expect the same %v purchases: the test cannot tell them apart", name, other, want)
				}
				seen[want] = name
			}
		}
		if _, ok := f.at(3); ok {
			t.Errorf("%s: an expectation for a customer without a purchase history", name)
		}
		sf.err = errors.New("degenerate")
		f, _ = newRestForecast(val, weeks)
		if e, ok := f.at(2); !ok || !math.IsNaN(e.spend) || e.purchases == 0 {
			t.Errorf("%s without the spend model: %+v, %v; want purchases and no spend", name, e, ok)
		}
		// A Gamma-Gamma fit with q <= 1 has no mean spend for the one-time
		// buyer (customer 5): their spend is unknown, and so is their
		// segment's spend over the rest of the horizon.
		sf.err, sf.models[0] = nil, scoring.GammaGamma{P: 6, Q: 0.8, Gamma: 15}
		f, _ = newRestForecast(val, weeks)
		var sums scorecardSums
		for _, idx := range val.idx {
			e, ok := f.at(idx)
			if !ok || e.noSpend != (idx == 5) {
				t.Errorf("%s, q <= 1, customer %d: %+v, %v; want no spend only for the one-time buyer", name, idx, e, ok)
			}
			sums.noSpend = sums.noSpend || e.noSpend
		}
		if row := sums.row(1, true, true); row[len(row)-3] != nil {
			t.Errorf("%s, q <= 1: the segment's spend over the rest %v, want unknown (null)", name, row[len(row)-3])
		}
		val.bgErr = errors.New("not converged")
		f, _ = newRestForecast(val, weeks)
		if _, ok := f.at(2); ok {
			t.Errorf("%s not usable: an expectation", name)
		}
	}
}

// A figure undefined to date (a share without a denominator: no spend,
// no buyers, no cohort) or a target the plan holds no figure for is
// undefined all through its row: no expected figure, no year-end, no
// status, rather than a year-end clamped from nothing to 0 or 1. So are
// the new customers of each segment when the plan's model could not give
// the customers new since its run a segment.
func TestScorecardUndefinedFigures(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	model := func(file string) string {
		t.Helper()
		q, err := modelSQL(file)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	for _, f := range []string{"ddl/scorecard_plan", "ddl/scorecard_targets", "ddl/scorecard_figures"} {
		exec(model(f))
	}
	exec("CREATE TABLE params AS SELECT DATE '2026-03-31' AS as_of, TIMESTAMP '2026-04-01' AS window_end")
	// The data starts with the horizon: phased by days. No purchase model
	// usable: retention's year-end is the run rate.
	exec("INSERT INTO scorecard_plan VALUES (1, 'r', DATE '2026-01-01', DATE '2026-12-31', NULL, NULL, DATE '2026-01-01', 0)")
	exec(`INSERT INTO scorecard_targets VALUES
		(1, 'A', 'retention', 'digital_share', 'share', 0.4, 0.35, 0.45, 0.5, 0.1, 'last_12m_projection'),
		(1, 'A', 'retention', 'multi_category_share', 'share', 0.8, 0.75, 0.85, 0.8, 0, 'last_12m_projection'),
		(1, 'A', 'retention', 'retention_12m', 'share', 0.6, 0.55, 0.65, 0.65, 0.05, 'last_12m_projection'),
		(1, 'A', 'retention', 'orders_12m', 'orders', 10, 8, 12, 11, 0.1, 'bg_nbd'),
		(1, 'A', 'retention', 'new_customers_12m', 'customers', 4, 3, 5, 4, 0, 'last_12m_projection'),
		(2, 'B', 'acquisition', 'digital_share', 'share', NULL, NULL, NULL, NULL, NULL, 'last_12m_projection'),
		(2, 'B', 'acquisition', 'retention_12m', 'share', NULL, NULL, NULL, NULL, NULL, 'last_12m_projection')`)
	// Segment 1 has an order and a new customer to date, but no spend, no
	// buyers and no cohort; segment 2 spend and buyers, no cohort (each
	// metric reads its own figures).
	zeros := func(seg, gross, digital, buyers, multi int) string {
		return fmt.Sprintf("(%d, 5, 0, %d, 1, 1, 1, 0, 0, 0, 0, 0, 0, %d, %d, %d, %d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL)",
			seg, gross, gross, digital, buyers, multi)
	}
	exec("INSERT INTO scorecard_figures VALUES " + zeros(0, 100, 40, 2, 1) + ", " + zeros(1, 0, 0, 0, 0) + ", " + zeros(2, 100, 40, 2, 1))
	exec("CREATE VIEW scorecard_window AS " + model("intermediate/scorecard_window"))
	exec("CREATE VIEW scorecard_phasing AS " + model("intermediate/scorecard_phasing"))
	scorecard := func() map[string]string {
		t.Helper()
		rows, err := db.Query(`SELECT segment_id, metric, concat_ws(' ', coalesce(actual_to_date::VARCHAR, '-'), coalesce(expected_to_date::VARCHAR, '-'),
			coalesce(projected_year_end::VARCHAR, '-'), coalesce(projection_method, '-'), coalesce(status, '-')) FROM (` + model("marts/segment_scorecard") + ")")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var seg int
			var metric, row string
			if err := rows.Scan(&seg, &metric, &row); err != nil {
				t.Fatal(err)
			}
			got[fmt.Sprint(seg, " ", metric)] = row
		}
		return got
	}
	got := scorecard()
	// Day 90 of 365: expected 0.4 + 0.1 x 90/365 for segment 1's digital
	// share, 11 x 90/365 orders, 0.65 x 90/365 retention.
	for key, want := range map[string]string{
		"1 digital_share":        "- 0.424658 - rest_as_planned -",
		"1 multi_category_share": "- 0.8 - rest_as_planned -",
		"1 retention_12m":        "- 0.160274 - run_rate -",
		"1 orders_12m":           "1.0 2.712329 4.055556 run_rate behind",
		"1 new_customers_12m":    "1.0 0.986301 4.055556 run_rate on_track",
		"2 digital_share":        "0.4 - - rest_as_planned -",
		"2 retention_12m":        "- - - run_rate -",
	} {
		if got[key] != want {
			t.Errorf("segment %s: %q, want %q (actual, expected, year-end, method, status)", key, got[key], want)
		}
	}
	if len(got) != 7 {
		t.Errorf("%d rows, want 7: %v", len(got), got)
	}
	exec("UPDATE scorecard_plan SET unassigned_customers = 3")
	if got, want := scorecard()["1 new_customers_12m"], "- 0.986301 - run_rate -"; got != want {
		t.Errorf("new customers with customers new since the plan's run left out: %q, want %q", got, want)
	}

	// The value models usable, but the spend model gives a customer of
	// segment 1 no expected spend (scorecardSums.noSpend: its spend_rest
	// is null): its revenue's year-end is the run rate, not what is done
	// with nothing to come; segment 2's is the model's.
	exec("UPDATE scorecard_plan SET purchase_method = 'bg_nbd', value_method = 'bg_nbd_gamma_gamma'")
	exec(`INSERT INTO scorecard_targets VALUES
		(1, 'A', 'retention', 'revenue_12m', 'currency', 400, 350, 450, 412, 0.03, 'bg_nbd_gamma_gamma'),
		(2, 'B', 'acquisition', 'revenue_12m', 'currency', 400, 350, 450, 412, 0.03, 'bg_nbd_gamma_gamma')`)
	exec("UPDATE scorecard_figures SET revenue_to_date = 90, purchases_rest = 3, spend_rest = CASE segment_id WHEN 2 THEN 250 END, active_rest = 0, retained_rest = 0")
	got = scorecard()
	for key, want := range map[string]string{
		"1 revenue_12m": "90.0 101.589041 365.0 run_rate behind",
		"2 revenue_12m": "90.0 101.589041 340.0 bg_nbd_gamma_gamma behind",
	} {
		if got[key] != want {
			t.Errorf("segment %s: %q, want %q (actual, expected, year-end, method, status)", key, got[key], want)
		}
	}
}
