package engine

import (
	"context"
	"database/sql"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/scoring"
)

// simulatedSpend draws the purchase values of n customers per segment of
// truth (segment IDs 1, 2, ...; cust_idx numbered from 1): each customer
// has ν ~ Gamma(q, γ) and makes a first purchase and x repeat purchases (x
// uniform on 0 to 8), each of value Gamma(p, ν), as Gamma-Gamma assumes;
// the value of every purchase, the first included, comes from the same
// distribution. It returns the histories (T and t_x are left at 52 and
// 26 weeks: the spend models do not read them) and each customer's
// segment by cust_idx - 1.
func simulatedSpend(truth []scoring.GammaGamma, n int, seed uint64) (*histories, []int32) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	h := &histories{}
	var segOf []int32
	for s, gg := range truth {
		for range n {
			nu := distuv.Gamma{Alpha: gg.Q, Beta: gg.Gamma, Src: rng}.Rand()
			z := distuv.Gamma{Alpha: gg.P, Beta: nu, Src: rng}
			x := float64(rng.IntN(9))
			first := math.Max(math.Round(z.Rand()*100)/100, 0.01)
			var sum float64
			for range int(x) {
				sum += math.Max(math.Round(z.Rand()*100)/100, 0.01)
			}
			sp := scoring.Spend{X: x, Weight: 1}
			if x > 0 {
				sp.ZBar = sum / x
			}
			h.idx = append(h.idx, int64(len(h.idx)+1))
			h.hist = append(h.hist, scoring.RFM{X: x, TX: 26, T: 52, Weight: 1})
			h.spend = append(h.spend, sp)
			h.first = append(h.first, first)
			segOf = append(segOf, int32(s+1))
		}
	}
	return h, segOf
}

// TestSpendFitsRecoverParameters fits the spend models to purchase values
// drawn from two segments' known Gamma-Gamma parameters: per_segment's fit
// of each segment recovers that segment's parameters, within 4 standard
// errors (with 6 parameters, failing by chance with probability below
// 0.05%), and its customers are predicted by their segment's fit;
// first_order's fit is Gamma-Gamma's, its predictions conditioned on the
// first purchase too.
func TestSpendFitsRecoverParameters(t *testing.T) {
	truth := []scoring.GammaGamma{{P: 6, Q: 4, Gamma: 20}, {P: 3, Q: 5, Gamma: 150}}
	h, segOf := simulatedSpend(truth, 6000, 3)
	_, rows := h.fitRows()

	per := newSpendFit(config.SpendPerSegment, h, rows, segOf, nil, scoring.DataLimits{})
	if per.err != nil {
		t.Fatal(per.err)
	}
	if len(per.segments) != 2 || len(per.models) != 3 {
		t.Fatalf("per_segment: %d segment fits, %d models, want 2 and 3 (the pooled fit first)", len(per.segments), len(per.models))
	}
	for s, want := range truth {
		rec := per.segments[s]
		if rec.Error != "" {
			t.Fatalf("%s: %s", rec.Model, rec.Error)
		}
		fit := per.segFits[s]
		for j, w := range []float64{want.P, want.Q, want.Gamma} {
			se := fit.StdErr[j]
			if !(se > 0) || se/w > 0.15 {
				t.Errorf("%s %s: standard error %v is unusable", rec.Model, fit.Names[j], se)
			}
			if got := fit.Params[j]; math.Abs(got-w) > 4*se {
				t.Errorf("%s %s = %.4f, truth %.4f, %.1f standard errors away", rec.Model, fit.Names[j], got, w, math.Abs(got-w)/se)
			}
		}
	}
	for i := range h.idx {
		m := per.models[per.model(i)]
		sp := h.spend[i]
		if got, want := per.expected(i), m.ConditionalExpectedSpend(sp.X, sp.ZBar); got != want || per.model(i) != int(segOf[i]) {
			t.Fatalf("customer %d of segment %d: per_segment predicts %v by model %d, want %v by its segment's", i, segOf[i], got, per.model(i), want)
		}
	}

	plain := newSpendFit(config.SpendGammaGamma, h, rows, segOf, nil, scoring.DataLimits{})
	first := newSpendFit(config.SpendFirstOrder, h, rows, segOf, nil, scoring.DataLimits{})
	if plain.err != nil || first.err != nil {
		t.Fatal(plain.err, first.err)
	}
	if plain.models[0] != first.models[0] || len(first.models) != 1 {
		t.Errorf("first_order's fit %+v, want Gamma-Gamma's %+v", first.models, plain.models[0])
	}
	gg := plain.models[0]
	seen := map[float64]bool{}
	for i, sp := range h.spend {
		want := gg.P * (gg.Gamma + h.first[i] + sp.X*sp.ZBar) / (gg.P*(sp.X+1) + gg.Q - 1)
		if got := first.expected(i); math.Abs(got-want) > 1e-9*want {
			t.Fatalf("customer %d: first_order predicts %v, want %v", i, got, want)
		}
		if sp.X == 0 {
			seen[first.expected(i)] = true
			if plain.expected(i) != gg.MeanSpend() {
				t.Fatalf("customer %d: gamma_gamma gives a one-time buyer %v, want the mean %v", i, plain.expected(i), gg.MeanSpend())
			}
		}
	}
	if len(seen) < 100 {
		t.Errorf("first_order gives one-time buyers %d distinct expected spends: their first purchase is not evidence", len(seen))
	}
}

// TestSpendForecastMatchesPredictions checks that the forecasts (targets,
// bands, backtest groups) take each customer's spend from the same model
// as expected_spend: under every spend model, a segment's forecast spend
// is the sum over its customers of the expected purchases times expected.
func TestSpendForecastMatchesPredictions(t *testing.T) {
	truth := []scoring.GammaGamma{{P: 6, Q: 4, Gamma: 20}, {P: 3, Q: 5, Gamma: 150}}
	h, segOf := simulatedSpend(truth, 2000, 5)
	_, rows := h.fitRows()
	bg := scoring.BGNBD{R: 0.5, Alpha: 8, A: 0.7, B: 3}
	for _, name := range config.SpendModels {
		sp := newSpendFit(name, h, rows, segOf, nil, scoring.DataLimits{})
		if sp.err != nil {
			t.Fatal(sp.err)
		}
		groups := forecastGroups(sp, segOf)
		_, per, total := scoring.ForecastSegments(scoring.ForecastModels{Purchase: bg, Spends: sp.forecastModels(), SpendMeanSq: sp.meanSq()}, groups, 52)
		want := make([]float64, len(truth))
		var all float64
		for i, c := range h.hist {
			v := bg.ConditionalExpectedPurchases(52, c.X, c.TX, c.T) * sp.expected(i)
			want[segOf[i]-1] += v
			all += v
		}
		for s := range want {
			if math.Abs(per[s].Spend-want[s]) > 1e-9*want[s] {
				t.Errorf("%s: segment %d forecasts spend %v, its customers' predictions sum to %v", name, s+1, per[s].Spend, want[s])
			}
			if !(per[s].SpendChanceSD > 0) || math.IsInf(per[s].SpendChanceSD, 0) {
				t.Errorf("%s: segment %d spend chance SD %v", name, s+1, per[s].SpendChanceSD)
			}
		}
		if math.Abs(total.Spend-all) > 1e-9*all {
			t.Errorf("%s: total forecast spend %v, predictions sum to %v", name, total.Spend, all)
		}
	}
}

// TestSpendModelAutoOnGeneratedData runs generated data (the demo's
// generator: its latent groups buy at different rates and spend different
// amounts per purchase, the group that rarely buys again little, so that
// spend goes with purchase frequency across customers though hardly among
// the repeat buyers) with value.spend_model: auto and a backtest: the
// spend model the backtest chooses is not Gamma-Gamma as published, and
// its forecast of the holdout's revenue errs less than Gamma-Gamma's,
// both by the measure auto chooses by and for the customers without a
// repeat purchase (the same purchase model's forecasts, model_backtest's
// frequency 0 row).
func TestSpendModelAutoOnGeneratedData(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline on generated data")
	}
	data := generatedData(t, 4000, 1)
	cfg := generatedConfig(t, data, filepath.Join(t.TempDir(), "out"))
	cfg.Value.BacktestHoldout = "26w"
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	man := res.Manifest
	choice, bt := man.SpendModelChoice, man.Backtest
	if choice == nil || bt == nil {
		t.Fatalf("no spend model choice (%+v) or backtest (%+v)", choice, bt)
	}
	t.Logf("spend_frequency %+v; choice %s: %s", man.SpendFrequency, choice.Model, choice.Reason)
	errOf := map[string]float64{}
	for _, c := range bt.SpendCompared {
		errOf[c.Model] = float64(c.SpendError)
	}
	if choice.Model == config.SpendGammaGamma || choice.Measure != "spend_error" {
		t.Fatalf("auto chose %s by %s, want another spend model by the backtest", choice.Model, choice.Measure)
	}
	if man.SpendModel == nil || man.SpendModel.Model != choice.Model || bt.SpendModel != choice.Model || bt.SpendCompared[0].Model != choice.Model {
		t.Errorf("the run uses %+v, the backtest %s (%s first), want auto's choice %s", man.SpendModel, bt.SpendModel, bt.SpendCompared[0].Model, choice.Model)
	}
	if choice.Model == config.SpendPerSegment {
		t.Errorf("auto chose per_segment by the backtest, whose segments saw the holdout")
	}
	for _, c := range choice.Candidates {
		if c.Model == config.SpendPerSegment && c.Error != perSegmentNotChosen {
			t.Errorf("per_segment's candidate record says %q, want %q", c.Error, perSegmentNotChosen)
		}
	}
	if !(errOf[choice.Model] < errOf[config.SpendGammaGamma]) {
		t.Errorf("%s spend error %v, gamma_gamma %v: want the chosen model better", choice.Model, errOf[choice.Model], errOf[config.SpendGammaGamma])
	}

	// The customers without a repeat purchase by calibration_end: the
	// chosen model's revenue forecast against Gamma-Gamma's, with the same
	// purchase model (a run with spend_model gamma_gamma).
	frequency0 := func(dir string) float64 {
		rows := readTable(t, filepath.Join(dir, "model_backtest.parquet"),
			"SELECT revenue_error FROM $TABLE WHERE grouping = 'frequency' AND group_value = 0")
		defer rows.Close()
		var e sql.NullFloat64
		for rows.Next() {
			if err := rows.Scan(&e); err != nil {
				t.Fatal(err)
			}
		}
		if !e.Valid {
			// No error figure: the forecast revenue is infinite (a
			// Gamma-Gamma fit with q <= 1 has no mean to give a one-time
			// buyer).
			return math.Inf(1)
		}
		return e.Float64
	}
	chosen := frequency0(res.Dir)
	cfg.Value.SpendModel = config.SpendGammaGamma
	cfg.Output = filepath.Join(t.TempDir(), "out")
	plain, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	published := frequency0(plain.Dir)
	t.Logf("frequency 0 revenue error: %s %+.3f, gamma_gamma %+.3f", choice.Model, chosen, published)
	if !(math.Abs(chosen) < math.Abs(published)) {
		t.Errorf("frequency 0 revenue error: %s %+.3f, gamma_gamma %+.3f: want the chosen model closer", choice.Model, chosen, published)
	}
}

// On generated data whose groups are set far apart, Gamma-Gamma's fit has
// q <= 1: no population mean spend, so no expected spend for a one-time
// buyer (expected_spend and predicted_clv_12m null). A segment holding such
// customers has no revenue forecast either: its revenue target keeps the
// last 12 months' baseline (last_12m_projection), where the sum of
// p(γ + x z̄)/(px + q - 1) over its customers, negative for each one-time
// buyer, made negative model baselines. first_order conditions every
// customer on their first purchase too: every figure is there, positive.
func TestSpendModelWithoutMeanSpend(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline on generated data")
	}
	data := generatedData(t, 3000, 2)
	for _, model := range []string{config.SpendGammaGamma, config.SpendFirstOrder} {
		cfg := generatedConfig(t, data, filepath.Join(t.TempDir(), "out"))
		cfg.Value.SpendModel = model
		res, err := Run(context.Background(), cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var q float64
		for _, m := range res.Manifest.Models {
			if m.Model == config.SpendGammaGamma {
				q = float64(m.Params["q"])
			}
		}
		if !(q > 0 && q <= 1) {
			t.Fatalf("%s: Gamma-Gamma's q = %v: the generated data no longer give the case under test (q <= 1)", model, q)
		}
		segs := filepath.Join(res.Dir, "customer_segments.parquet")
		histories := countRows(t, segs, "expected_purchases_12m IS NOT NULL")
		withSpend := countRows(t, segs, "expected_spend IS NOT NULL AND isfinite(expected_spend) AND expected_spend > 0")
		oneTime := countRows(t, segs, "expected_purchases_12m IS NOT NULL AND frequency = 1")
		targets := filepath.Join(res.Dir, "segment_targets.parquet")
		negative := countRows(t, targets, "metric = 'revenue_12m' AND (baseline < 0 OR target < 0 OR low < 0)")
		byModel := countRows(t, targets, "metric = 'revenue_12m' AND method LIKE '%gamma_gamma'")
		revenue := countRows(t, targets, "metric = 'revenue_12m'")
		if negative != 0 || revenue == 0 {
			t.Errorf("%s: %d of %d revenue targets negative", model, negative, revenue)
		}
		switch model {
		case config.SpendGammaGamma:
			// One-time buyers (one order; customers with several orders on
			// one day are one-time buyers too, by purchase days) have none.
			if spent := countRows(t, segs, "frequency = 1 AND expected_spend IS NOT NULL"); oneTime == 0 || spent != 0 || withSpend == 0 {
				t.Errorf("%s: %d of the %d one-time buyers with an expected spend, %d customers with a positive one; want none of them, some others",
					model, spent, oneTime, withSpend)
			}
			if byModel != 0 {
				t.Errorf("%s: %d revenue targets from the value model, want none (each segment holds one-time buyers)", model, byModel)
			}
		case config.SpendFirstOrder:
			if withSpend != histories || byModel != revenue {
				t.Errorf("%s: %d of %d customers with a positive expected spend, %d of %d revenue targets from the value model; want all",
					model, withSpend, histories, byModel, revenue)
			}
		}
	}
}
