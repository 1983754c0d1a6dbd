package scoring

import (
	"math"
	"runtime"
	"testing"
)

// forecastInputs draws customers of three segments (by customer number) and
// fits both models on them.
func forecastInputs(t *testing.T, n int, seed uint64) (ForecastModels, []RFM, []Spend, []int) {
	t.Helper()
	rfm, spend := simulateBGNBD(n, BGNBD{0.5, 5, 0.8, 2.5}, GammaGamma{4, 5, 20}, seed)
	seg := make([]int, n)
	for i := range seg {
		seg[i] = 1 + i%3
	}
	return fitForecastModels(t, rfm, spend), rfm, spend, seg
}

// fitForecastModels fits BG/NBD on the histories and Gamma-Gamma on the
// repeat buyers' spend, each with its covariance.
func fitForecastModels(t *testing.T, rfm []RFM, spend []Spend) ForecastModels {
	t.Helper()
	bg, bgRes, err := FitBGNBD(rfm)
	if err != nil {
		t.Fatal(err)
	}
	var repeat []Spend
	for _, s := range spend {
		if s.X > 0 {
			repeat = append(repeat, s)
		}
	}
	gg, ggRes, err := FitGammaGamma(repeat)
	if err != nil {
		t.Fatal(err)
	}
	return ForecastModels{Purchase: bg, PurchaseCov: bgRes.Cov, Spends: []SpendFit{{Model: gg, Cov: ggRes.Cov}}}
}

// groupsOf turns customers into forecast groups, one customer each.
func groupsOf(rfm []RFM, spend []Spend, seg []int) []ForecastGroup {
	g := make([]ForecastGroup, len(rfm))
	for i := range rfm {
		g[i] = ForecastGroup{Segment: seg[i], RFM: rfm[i], ZBarSum: spend[i].ZBar}
	}
	return g
}

// The totals are the sums of the per-customer predictions, whether the
// customers come one by one or grouped by history, and the segments add up
// to the whole.
func TestForecastTotalsAreSumsOfPredictions(t *testing.T) {
	m, rfm, spend, seg := forecastInputs(t, 6000, 3)
	const horizon = 52.0
	segs, per, total := ForecastSegments(m, groupsOf(rfm, spend, seg), horizon)
	if len(segs) != 3 || segs[0] != 1 || segs[2] != 3 {
		t.Fatalf("segments %v, want [1 2 3]", segs)
	}
	want := make([]Forecast, 3)
	for i, c := range rfm {
		f := &want[seg[i]-1]
		e := m.Purchase.ConditionalExpectedPurchases(horizon, c.X, c.TX, c.T)
		f.Customers++
		f.Purchases += e
		f.Active += m.Purchase.ConditionalProbPurchase(horizon, c.X, c.TX, c.T)
		f.Spend += e * m.Spends[0].Model.ConditionalExpectedSpend(spend[i].X, spend[i].ZBar)
	}
	close := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Abs(want) {
			t.Errorf("%s = %.10g, want %.10g", name, got, want)
		}
	}
	var sum Forecast
	for s := range want {
		close("customers", per[s].Customers, want[s].Customers)
		close("purchases", per[s].Purchases, want[s].Purchases)
		close("active", per[s].Active, want[s].Active)
		close("spend", per[s].Spend, want[s].Spend)
		sum.Purchases += per[s].Purchases
		sum.Spend += per[s].Spend
		if !(per[s].PurchasesSD > 0 && per[s].ActiveSD > 0 && per[s].SpendSD > 0) {
			t.Errorf("segment %d: standard deviations %+v", segs[s], per[s])
		}
	}
	close("total purchases", total.Purchases, sum.Purchases)
	close("total spend", total.Spend, sum.Spend)

	// Grouped by segment and history, with the z̄ summed: the same totals.
	type key struct {
		seg       int
		x, tx, tt float64
	}
	idx := map[key]int{}
	var grouped []ForecastGroup
	for i, c := range rfm {
		k := key{seg[i], c.X, c.TX, c.T}
		j, ok := idx[k]
		if !ok {
			j = len(grouped)
			idx[k] = j
			grouped = append(grouped, ForecastGroup{Segment: seg[i], RFM: RFM{X: c.X, TX: c.TX, T: c.T}})
		}
		grouped[j].Weight++
		grouped[j].ZBarSum += spend[i].ZBar
	}
	if len(grouped) >= len(rfm) {
		t.Fatalf("no histories shared: %d groups", len(grouped))
	}
	if merged := GroupForecast(groupsOf(rfm, spend, seg)); len(merged) != len(grouped) {
		t.Errorf("GroupForecast made %d groups, want %d", len(merged), len(grouped))
	} else {
		_, perM, _ := ForecastSegments(m, merged, horizon)
		for s := range want {
			close("GroupForecast purchases", perM[s].Purchases, want[s].Purchases)
			close("GroupForecast spend", perM[s].Spend, want[s].Spend)
		}
	}
	_, perG, totalG := ForecastSegments(m, grouped, horizon)
	for s := range want {
		close("grouped purchases", perG[s].Purchases, want[s].Purchases)
		close("grouped spend", perG[s].Spend, want[s].Spend)
		if math.Abs(perG[s].SpendSD-per[s].SpendSD) > 1e-6*per[s].SpendSD {
			t.Errorf("grouped spend sd %v, ungrouped %v", perG[s].SpendSD, per[s].SpendSD)
		}
	}

	// Without a spend model, no spend figures; without a covariance, no
	// standard deviations.
	_, _, noSpend := ForecastSegments(ForecastModels{Purchase: m.Purchase, PurchaseCov: m.PurchaseCov}, grouped, horizon)
	if !math.IsNaN(noSpend.Spend) || !math.IsNaN(noSpend.SpendSD) || noSpend.Purchases != totalG.Purchases {
		t.Errorf("without a spend model: %+v", noSpend)
	}
	_, _, noCov := ForecastSegments(ForecastModels{Purchase: m.Purchase, Spends: []SpendFit{{Model: m.Spends[0].Model}}}, grouped, horizon)
	if !math.IsNaN(noCov.PurchasesSD) || noCov.Purchases != totalG.Purchases {
		t.Errorf("without a covariance: %+v", noCov)
	}
}

// The delta-method standard deviation describes how the forecast moves when
// the parameters are re-estimated on new data from the same process: fit
// the models on R independent simulated datasets, forecast the same
// customers with each fit, and compare the spread of those forecasts with
// the standard deviation the first fit reports. The sample standard
// deviation of R = 40 draws has a relative standard error of about
// 1/√(2(R-1)) ≈ 11%, so the two must agree within 35% (about 3 standard
// errors).
func TestForecastSDMatchesRefitSpread(t *testing.T) {
	if testing.Short() {
		t.Skip("fits 40 datasets")
	}
	const n, reps, horizon = 4000, 40, 52.0
	m0, rfm, spend, seg := forecastInputs(t, n, 100)
	groups := groupsOf(rfm, spend, seg)
	_, _, f0 := ForecastSegments(m0, groups, horizon)
	var purchases, spends []float64
	for r := range reps {
		m, _, _, _ := forecastInputs(t, n, uint64(200+r))
		_, _, f := ForecastSegments(m, groups, horizon)
		purchases = append(purchases, f.Purchases)
		spends = append(spends, f.Spend)
	}
	sd := func(v []float64) float64 {
		var mean, ss float64
		for _, x := range v {
			mean += x
		}
		mean /= float64(len(v))
		for _, x := range v {
			ss += (x - mean) * (x - mean)
		}
		return math.Sqrt(ss / float64(len(v)-1))
	}
	for _, c := range []struct {
		name       string
		delta, obs float64
	}{{"purchases", f0.PurchasesSD, sd(purchases)}, {"spend", f0.SpendSD, sd(spends)}} {
		t.Logf("%s: delta-method sd %.2f, spread of refits %.2f", c.name, c.delta, c.obs)
		if ratio := c.delta / c.obs; !(ratio > 0.65 && ratio < 1.35) {
			t.Errorf("%s: delta-method sd %.2f against a refit spread of %.2f (ratio %.2f)", c.name, c.delta, c.obs, ratio)
		}
	}
}

func TestForecastDeterministicAcrossGOMAXPROCS(t *testing.T) {
	m, rfm, spend, seg := forecastInputs(t, 20000, 9)
	groups := groupsOf(rfm, spend, seg)
	prev := runtime.GOMAXPROCS(1)
	_, a, at := ForecastSegments(m, groups, 52)
	runtime.GOMAXPROCS(4)
	_, b, bt := ForecastSegments(m, groups, 52)
	runtime.GOMAXPROCS(prev)
	if at != bt {
		t.Errorf("totals differ: %+v vs %+v", at, bt)
	}
	for s := range a {
		if a[s] != b[s] {
			t.Errorf("segment %d differs: %+v vs %+v", s, a[s], b[s])
		}
	}
}

// BenchmarkForecastOneMillion forecasts 1,000,000 simulated customers in 8
// segments, grouping included: 5 evaluations of BG/NBD and 4 of
// Gamma-Gamma per distinct history.
func BenchmarkForecastOneMillion(b *testing.B) {
	truth := BGNBD{0.25, 4.4, 0.8, 2.4}
	rfm, spend := simulateBGNBD(1_000_000, truth, GammaGamma{6, 4, 15}, 1)
	_, bgRes, err := FitBGNBD(rfm)
	if err != nil {
		b.Fatal(err)
	}
	gg := GammaGamma{6, 4, 15}
	m := ForecastModels{Purchase: truth, PurchaseCov: bgRes.Cov,
		Spends: []SpendFit{{Model: gg, Cov: [][]float64{{0.1, 0, 0}, {0, 0.1, 0}, {0, 0, 1}}}}}
	groups := make([]ForecastGroup, len(rfm))
	for i := range rfm {
		groups[i] = ForecastGroup{Segment: i % 8, RFM: rfm[i], ZBarSum: spend[i].ZBar}
	}
	b.ResetTimer()
	for b.Loop() {
		g := GroupForecast(groups)
		ForecastSegments(m, g, 52)
		b.ReportMetric(float64(len(g)), "groups")
	}
}

// A Gamma-Gamma fit with q <= 1 has no population mean spend: a customer
// whose evidence leaves pn + q <= 1 (a one-time buyer under gamma_gamma)
// has no expected spend, and a segment holding one has no spend forecast
// (NaN, which keeps the revenue target on its last-year baseline), never
// the negative figure p(γ + n z̄)/(pn + q - 1) gives there; a segment of
// repeat buyers alone keeps its forecast.
func TestForecastSpendUndefinedWhenMeanDoesNotExist(t *testing.T) {
	gg := GammaGamma{P: 3.5, Q: 0.7, Gamma: 2.2}
	if v := gg.ConditionalExpectedSpend(0, 0); !math.IsInf(v, 1) {
		t.Errorf("one-time buyer's expected spend %v, want +Inf", v)
	}
	small := GammaGamma{P: 0.2, Q: 0.5, Gamma: 2}
	if v := small.ExpectedSpendGiven(1, 30); !math.IsInf(v, 1) {
		t.Errorf("expected spend with pn + q = %v: %v, want +Inf", small.P+small.Q, v)
	}
	if v := small.ExpectedSpendGiven(4, 120); !(v > 0) || math.IsInf(v, 0) {
		t.Errorf("expected spend with pn + q = %v: %v, want a positive figure", 4*small.P+small.Q, v)
	}
	m := ForecastModels{Purchase: BGNBD{R: 0.4, Alpha: 1, A: 0.4, B: 2}, Spends: []SpendFit{{Model: gg}}}
	groups := []ForecastGroup{
		{Segment: 1, RFM: RFM{X: 0, TX: 0, T: 20}},
		{Segment: 1, RFM: RFM{X: 3, TX: 15, T: 20}, ZBarSum: 40},
		{Segment: 2, RFM: RFM{X: 3, TX: 15, T: 20}, ZBarSum: 40},
	}
	_, per, total := ForecastSegments(m, groups, 52)
	if !math.IsNaN(per[0].Spend) || !math.IsNaN(total.Spend) {
		t.Errorf("spend forecast of a segment with a one-time buyer %v, of all %v: want NaN", per[0].Spend, total.Spend)
	}
	want := m.Purchase.ConditionalExpectedPurchases(52, 3, 15, 20) * gg.ConditionalExpectedSpend(3, 40)
	if math.Abs(per[1].Spend-want) > 1e-9*want {
		t.Errorf("spend forecast of a segment of repeat buyers %v, want %v", per[1].Spend, want)
	}
}
