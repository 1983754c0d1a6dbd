package engine

import (
	"context"
	"database/sql"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/datasets/synth"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// The customer economics' hand-made dataset: seven customers of three
// acquisition channels, with costs on every line, and a campaigns file.
// as_of is 2025-06-30.
//
//	cust  signup      channel   own cost  lines (date amount cost)                        cohort
//	A1    2025-01-10  search    30        01-10 20 12; 03-05 40 20; 05-20 50 25             2025-01
//	A2    2025-01-20  search    70        01-20 60 42; 02-14 -20 -14 (a return)             2025-01
//	A3    2025-02-03  search    10        none                                              2025-02
//	B1    2025-01-05  referral  5         01-05 60 30; 06-30 30 15                          2025-01
//	B2    2025-03-10  referral  -         03-10 10 5                                        2025-03
//	C1    2024-12-15  -         -         12-15 200 100                                     2024-12
//	D1    2025-05-01  referral  -15       none (the negative cost is set to null)           2025-05
//
// The campaigns give search in 2025-02 a CAC of 300 / 10 = 30 (A3's own
// 10 gives way to it), referral in 2025-03 a spend of 100 that acquired no
// one (B2's CAC is unknown) and referral in 2025-04 a spend of 50 for 2
// customers no customer file row has; search in 2025-08 is after as_of; the
// other rows are rejected, one per reason.
const economicsCustomers = `
	('A1', DATE '2025-01-10', 'search', 30.0), ('A2', DATE '2025-01-20', 'search', 70.0),
	('A3', DATE '2025-02-03', 'search', 10.0), ('B1', DATE '2025-01-05', 'referral', 5.0),
	('B2', DATE '2025-03-10', 'referral', NULL), ('C1', DATE '2024-12-15', NULL, NULL),
	('D1', DATE '2025-05-01', 'referral', -15.0)`

const economicsTransactions = `
	('A1', TIMESTAMP '2025-01-10 10:00:00', 20, 12), ('A1', TIMESTAMP '2025-03-05 10:00:00', 40, 20),
	('A1', TIMESTAMP '2025-05-20 10:00:00', 50, 25), ('A2', TIMESTAMP '2025-01-20 10:00:00', 60, 42),
	('A2', TIMESTAMP '2025-02-14 10:00:00', -20, -14), ('B1', TIMESTAMP '2025-01-05 10:00:00', 60, 30),
	('B1', TIMESTAMP '2025-06-30 10:00:00', 30, 15), ('B2', TIMESTAMP '2025-03-10 10:00:00', 10, 5),
	('C1', TIMESTAMP '2024-12-15 10:00:00', 200, 100)`

const economicsCampaigns = `campaign,channel,period,cost,customers_acquired
S-FEB,search,2025-02,300,10
R-MAR,referral,2025-03-01,100,0
R-APR,referral,2025-04,50,2
S-AUG,search,2025-08,70,3
S-FEB,search,2025-02-15,999,1
NEG,search,2025-03,-40,2
TT,tiktok,2025-03,80,4
FUT,search,2099-01,10,1
NOCH,,2025-03,10,1
SOON,search,soon,10,1
HALF,search,2025-05,10,1.5
`

// writeEconomics writes the dataset into dir and returns its config.
func writeEconomics(t *testing.T, dir string) config.Config {
	t.Helper()
	db := memoryDB(t)
	customers := filepath.Join(dir, "customers.parquet")
	transactions := filepath.Join(dir, "transactions.parquet")
	campaigns := filepath.Join(dir, "campaigns.csv")
	for _, q := range []string{
		`COPY (SELECT customer_id, signup_date, acquisition_channel, acquisition_cost::DECIMAL(10, 2) AS acquisition_cost
			FROM (VALUES ` + economicsCustomers + `) AS t(customer_id, signup_date, acquisition_channel, acquisition_cost))
			TO ` + sqlquote.Literal(customers) + ` (FORMAT parquet)`,
		`COPY (SELECT customer_id, ts, amount::DECIMAL(10, 2) AS amount, cost::DECIMAL(10, 2) AS cost
			FROM (VALUES ` + economicsTransactions + `) AS t(customer_id, ts, amount, cost))
			TO ` + sqlquote.Literal(transactions) + ` (FORMAT parquet)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(campaigns, []byte(economicsCampaigns), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{
		Customers:    config.InputSpec{Path: customers},
		Transactions: config.InputSpec{Path: transactions},
		Campaigns:    config.InputSpec{Path: campaigns},
	}
	cfg.Output = filepath.Join(dir, "out")
	cfg.AsOf, cfg.Today = "2025-06-30", "2025-12-01"
	cfg.Segmentation.K, cfg.Segmentation.NInit = 2, 2
	return cfg
}

// economicsRow is a row of acquisition_value.
type economicsRow struct {
	grouping, channel, month, source            string
	segment, customers, cacCustomers            int64
	cac, spend, campaignCost                    sql.NullFloat64
	campaignCustomers                           sql.NullInt64
	historicalLTV, predicted, horizonLTV, ratio sql.NullFloat64
	horizonRatio                                sql.NullFloat64
	payback, marginPayback                      sql.NullInt64
	grossMargin, marginRate, marginCLV, profit  sql.NullFloat64
	profitRank                                  sql.NullInt64
	horizonMonths                               int64
	predictionError                             sql.NullString
}

// readEconomics reads acquisition_value, keyed by grouping, segment,
// channel and month ("channel_cohort/0/search/2025-01").
func readEconomics(t *testing.T, dir string) map[string]economicsRow {
	t.Helper()
	rows := readTable(t, filepath.Join(dir, "acquisition_value.parquet"), `SELECT "grouping", segment_id, acquisition_channel,
		coalesce(strftime(cohort_month, '%Y-%m'), ''), customers, cac_customers, cac, cac_source, acquisition_spend,
		campaign_cost, campaign_customers, historical_ltv, predicted_clv, horizon_ltv, ltv_to_cac, horizon_ltv_to_cac,
		payback_months, margin_payback_months, gross_margin, gross_margin_rate, margin_clv, profit, profit_rank,
		horizon_months, prediction_error FROM $TABLE`)
	out := map[string]economicsRow{}
	for rows.Next() {
		var r economicsRow
		if err := rows.Scan(&r.grouping, &r.segment, &r.channel, &r.month, &r.customers, &r.cacCustomers, &r.cac, &r.source,
			&r.spend, &r.campaignCost, &r.campaignCustomers, &r.historicalLTV, &r.predicted, &r.horizonLTV, &r.ratio,
			&r.horizonRatio, &r.payback, &r.marginPayback, &r.grossMargin, &r.marginRate, &r.marginCLV, &r.profit,
			&r.profitRank, &r.horizonMonths, &r.predictionError); err != nil {
			t.Fatal(err)
		}
		key := strings.Join([]string{r.grouping, strconv.FormatInt(r.segment, 10), r.channel, r.month}, "/")
		if _, dup := out[key]; dup {
			t.Errorf("acquisition_value: %s twice", key)
		}
		out[key] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// null is an unknown figure in the expectations below.
var null = math.NaN()

// nf is a nullable figure as a float, NaN when null.
func nf(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}

// ni is a nullable count as a float, NaN when null.
func ni(v sql.NullInt64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return float64(v.Int64)
}

// sameFigure compares two figures to 1e-9 relative, NaN equal to NaN.
func sameFigure(got, want float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

// Customer economics worked out by hand (see the table above), with the
// campaigns' CAC taking precedence over the customers' own costs, payback
// on revenue and on margin, and the value models, which seven customers
// cannot carry, leaving the predicted figures empty with their reason.
func TestEconomicsHandmade(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(context.Background(), writeEconomics(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := readEconomics(t, res.Dir)
	type want struct {
		customers, cacCustomers                      int64
		cac                                          float64
		source                                       string
		spend, campaignCost, campaignCustomers       float64
		historicalLTV, ratio, payback, marginPayback float64
		grossMargin, marginRate                      float64
	}
	wants := map[string]want{
		// A1 and A2: 30 + 70 for 2 customers; 150 of revenue, 65 of margin.
		// Revenue per month since January: 80, -20, +40 (March): 100 covers
		// the 100 of cost in month 2; the margin, 65 by May, never does.
		"channel_cohort/0/search/2025-01": {2, 2, 50, "customers", 100, null, null, 75, 1.5, 2, null, 65, 65.0 / 150},
		// A3 at the campaigns' 300 / 10, not the own 10; no purchase.
		"channel_cohort/0/search/2025-02":   {1, 1, 30, "campaigns", 30, 300, 10, 0, 0, null, null, 0, null},
		"channel_cohort/0/referral/2025-01": {1, 1, 5, "customers", 5, null, null, 90, 18, 0, 0, 45, 0.5},
		// The campaigns of March acquired no one: B2's CAC is unknown.
		"channel_cohort/0/referral/2025-03": {1, 0, null, "campaigns", null, 100, 0, 10, null, null, null, 5, 0.5},
		// A month only the campaigns have.
		"channel_cohort/0/referral/2025-04": {0, 0, 25, "campaigns", null, 50, 2, null, null, null, null, null, null},
		// D1's negative cost was set to null.
		"channel_cohort/0/referral/2025-05": {1, 0, null, "", null, null, null, 0, null, null, null, 0, null},
		"channel_cohort/0/unknown/2024-12":  {1, 0, null, "", null, null, null, 200, null, null, null, 100, 0.5},
		// Pooled payback: January's 100 and February's 30 of cost; revenue
		// 80, 60, 100, 100, then 150 in month 4 (A1's May) covers 130.
		"channel/0/search/":   {3, 3, 130.0 / 3, "campaigns and customers", 130, 300, 10, 50, 50 / (130.0 / 3), 4, null, 65, 65.0 / 150},
		"channel/0/referral/": {3, 1, 5, "campaigns and customers", 5, 150, 2, 100.0 / 3, 100.0 / 3 / 5, 0, 0, 50, 0.5},
		"channel/0/unknown/":  {1, 0, null, "", null, null, null, 200, null, null, null, 100, 0.5},
		// Month 0: 80 + 60 of revenue covers 135; the margin, 56 in month 0,
		// reaches 95 in month 4, and in month 5 (February's cohort is 4
		// months old) 65 + 45 covers the 105 of January's cohorts.
		"all/0//": {7, 4, 33.75, "campaigns and customers", 135, 450, 12, 450.0 / 7, 450.0 / 7 / 33.75, 0, 5, 215, 215.0 / 450},
	}
	for key, w := range wants {
		g, ok := got[key]
		if !ok {
			t.Errorf("acquisition_value: no row %s", key)
			continue
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"customers", float64(g.customers), float64(w.customers)},
			{"cac_customers", float64(g.cacCustomers), float64(w.cacCustomers)},
			{"cac", nf(g.cac), w.cac},
			{"acquisition_spend", nf(g.spend), w.spend},
			{"campaign_cost", nf(g.campaignCost), w.campaignCost},
			{"campaign_customers", ni(g.campaignCustomers), w.campaignCustomers},
			{"historical_ltv", nf(g.historicalLTV), w.historicalLTV},
			{"ltv_to_cac", nf(g.ratio), w.ratio},
			{"payback_months", ni(g.payback), w.payback},
			{"margin_payback_months", ni(g.marginPayback), w.marginPayback},
			{"gross_margin", nf(g.grossMargin), w.grossMargin},
			{"gross_margin_rate", nf(g.marginRate), w.marginRate},
		} {
			if !sameFigure(c.got, c.want) {
				t.Errorf("%s: %s %g, want %g", key, c.name, c.got, c.want)
			}
		}
		if g.source != w.source {
			t.Errorf("%s: cac_source %q, want %q", key, g.source, w.source)
		}
		// Seven customers cannot carry the value models: no prediction,
		// hence no horizon value, margin-based CLV or profit, and the reason.
		if g.predicted.Valid || g.horizonLTV.Valid || g.horizonRatio.Valid || g.marginCLV.Valid || g.profit.Valid || g.profitRank.Valid {
			t.Errorf("%s: predicted figures %v %v %v %v %v %v without value models", key, g.predicted, g.horizonLTV, g.horizonRatio, g.marginCLV, g.profit, g.profitRank)
		}
		if !strings.Contains(g.predictionError.String, "the data cannot carry the customer-value models") || g.horizonMonths != 12 {
			t.Errorf("%s: prediction_error %q, horizon_months %d", key, g.predictionError.String, g.horizonMonths)
		}
	}
	var segments, segmentCustomers int64
	for _, g := range got {
		switch g.grouping {
		case "channel_cohort", "channel", "all":
			key := strings.Join([]string{g.grouping, "0", g.channel, g.month}, "/")
			if _, ok := wants[key]; !ok {
				t.Errorf("acquisition_value: unexpected row %s", key)
			}
		case "segment":
			segments++
			segmentCustomers += g.customers
		}
	}
	if segments != 2 || segmentCustomers != 7 {
		t.Errorf("%d segment rows of %d customers, want 2 of 7", segments, segmentCustomers)
	}
	checkEconomicsMetrics(t, res.Dir, got)

	q := res.Manifest.Quality
	rejects := map[string]string{}
	for _, rc := range q.Rejects {
		if rc.Table == "campaigns" {
			if rc.Rows != 1 {
				t.Errorf("campaigns %s: %d rows, want 1", rc.Reason, rc.Rows)
			}
			rejects[rc.Reason] = rc.Example.Value
		}
	}
	wantRejects := map[string]string{
		"duplicate campaign":                "S-FEB",
		"negative cost":                     "-40",
		"unknown channel":                   "tiktok",
		"period in the future":              "2099-01",
		"missing channel":                   "",
		"unparseable period":                "soon",
		"customers_acquired not an integer": "1.5",
	}
	if len(rejects) != len(wantRejects) {
		t.Errorf("campaign rejects %v, want %v", rejects, wantRejects)
	}
	for reason, value := range wantRejects {
		if v, ok := rejects[reason]; !ok || v != value {
			t.Errorf("campaigns %s: example %q (found %v), want %q", reason, v, ok, value)
		}
	}
	if !slices.ContainsFunc(q.ValuesSetToNull, func(rc manifest.RejectCount) bool {
		return rc.Table == "customers" && rc.Reason == "acquisition_cost negative" && rc.Rows == 1 && rc.Example.Value == "-15.00"
	}) {
		t.Errorf("values set to null %v, want D1's acquisition_cost", q.ValuesSetToNull)
	}
	if !slices.ContainsFunc(res.Manifest.Inputs, func(in manifest.Input) bool { return in.Table == "campaigns" && in.Rows == 11 }) {
		t.Errorf("manifest inputs %v, want the campaigns file with 11 rows", res.Manifest.Inputs)
	}
}

// checkEconomicsMetrics checks that segment_metrics takes the economics of
// each segment (and of all customers, segment 0) from acquisition_value.
func checkEconomicsMetrics(t *testing.T, dir string, econ map[string]economicsRow) {
	t.Helper()
	metrics := map[int64]map[string]float64{}
	rows := readTable(t, filepath.Join(dir, "segment_metrics.parquet"), "SELECT segment_id, metric, value FROM $TABLE")
	for rows.Next() {
		var seg int64
		var m string
		var v float64
		if err := rows.Scan(&seg, &m, &v); err != nil {
			t.Fatal(err)
		}
		if metrics[seg] == nil {
			metrics[seg] = map[string]float64{}
		}
		metrics[seg][m] = v
	}
	for _, g := range econ {
		if g.grouping != "segment" && g.grouping != "all" {
			continue
		}
		for _, c := range []struct {
			metric string
			want   float64
		}{
			{"avg_acquisition_cost", nf(g.cac)}, {"ltv_to_cac", nf(g.ratio)}, {"horizon_ltv_to_cac", nf(g.horizonRatio)},
			{"payback_months", ni(g.payback)}, {"margin_payback_months", ni(g.marginPayback)},
			{"gross_margin", nf(g.grossMargin)}, {"gross_margin_rate", nf(g.marginRate)},
			{"margin_clv", nf(g.marginCLV)}, {"profit", nf(g.profit)}, {"profit_rank", ni(g.profitRank)},
		} {
			v, ok := metrics[g.segment][c.metric]
			if !ok {
				v = math.NaN() // left out: no row
			}
			if !sameFigure(v, c.want) {
				t.Errorf("segment %d: segment_metrics %s %g, acquisition_value %g", g.segment, c.metric, v, c.want)
			}
		}
	}
}

// checkPredictedRollup checks that each acquisition channel's predicted_clv
// is the sum of its customers' predicted_clv_12m over all of them.
func checkPredictedRollup(t *testing.T, dir, customers string, econ map[string]economicsRow) {
	t.Helper()
	rows := readTable(t, filepath.Join(dir, "customer_segments.parquet"), `SELECT coalesce(c.acquisition_channel, 'unknown'),
		(sum(s.predicted_clv_12m::DECIMAL(38, 2)) / count(*))::DOUBLE
		FROM $TABLE AS s JOIN read_parquet(?) AS c ON s.customer_id = c.customer_id GROUP BY 1`, customers)
	n := 0
	for rows.Next() {
		var channel string
		var want float64
		if err := rows.Scan(&channel, &want); err != nil {
			t.Fatal(err)
		}
		n++
		if g := econ["channel/0/"+channel+"/"]; !sameFigure(nf(g.predicted), want) {
			t.Errorf("%s: predicted_clv %g, its customers' predicted_clv_12m %g per customer", channel, nf(g.predicted), want)
		}
	}
	if n != len(synth.AcquisitionChannels) {
		t.Errorf("%d channels, want %d", n, len(synth.AcquisitionChannels))
	}
}

// On the generated data, each acquisition channel's LTV/CAC is ordered as
// the generator's parameters imply (synth.Acquisition): its CAC is the
// channel's mean cost, its value that of the latent groups it draws its
// customers from. A pair of channels whose true ratios differ by less than a
// quarter (affiliate and paid_search: 7.2 and 7.1 to date) is not ordered;
// each ratio lies within a fifth of the truth. The channels' predicted
// value sums their customers' predicted_clv_12m, and segment_metrics takes
// the segments' economics from acquisition_value.
func TestEconomicsGenerated(t *testing.T) {
	data := generatedData(t, 20000, 0)
	cfg := generatedConfig(t, data, t.TempDir())
	cfg.Segmentation.K = 4
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := readEconomics(t, res.Dir)
	truth := synth.Acquisition(synth.Config{}, cfg.Economics.HorizonMonths, cfg.Value.MonthlyDiscountRate)
	for _, r := range []struct {
		column string
		engine func(economicsRow) float64
		truth  func(synth.ChannelEconomics) float64
	}{
		{"ltv_to_cac", func(g economicsRow) float64 { return nf(g.ratio) }, func(e synth.ChannelEconomics) float64 { return e.ValueToDate / e.CAC }},
		{"horizon_ltv_to_cac", func(g economicsRow) float64 { return nf(g.horizonRatio) }, func(e synth.ChannelEconomics) float64 { return e.HorizonValue / e.CAC }},
	} {
		for _, a := range truth {
			ga := got["channel/0/"+a.Channel+"/"]
			t.Logf("%-18s %-12s CAC %6.2f (truth %5.2f)  %7.2f (truth %7.2f)", r.column, a.Channel, nf(ga.cac), a.CAC, r.engine(ga), r.truth(a))
			if a.CAC == 0 {
				// Organic customers cost nothing: no ratio.
				if !math.IsNaN(r.engine(ga)) {
					t.Errorf("%s: %s %g with a CAC of %g", a.Channel, r.column, r.engine(ga), nf(ga.cac))
				}
				continue
			}
			if math.Abs(nf(ga.cac)/a.CAC-1) > 0.05 {
				t.Errorf("%s: CAC %g, truth %g", a.Channel, nf(ga.cac), a.CAC)
			}
			if math.Abs(r.engine(ga)/r.truth(a)-1) > 0.2 {
				t.Errorf("%s: %s %g, truth %g", a.Channel, r.column, r.engine(ga), r.truth(a))
			}
			for _, b := range truth {
				gb := got["channel/0/"+b.Channel+"/"]
				if b.CAC > 0 && r.truth(a) > 1.25*r.truth(b) && !(r.engine(ga) > r.engine(gb)) {
					t.Errorf("%s: %s %g not above %s's %g, where the truth is %g against %g",
						r.column, a.Channel, r.engine(ga), b.Channel, r.engine(gb), r.truth(a), r.truth(b))
				}
			}
		}
	}
	checkPredictedRollup(t, res.Dir, cfg.Inputs.Customers.Path, got)
	checkEconomicsMetrics(t, res.Dir, got)

	// Profit is the margin to date and over the horizon less the
	// acquisition cost, and ranks the segments.
	var bySegment []economicsRow
	for _, g := range got {
		if g.grouping == "segment" {
			bySegment = append(bySegment, g)
		}
		if g.customers > 0 && !sameFigure(nf(g.profit), nf(g.grossMargin)+nf(g.marginCLV)*float64(g.customers)-nf(g.spend)) {
			t.Errorf("%s %d %s %s: profit %g, margin %g + %g x %d - %g", g.grouping, g.segment, g.channel, g.month,
				nf(g.profit), nf(g.grossMargin), nf(g.marginCLV), g.customers, nf(g.spend))
		}
	}
	slices.SortFunc(bySegment, func(a, b economicsRow) int { return int(a.profitRank.Int64 - b.profitRank.Int64) })
	for i, g := range bySegment {
		if g.profitRank.Int64 != int64(i+1) || (i > 0 && !(nf(g.profit) <= nf(bySegment[i-1].profit))) {
			t.Errorf("segment %d: profit %g ranked %d, after %g", g.segment, nf(g.profit), g.profitRank.Int64, nf(bySegment[max(i-1, 0)].profit))
		}
	}
}

// The predicted value over economics.horizon_months: at 12 months computed
// in Go it is predicted_clv_12m's, and over 24 months it is more, though
// less than twice as much (the second year is discounted more, and fewer
// customers are still buying).
func TestEconomicsHorizon(t *testing.T) {
	data := generatedData(t, 3000, 0)
	cfg := generatedConfig(t, data, filepath.Join(t.TempDir(), "12"))
	res, err := Run(context.Background(), cfg, Options{horizonInGo: true})
	if err != nil {
		t.Fatal(err)
	}
	at12 := readEconomics(t, res.Dir)
	checkPredictedRollup(t, res.Dir, cfg.Inputs.Customers.Path, at12)

	cfg.Output = filepath.Join(filepath.Dir(cfg.Output), "24")
	cfg.Economics.HorizonMonths = 24
	res, err = Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for key, g := range readEconomics(t, res.Dir) {
		before := at12[key]
		if g.horizonMonths != 24 || before.horizonMonths != 12 {
			t.Errorf("%s: horizon_months %d and %d", key, before.horizonMonths, g.horizonMonths)
		}
		if g.customers > 0 && before.customers > 0 && nf(before.predicted) > 0 &&
			!(nf(g.predicted) > nf(before.predicted) && nf(g.predicted) < 2*nf(before.predicted)) {
			t.Errorf("%s: predicted_clv %g over 24 months, %g over 12", key, nf(g.predicted), nf(before.predicted))
		}
	}
}
