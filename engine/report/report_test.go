package report

import (
	"bytes"
	"math"
	"regexp"
	"strings"
	"testing"
)

// sample is a run's figures with every section filled.
func sample() *Run {
	nan := math.NaN()
	q := func(base float64) Quantiles {
		return Quantiles{P05: base, P25: 2 * base, P50: 3 * base, P75: 4 * base, P95: 6 * base, Mean: 3.5 * base}
	}
	return &Run{
		RunID: "20260701T000000Z-abcdef", AsOf: "2026-06-30", StartedAt: "2026-07-01T00:00:00Z", PreviousRunID: "20260630T000000Z-abcdef",
		Version: "test", PurchaseModel: "bg_nbd",
		Segments: []Segment{{ID: 1, Name: "High <value>", Customers: 1200, Share: 0.4, HistoricalLTV: 812.5, Objective: "retention", Traits: "a & b"},
			{ID: 3, Name: "Lapsing", Customers: 1800, Share: 0.6, HistoricalLTV: 60.25, Objective: "win_back"}},
		Profile:         [][]float64{{1.2, -0.4}, {-0.8, nan}},
		ProfileFeatures: []string{"recency_days", "orders_per_year"},
		Value: []SegmentValue{{SegmentID: 1, Historical: q(100), Predicted: q(40), PAlive: q(0.1), PredictedCustomers: 1200, PredictedTotal: 48000, HistoricalTotal: 975000},
			{SegmentID: 3, Historical: q(10), Predicted: q(2), PAlive: q(0.05), PredictedCustomers: 1800, PredictedTotal: 3600, HistoricalTotal: 108450}},
		Retention: []RetentionCurve{{SegmentID: 1, MonthsSince: []float64{0, 1, 2}, Retention: []float64{1, 0.5, 0.4}},
			{SegmentID: 3, MonthsSince: []float64{0, 1, 2}, Retention: []float64{1, 0.2, nan}}},
		Pairs:      []Pair{{SegmentID: 1, Rank: 1, A: "books", B: "music", CustomersBoth: 40, Confidence: 0.3, Lift: 2.1}},
		Targets:    []Target{{SegmentID: 1, Metric: "revenue_12m", Unit: "currency", Baseline: 5000, Low: 4000, High: 6000, Target: 5500, Uplift: 0.1, Last12m: 5200}},
		Scorecard:  []ScorecardRow{{PlanID: 2, SegmentID: 1, SegmentName: "High", Metric: "revenue_12m", ActualToDate: 10, ExpectedToDate: 12, Gap: -0.1667, Comparison: "ratio", Status: "at_risk"}},
		Migration:  []Flow{{From: 0, To: 1, Customers: 5}, {From: 1, To: 1, Customers: 100}, {From: 1, To: 0, Customers: 3}, {From: 2, To: 3, Customers: 7}},
		KSelection: []KFigures{{K: 2, Silhouette: 0.2, Stability: 0.9, Chosen: true, Eligible: true}, {K: 3, Silhouette: 0.1, Stability: 0.7, Eligible: true}},
		KReason:    "k=2: the highest silhouette",
		Backtest: []BacktestRow{{Grouping: "all", Label: "all", Customers: 3000, ActualPurchases: 900, PredictedPurchases: 950},
			{Grouping: "frequency", Label: "0", Value: 0, Customers: 1000, ActualPurchases: 100, PredictedPurchases: 110},
			{Grouping: "frequency", Label: "7+", Value: 7, Customers: 100, ActualPurchases: 400, PredictedPurchases: 380}},
		Inputs:  []Input{{Table: "transactions", Path: "tx.parquet", Rows: 10000, Rejected: 3}},
		Rejects: []Reject{{Table: "transactions", Reason: "amount is not a number", Rows: 3}},
	}
}

func render(t *testing.T, r *Run) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRunPageDeterministic: the same figures give the same bytes.
func TestRunPageDeterministic(t *testing.T) {
	a, b := render(t, sample()), render(t, sample())
	if a != b {
		t.Fatal("two renderings of the same run differ")
	}
}

// TestRunPageContent: every chart and table of a full run is there, the
// text of the figures is escaped, and nothing is loaded from anywhere.
func TestRunPageContent(t *testing.T) {
	page := render(t, sample())
	for _, id := range []string{ChartProfile, ChartHistorical, ChartPredicted, ChartPAlive, ChartRetention, ChartTargets, ChartKSelection, ChartBacktest, ChartMigration} {
		if strings.Count(page, `data-chart="`+id+`"`) != 1 {
			t.Errorf("chart %q not there once", id)
		}
	}
	for _, id := range []string{TableSegments, TableValue, TablePairs, TableTargets, TableScorecard, TableMigration, TableKSelection, TableBacktest, TableInputs, TableRejects} {
		if strings.Count(page, `data-table="`+id+`"`) != 1 {
			t.Errorf("table %q not there once", id)
		}
	}
	if strings.Contains(page, "High <value>") || !strings.Contains(page, "High &lt;value&gt;") {
		t.Error("a segment name is not escaped")
	}
	loads := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "") // a name, not a request
	for _, bad := range []string{"<script", "src=", "href=\"http", "@import", "url(", "http://", "https://"} {
		if strings.Contains(loads, bad) {
			t.Errorf("the page holds %q: it must load nothing", bad)
		}
	}
	if !strings.Contains(page, "@media print") || !strings.Contains(page, "break-inside: avoid") {
		t.Error("no print style keeping charts whole")
	}
	// The migration's rows: new customers first, then the previous
	// segments 1 and 2; its columns: this run's 1 and 3, then gone.
	mig := page[strings.Index(page, `data-table="migration"`):]
	mig = mig[:strings.Index(mig, "</table>")]
	if strings.Count(mig, "<tr>") != 4 || !strings.Contains(mig, "<td>new customers</td><td class=\"num\">5</td><td class=\"num\">0</td><td class=\"num\">0</td>") {
		t.Errorf("migration table:\n%s", mig)
	}
}

// TestRunPageEmpty: a run with no figures past its segments gives a page
// with a sentence in place of each chart and table that has nothing to show.
func TestRunPageEmpty(t *testing.T) {
	r := &Run{RunID: "r", AsOf: "2026-06-30", Segments: []Segment{{ID: 1, Name: "All", Customers: 10, Share: 1}}}
	page := render(t, r)
	for _, want := range []string{"model file is not there", "No customer has a value figure", "no cohort figures", "No pair of categories",
		"set no targets", "No plan of record covers", "first run: there is no previous run", "has no backtest", "No row was rejected"} {
		if !strings.Contains(page, want) {
			t.Errorf("the empty run's page lacks %q", want)
		}
	}
	if strings.Contains(page, "<figure") {
		t.Error("the empty run's page draws a chart")
	}
}

func TestNumber(t *testing.T) {
	for _, c := range []struct {
		x    float64
		d    int
		want string
	}{{1234567.8, 0, "1,234,568"}, {-1234.5, 1, "-1,234.5"}, {-0.04, 1, "0.0"}, {999, 0, "999"}, {math.NaN(), 2, "–"}, {math.Inf(1), 0, "–"}, {0.5, 2, "0.50"}} {
		if got := Number(c.x, c.d); got != c.want {
			t.Errorf("Number(%v, %d) = %q, want %q", c.x, c.d, got, c.want)
		}
	}
	if got := Percent(0.1234, 1); got != "12.3%" {
		t.Errorf("Percent(0.1234, 1) = %q", got)
	}
}

// TestRunPageNoPrediction: a run whose value models predicted nothing shows
// the predicted total as no figure, as it shows the median, not as 0.
func TestRunPageNoPrediction(t *testing.T) {
	nan := math.NaN()
	none := Quantiles{P05: nan, P25: nan, P50: nan, P75: nan, P95: nan, Mean: nan}
	r := &Run{RunID: "r", AsOf: "2026-06-30", Segments: []Segment{{ID: 1, Name: "All", Customers: 10, Share: 1}},
		Value: []SegmentValue{{SegmentID: 1, Historical: Quantiles{P05: 1, P25: 2, P50: 3, P75: 4, P95: 5, Mean: 3}, HistoricalTotal: 30,
			Predicted: none, PAlive: none}}}
	page := render(t, r)
	row := regexp.MustCompile(`<tr><td>1 All</td>(<td[^>]*>[^<]*</td>)*</tr>`).FindString(page[strings.Index(page, `data-table="value"`):])
	if !strings.Contains(row, `<td class="num">30</td><td class="num">–</td><td class="num">–</td><td class="num">–</td>`) {
		t.Errorf("value row of a run without predictions: %s; want the predicted median, total and P(alive) as –", row)
	}
}

// TestMigrationPreviousNames: the movement table names each previous
// segment as the previous run did, also one this run no longer has and one
// it renamed; an unnamed one keeps its number alone.
func TestMigrationPreviousNames(t *testing.T) {
	r := &Run{RunID: "r", AsOf: "2026-06-30", PreviousRunID: "p",
		Segments: []Segment{{ID: 1, Name: "Loyal", Customers: 10, Share: 0.5}, {ID: 3, Name: "New", Customers: 10, Share: 0.5}},
		Migration: []Flow{{From: 1, FromName: "Loyal before", To: 1, Customers: 8}, {From: 2, FromName: "Mid-value lapsed", To: 3, Customers: 7},
			{From: 4, To: 3, Customers: 3}}}
	page := render(t, r)
	table := page[strings.Index(page, `data-table="migration"`):]
	table = table[:strings.Index(table, "</table>")]
	for _, want := range []string{"<td>previous 1 Loyal before</td>", "<td>previous 2 Mid-value lapsed</td>", "<td>previous 4</td>"} {
		if !strings.Contains(table, want) {
			t.Errorf("migration table lacks %s:\n%s", want, table)
		}
	}
}
