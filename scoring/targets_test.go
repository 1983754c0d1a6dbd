package scoring

import (
	"fmt"
	"math"
	"testing"
)

func TestChooseObjective(t *testing.T) {
	pop := SegmentSummary{Customers: 1000, HistoricalLTV: 100, Retention12m: 0.5, MultiCategoryShare: 0.4, DigitalShare: 0.7}
	cases := []struct {
		name string
		s    SegmentSummary
		want Objective
	}{
		{"new, valuable and slipping", SegmentSummary{Status: "new", ValueTier: "High-value", Customers: 100, HistoricalLTV: 150, Retention12m: 0.4, DigitalShare: 0.2}, ObjectiveOnboarding},
		{"lapsing, worth it", SegmentSummary{Status: "lapsing", ValueTier: "Mid-value", Customers: 100, HistoricalLTV: 100, Retention12m: 0.6, DigitalShare: 0.9}, ObjectiveWinBack},
		{"lapsed, worth it", SegmentSummary{Status: "lapsed", ValueTier: "High-value", Customers: 100, HistoricalLTV: 300, DigitalShare: 0.9}, ObjectiveWinBack},
		{"lapsed, not worth it, low value", SegmentSummary{Status: "lapsed", ValueTier: "Low-value", Customers: 100, HistoricalLTV: 30, DigitalShare: 0.9}, ObjectiveChannelMigration},
		{"high-value active", SegmentSummary{Status: "active", ValueTier: "High-value", Customers: 100, HistoricalLTV: 300, Retention12m: 0.7, MultiCategoryShare: 0.1, DigitalShare: 0.1}, ObjectiveRetention},
		{"mid-value valuable and slipping", SegmentSummary{Status: "active", ValueTier: "Mid-value", Customers: 100, HistoricalLTV: 120, Retention12m: 0.4, MultiCategoryShare: 0.1}, ObjectiveRetention},
		{"low-value active", SegmentSummary{Status: "active", ValueTier: "Low-value", Customers: 100, HistoricalLTV: 40, Retention12m: 0.4, DigitalShare: 0.95, MultiCategoryShare: 0.1}, ObjectiveChannelMigration},
		{"mid-value lapsed below average, no channels or categories", SegmentSummary{Status: "lapsed", ValueTier: "Mid-value", Customers: 100, HistoricalLTV: 80,
			DigitalShare: math.NaN(), MultiCategoryShare: math.NaN(), Retention12m: math.NaN()}, ObjectiveChannelMigration},
		{"mid-value lapsing below average, narrow baskets", SegmentSummary{Status: "lapsing", ValueTier: "Mid-value", Customers: 100, HistoricalLTV: 80,
			DigitalShare: 0.9, MultiCategoryShare: 0.1, Retention12m: 0.3}, ObjectiveChannelMigration},
		{"low-value lapsing, no channels", SegmentSummary{Status: "lapsing", ValueTier: "Low-value", Customers: 100, HistoricalLTV: 40, DigitalShare: math.NaN(), MultiCategoryShare: 0.1}, ObjectiveChannelMigration},
		{"low-value active, no channels", SegmentSummary{Status: "active", ValueTier: "Low-value", Customers: 100, HistoricalLTV: 40, DigitalShare: math.NaN(), MultiCategoryShare: 0.1}, ObjectiveCrossSell},
		{"narrow baskets", SegmentSummary{Status: "active", ValueTier: "Mid-value", Customers: 100, HistoricalLTV: 50, Retention12m: 0.4, DigitalShare: 0.5, MultiCategoryShare: 0.39}, ObjectiveCrossSell},
		{"mostly offline", SegmentSummary{Status: "active", ValueTier: "Mid-value", Customers: 100, HistoricalLTV: 50, Retention12m: 0.4, DigitalShare: 0.49, MultiCategoryShare: 0.5}, ObjectiveChannelMigration},
		{"nothing stands out", SegmentSummary{Status: "active", ValueTier: "Mid-value", Customers: 100, HistoricalLTV: 50, Retention12m: 0.4, DigitalShare: 0.8, MultiCategoryShare: 0.4}, ObjectiveRetention},
		{"empty segment", SegmentSummary{HistoricalLTV: 0, DigitalShare: 0.9, MultiCategoryShare: 0.9}, ObjectiveRetention},
	}
	for _, c := range cases {
		got, reason := ChooseObjective(c.s, pop)
		if got != c.want {
			t.Errorf("%s: objective %s (%s), want %s", c.name, got, reason, c.want)
		}
		if reason == "" {
			t.Errorf("%s: no reason given", c.name)
		}
	}
}

func TestProjectLastYear(t *testing.T) {
	s := SegmentSummary{
		Customers: 400, Revenue12m: 20000, RevenueSD12m: 80, Orders12m: 600, OrdersSD12m: 2,
		Active12m: 300, ActivePrev12m: 250, Retention12m: 0.6, MultiCategoryShare: 0.3,
		DigitalShare: 0.96, NewCustomers12m: 100,
	}
	uplift := map[string]map[string]float64{
		"retention": {MetricRevenue: 0.10, MetricRetention: 0.05, MetricDigitalShare: 0.10},
	}
	got := map[string]Target{}
	for _, tg := range ProjectLastYear(s, ObjectiveRetention, uplift) {
		got[tg.Metric] = tg
		if tg.Objective != ObjectiveRetention || tg.Method != MethodLastYear {
			t.Errorf("%s: objective %s method %s", tg.Metric, tg.Objective, tg.Method)
		}
		if tg.Low > tg.Baseline || tg.High < tg.Baseline || tg.Low < 0 {
			t.Errorf("%s: band [%g, %g] does not hold baseline %g", tg.Metric, tg.Low, tg.High, tg.Baseline)
		}
	}
	if len(got) != len(TargetMetrics) {
		t.Fatalf("%d targets, want one per metric (%d)", len(got), len(TargetMetrics))
	}
	// Worked by hand: revenue sd of the sum = 80·√400 = 1600.
	near := func(name string, g, w float64) {
		t.Helper()
		if math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %.12g, want %.12g", name, g, w)
		}
	}
	near("revenue target", got[MetricRevenue].Target, 22000)
	near("revenue low", got[MetricRevenue].Low, 20000-zP90*1600)
	near("revenue high", got[MetricRevenue].High, 20000+zP90*1600)
	near("orders target (no uplift)", got[MetricOrders].Target, 600)
	near("orders high", got[MetricOrders].High, 600+zP90*2*20)
	// Active customers: binomial, p = 0.75, sd = √(400·0.75·0.25).
	near("active high", got[MetricActiveCustomers].High, 300+zP90*math.Sqrt(400*0.75*0.25))
	// Retention: absolute uplift, binomial over the 250 retained-from customers.
	near("retention target", got[MetricRetention].Target, 0.65)
	near("retention low", got[MetricRetention].Low, 0.6-zP90*math.Sqrt(0.6*0.4/250))
	// A share target is capped at 1.
	near("digital target", got[MetricDigitalShare].Target, 1)
	if got[MetricDigitalShare].High > 1 {
		t.Errorf("digital share high %g above 1", got[MetricDigitalShare].High)
	}
	near("new customers high", got[MetricNewCustomers].High, 100+zP90*10)
	if u := got[MetricRetention].Uplift; u != 0.05 {
		t.Errorf("retention uplift recorded as %g, want 0.05", u)
	}
}

func TestDefaultUpliftIsValid(t *testing.T) {
	for obj, m := range DefaultUplift() {
		if !ValidObjective(obj) {
			t.Errorf("default uplift for unknown objective %q", obj)
		}
		for metric, u := range m {
			known := false
			for _, tm := range TargetMetrics {
				known = known || tm == metric
			}
			if !known || u <= 0 {
				t.Errorf("default uplift %s.%s = %g: unknown metric or not an increase", obj, metric, u)
			}
		}
	}
}

func ExampleChooseObjective() {
	population := SegmentSummary{Customers: 10000, HistoricalLTV: 120, Retention12m: 0.45, MultiCategoryShare: 0.35, DigitalShare: 0.6}
	segment := SegmentSummary{Customers: 800, HistoricalLTV: 410, Retention12m: 0.38, DigitalShare: 0.7,
		ValueTier: "High-value", Status: "lapsing"}
	obj, reason := ChooseObjective(segment, population)
	fmt.Println(obj, "—", reason)
	// Output: win_back — lapsing customers with historical LTV at or above average: worth winning back
}

func ExampleProjectLastYear() {
	s := SegmentSummary{Customers: 100, Revenue12m: 5000, RevenueSD12m: 30, Orders12m: 150, OrdersSD12m: 1.5,
		Active12m: 80, ActivePrev12m: 70, Retention12m: 0.7, MultiCategoryShare: 0.2, DigitalShare: 0.8, NewCustomers12m: 25}
	for _, t := range ProjectLastYear(s, ObjectiveCrossSell, DefaultUplift()) {
		fmt.Printf("%-22s baseline %8.2f  P10 %8.2f  P90 %8.2f  target %8.2f\n", t.Metric, t.Baseline, t.Low, t.High, t.Target)
	}
	// Output:
	// revenue_12m            baseline  5000.00  P10  4615.53  P90  5384.47  target  5250.00
	// orders_12m             baseline   150.00  P10   130.78  P90   169.22  target   154.50
	// active_customers_12m   baseline    80.00  P10    74.87  P90    85.13  target    80.00
	// retention_12m          baseline     0.70  P10     0.63  P90     0.77  target     0.70
	// multi_category_share   baseline     0.20  P10     0.15  P90     0.25  target     0.25
	// digital_share          baseline     0.80  P10     0.74  P90     0.86  target     0.80
	// new_customers_12m      baseline    25.00  P10    18.59  P90    31.41  target    25.00
}

func TestUnknownFiguresSkipRulesAndTargets(t *testing.T) {
	pop := SegmentSummary{Customers: 100, HistoricalLTV: 10, Retention12m: 0.5, MultiCategoryShare: math.NaN(), DigitalShare: math.NaN()}
	s := SegmentSummary{Customers: 10, HistoricalLTV: 5, Retention12m: 0.6, MultiCategoryShare: math.NaN(), DigitalShare: math.NaN()}
	if obj, _ := ChooseObjective(s, pop); obj != ObjectiveRetention {
		t.Errorf("objective %s without channel or category data, want the fallback retention", obj)
	}
	for _, tg := range ProjectLastYear(s, ObjectiveRetention, DefaultUplift()) {
		if tg.Metric == MetricDigitalShare || tg.Metric == MetricMultiCategoryShare {
			t.Errorf("target for unknown metric %s", tg.Metric)
		}
	}
}

func TestFromForecast(t *testing.T) {
	sum := SegmentSummary{Customers: 100, Revenue12m: 5000, RevenueSD12m: 20, Orders12m: 250, OrdersSD12m: 1,
		Active12m: 60, ActivePrev12m: 50, Retention12m: 0.7, HistoricalLTV: 80, MultiCategoryShare: math.NaN(),
		DigitalShare: math.NaN(), NewCustomers12m: 10}
	uplift := map[string]map[string]float64{"retention": {MetricRevenue: 0.1, MetricOrders: 0.05}}
	last := ProjectLastYear(sum, ObjectiveRetention, uplift)
	f := Forecast{Customers: 100, Purchases: 200, Active: 55, Spend: 6000, PurchasesSD: 10, ActiveSD: 2, SpendSD: 300}
	got := FromForecast(last, f, Conversions{OrdersPerPurchase: 1.1, NetPerSpend: 0.9}, ModelError{})
	if len(got) != len(last) {
		t.Fatalf("%d targets, want %d", len(got), len(last))
	}
	want := map[string]Target{
		// 6000 × 0.9 = 5400, sd 300 × 0.9 = 270, target +10%.
		MetricRevenue: {Baseline: 5400, Low: 5400 - zP90*270, High: 5400 + zP90*270, Target: 5940, Method: MethodValueModel},
		// 200 × 1.1 = 220, sd 11, target +5%.
		MetricOrders:          {Baseline: 220, Low: 220 - zP90*11, High: 220 + zP90*11, Target: 231, Method: MethodPurchaseModel},
		MetricActiveCustomers: {Baseline: 55, Low: 55 - zP90*2, High: 55 + zP90*2, Target: 55, Method: MethodPurchaseModel},
	}
	for i, g := range got {
		w, ok := want[g.Metric]
		if !ok {
			if g != last[i] {
				t.Errorf("%s changed: %+v, was %+v", g.Metric, g, last[i])
			}
			continue
		}
		for _, c := range [][2]float64{{g.Baseline, w.Baseline}, {g.Low, w.Low}, {g.High, w.High}, {g.Target, w.Target}} {
			if math.Abs(c[0]-c[1]) > 1e-9 {
				t.Errorf("%s: %+v, want %+v", g.Metric, g, w)
				break
			}
		}
		if g.Method != w.Method {
			t.Errorf("%s: method %s, want %s", g.Metric, g.Method, w.Method)
		}
	}
	// Chance and model error add their variances to the parameters': the
	// revenue's sd² = 0.9²(300² + 400²) + (0.2 · 5400)² = 450² + 1080², the
	// active customers' 2² + 3² + (0.1 · 55)².
	f.SpendChanceSD, f.ActiveChanceSD = 400, 3
	got = FromForecast(last, f, Conversions{OrdersPerPurchase: 1.1, NetPerSpend: 0.9}, ModelError{Spend: 0.2, Active: 0.1})
	for _, g := range got {
		var sd float64
		switch g.Metric {
		case MetricRevenue:
			sd = math.Hypot(450, 1080)
		case MetricActiveCustomers:
			sd = math.Sqrt(4 + 9 + 5.5*5.5)
		case MetricOrders:
			sd = 11
		default:
			continue
		}
		if math.Abs(g.High-g.Baseline-zP90*sd) > 1e-9 || math.Abs(g.Baseline-g.Low-math.Min(zP90*sd, g.Baseline)) > 1e-9 {
			t.Errorf("%s with chance and model error: %+v, want ± %.4f", g.Metric, g, zP90*sd)
		}
	}
	// An unbounded chance variance leaves the band without a high end.
	f.SpendChanceSD = math.Inf(1)
	for _, g := range FromForecast(last, f, Conversions{OrdersPerPurchase: 1, NetPerSpend: 1}, ModelError{}) {
		if g.Metric == MetricRevenue && (g.Low != 0 || !math.IsInf(g.High, 1)) {
			t.Errorf("revenue with an unbounded chance variance: %+v, want [0, +Inf]", g)
		}
	}
	f.SpendChanceSD, f.ActiveChanceSD = 0, 0

	// Without a spend forecast revenue keeps its last-year baseline; an
	// unknown standard deviation leaves the band empty.
	f.Spend, f.PurchasesSD = math.NaN(), math.NaN()
	got = FromForecast(last, f, Conversions{OrdersPerPurchase: 1, NetPerSpend: 1}, ModelError{})
	for i, g := range got {
		switch g.Metric {
		case MetricRevenue:
			if g != last[i] {
				t.Errorf("revenue changed without a spend forecast: %+v", g)
			}
		case MetricOrders:
			if !math.IsNaN(g.Low) || !math.IsNaN(g.High) || g.Baseline != 200 {
				t.Errorf("orders without a standard deviation: %+v", g)
			}
		}
	}
}

// A segment whose returns outweigh its sales in the last 12 months (the
// Online Retail export's net returners: revenue_12m -9,865 over 58
// customers) gets no revenue target, from last year's figure or from the
// models; its other targets stay.
func TestNoRevenueTargetOnNegativeRevenue(t *testing.T) {
	for _, rev := range []float64{-9865, 0} {
		s := SegmentSummary{Customers: 58, Revenue12m: rev, RevenueSD12m: 400, Orders12m: 120, OrdersSD12m: 2,
			Active12m: 40, ActivePrev12m: 30, Retention12m: 0.667, HistoricalLTV: -212.59,
			MultiCategoryShare: math.NaN(), DigitalShare: math.NaN(), NewCustomers12m: 20}
		last := ProjectLastYear(s, ObjectiveAcquisition, DefaultUplift())
		f := Forecast{Customers: 58, Purchases: 100, Active: 30, Spend: 20000, PurchasesSD: 5, ActiveSD: 2, SpendSD: 900}
		model := FromForecast(last, f, Conversions{OrdersPerPurchase: 1, NetPerSpend: 0}, ModelError{})
		for name, targets := range map[string][]Target{"last_12m_projection": last, "model": model} {
			var metrics []string
			for _, tg := range targets {
				metrics = append(metrics, tg.Metric)
			}
			if fmt.Sprint(metrics) != fmt.Sprint([]string{MetricOrders, MetricActiveCustomers, MetricRetention, MetricNewCustomers}) {
				t.Errorf("revenue_12m %v, %s: targets for %v, want all but revenue_12m (and the unknown shares)", rev, name, metrics)
			}
		}
	}
	s := SegmentSummary{Customers: 58, Revenue12m: 0.01, MultiCategoryShare: math.NaN(), DigitalShare: math.NaN()}
	if tg := ProjectLastYear(s, ObjectiveRetention, DefaultUplift()); tg[0].Metric != MetricRevenue {
		t.Errorf("no revenue target for a positive revenue_12m: %+v", tg)
	}
}

// TestExplainBaseline works a segment's reasons out by hand: 10 new
// customers who were customers for 73 days on average bought 350 in the
// window, of which 10 first orders at the segment's average order value
// (1,000 / 40 = 25) are 250 and their repeat purchases 100; a full year of
// those at that pace is 100 × 365/73 = 500, so they add 400. Revenue was
// 800 the year before: +25%. Of a model baseline of 2,000 against 1,000,
// 600 is left to the models.
func TestExplainBaseline(t *testing.T) {
	s := SegmentSummary{Revenue12m: 1000, Orders12m: 40, Active12m: 0, NewCustomers12m: 10, NewDays12m: 730,
		Revenue12mNew: 350, RevenuePrev12m: 800}
	in := []Target{
		{Metric: MetricRevenue, Baseline: 2000, Method: MethodValueModel},
		{Metric: MetricOrders, Baseline: 30, Method: MethodPurchaseModel},
		{Metric: MetricActiveCustomers, Baseline: 12, Method: MethodPurchaseModel},
		{Metric: MetricRetention, Baseline: 0.5, Method: MethodLastYear},
	}
	got := ExplainBaseline(in, s)
	rev := got[0]
	if rev.Last12m != 1000 || rev.Ratio != 2 || !rev.Flagged {
		t.Errorf("revenue: last %g ratio %g flagged %v, want 1000, 2, true", rev.Last12m, rev.Ratio, rev.Flagged)
	}
	want := "2.00× the last 12 months (1,000); 10 customers acquired in the last 12 months were customers for 73 days on average: a full year of them adds about 400; revenue +25% on the 12 months before; the models' own view of these customers accounts for +600 (see model_backtest)"
	if rev.Reason != want {
		t.Errorf("revenue reason\n%s\nwant\n%s", rev.Reason, want)
	}
	ord := got[1]
	if ord.Ratio != 0.75 || ord.Flagged || ord.Reason != "0.75× the last 12 months (40); the models' own view of these customers accounts for -10 (see model_backtest)" {
		t.Errorf("orders: ratio %g flagged %v reason %q", ord.Ratio, ord.Flagged, ord.Reason)
	}
	if a := got[2]; !math.IsNaN(a.Ratio) || a.Flagged || a.Reason != "" {
		t.Errorf("active customers with none last year: ratio %g flagged %v reason %q, want none", a.Ratio, a.Flagged, a.Reason)
	}
	if r := got[3]; r.Flagged || r.Reason != "" {
		t.Errorf("retention without customers active in the last 12 months: flagged %v reason %q, want neither", r.Flagged, r.Reason)
	}
	// Retention is a share of the customers active in the 12 months before
	// the last 12: flagged when they are fewer than RetentionBasisShare of
	// those active in the last 12, whatever the baseline.
	ret := []Target{{Metric: MetricRetention, Baseline: 0.9, Method: MethodLastYear}}
	thin := ExplainBaseline(ret, SegmentSummary{Active12m: 1000, ActivePrev12m: 249, Retention12m: 0.9})[0]
	wantThin := "retention is a share of the 249 customers active in the 12 months before the last 12, 24.9% of the segment's 1,000 active in the last 12: too few to stand for the segment"
	if !thin.Flagged || thin.Reason != wantThin || thin.Last12m != 0.9 || thin.Ratio != 1 {
		t.Errorf("retention on 249 of 1,000: %+v, want flagged with\n%s", thin, wantThin)
	}
	if broad := ExplainBaseline(ret, SegmentSummary{Active12m: 1000, ActivePrev12m: 250, Retention12m: 0.9})[0]; broad.Flagged || broad.Reason != "" {
		t.Errorf("retention on 250 of 1,000: %+v, want neither flag nor reason", broad)
	}
	last := ExplainBaseline([]Target{{Metric: MetricOrders, Baseline: 40, Method: MethodLastYear}}, s)[0]
	if last.Ratio != 1 || last.Flagged || last.Reason != "the last 12 months repeated" {
		t.Errorf("last-12-months baseline: %+v", last)
	}
	if low := ExplainBaseline([]Target{{Metric: MetricOrders, Baseline: 26, Method: MethodPurchaseModel}}, s)[0]; !low.Flagged {
		t.Errorf("baseline 26 against 40 (0.65×) not flagged")
	}
}
