package engine

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/scoring"
)

// spendFit is a spend model (value.spend_model's, or auto's choice) fitted
// to one set of purchase histories: the run's as of as_of, or a backtest's
// as of calibration_end. Every figure that needs a customer's expected
// spend per purchase (expected_spend, the CLV, the economics horizon, the
// backtest's revenue, the forecasts and their bands) asks it, through
// expected and forecastGroup, so that they all rest on the same model.
//
// The models are Gamma-Gamma fits (Fader & Hardie 2013): models[0] is the
// fit on every customer; under per_segment, models[k] for k > 0 is the fit
// on one segment's customers, and which says whose.
type spendFit struct {
	name string // config.SpendGammaGamma, SpendFirstOrder or SpendPerSegment
	h    *histories
	// first: the first purchase's value is evidence too (first_order): a
	// customer's n = x+1 purchases, summing to first + x·z̄.
	first  bool
	models []scoring.GammaGamma
	fits   []scoring.FitResult
	// which is each customer's (of h) index into models; nil: all 0.
	which []int32
	// segments are per_segment's fits, one record per segment (named
	// gamma_gamma_segment_ID; with an error, its customers take models[0]);
	// segFits their fit results, for the models table.
	segments []manifest.ModelRecord
	segFits  []scoring.FitResult
	// err is why the spend model gives no figures: the fit on every
	// customer failed, or the histories cannot carry it.
	err error
}

// newSpendFit fits the spend model name to the histories h. Gamma-Gamma is
// fitted on rows, the repeat buyers with a positive mean spend
// (histories.fitRows), under every spend model: first_order differs only
// in the evidence its predictions condition on (fitting it on the x+1
// purchases, first included, backtested worse on every dataset measured,
// docs/definitions.md "Choosing the spend model"); per_segment fits each
// segment's repeat buyers too. segOf is each
// customer's segment by cust_idx - 1 (per_segment only), dataErr why the
// histories cannot carry the value models (nil when they can), limits the
// data limits. A segment whose customers cannot carry a fit of their own
// (fewer repeat buyers than the limit, or a fit that fails) takes the fit
// on every customer, with that reason recorded.
func newSpendFit(name string, h *histories, rows []scoring.Spend, segOf []int32, dataErr error, limits scoring.DataLimits) *spendFit {
	f := &spendFit{name: name, h: h, first: name == config.SpendFirstOrder,
		models: make([]scoring.GammaGamma, 1), fits: make([]scoring.FitResult, 1)}
	if dataErr != nil {
		f.err, f.fits[0].N = dataErr, float64(len(rows))
		return f
	}
	if f.fits[0].N, f.err = scoring.CheckSpend(rows, limits); f.err != nil {
		return f
	}
	f.models[0], f.fits[0], f.err = scoring.FitGammaGamma(rows)
	if f.err != nil || name != config.SpendPerSegment {
		return f
	}
	bySegment := map[int32][]scoring.Spend{}
	f.which = make([]int32, len(h.idx))
	for i, sp := range h.spend {
		sg := segmentOfCustomer(segOf, h.idx[i])
		if sg < 0 {
			continue
		}
		if _, ok := bySegment[sg]; !ok {
			bySegment[sg] = nil
		}
		if sp.X > 0 && sp.ZBar > 0 {
			bySegment[sg] = append(bySegment[sg], sp)
		}
	}
	index := map[int32]int32{}
	for _, sg := range slices.Sorted(maps.Keys(bySegment)) {
		seg := bySegment[sg]
		label := fmt.Sprintf("%s_segment_%d", config.SpendGammaGamma, sg)
		var fit scoring.FitResult
		var m scoring.GammaGamma
		var err error
		if fit.N, err = scoring.CheckSpend(seg, limits); err == nil {
			m, fit, err = scoring.FitGammaGamma(seg)
		}
		rec := record(label, "currency per purchase", fit, err)
		if err != nil {
			rec.Error = fmt.Sprintf("%v: its customers take the fit on every customer (gamma_gamma)", err)
		} else {
			index[sg] = int32(len(f.models))
			f.models = append(f.models, m)
			f.fits = append(f.fits, fit)
		}
		f.segments = append(f.segments, rec)
		f.segFits = append(f.segFits, fit)
	}
	for i := range h.idx {
		f.which[i] = index[segmentOfCustomer(segOf, h.idx[i])]
	}
	return f
}

// segmentOfCustomer is the segment of the customer numbered idx in segOf
// (indexed by cust_idx - 1); -1 without one.
func segmentOfCustomer(segOf []int32, idx int64) int32 {
	if j := int(idx) - 1; j >= 0 && j < len(segOf) {
		return segOf[j]
	}
	return -1
}

// model is the index into f.models of customer i's fit.
func (f *spendFit) model(i int) int {
	if f.which == nil {
		return 0
	}
	return int(f.which[i])
}

// evidence is customer i's spend evidence: the number of purchases n and
// their mean value (0 when n is 0). Under Gamma-Gamma as published the
// evidence is the x repeat purchases and their mean z̄; first_order adds
// the first purchase.
func (f *spendFit) evidence(i int) (n, mean float64) {
	sp := f.h.spend[i]
	if !f.first {
		return sp.X, sp.ZBar
	}
	n = sp.X + 1
	return n, (f.h.first[i] + sp.X*sp.ZBar) / n
}

// expected is customer i's (of the histories the model was fitted to)
// expected spend per future purchase, NaN when the spend model gives none.
func (f *spendFit) expected(i int) float64 {
	if f.err != nil {
		return math.NaN()
	}
	m := f.models[f.model(i)]
	if !f.first {
		sp := f.h.spend[i]
		return m.ConditionalExpectedSpend(sp.X, sp.ZBar)
	}
	sp := f.h.spend[i]
	return m.ExpectedSpendGiven(sp.X+1, f.h.first[i]+sp.X*sp.ZBar)
}

// forecastGroup is customer i's forecast group (of one customer) in
// segment sg: the purchase history, and the spend model and evidence the
// forecast's spend and its variance take.
func (f *spendFit) forecastGroup(i, sg int) scoring.ForecastGroup {
	_, z := f.evidence(i)
	g := scoring.ForecastGroup{Segment: sg, RFM: f.h.hist[i], SpendModel: f.model(i), ZBarSum: z, ZBarSqSum: z * z}
	if f.first {
		g.SpendExtra = 1
	}
	return g
}

// forecastModels are the fits forecastGroup's SpendModel indexes, with
// their covariances; nil when the spend model gives no figures.
func (f *spendFit) forecastModels() []scoring.SpendFit {
	if f.err != nil {
		return nil
	}
	out := make([]scoring.SpendFit, len(f.models))
	for k, m := range f.models {
		out[k] = scoring.SpendFit{Model: m, Cov: f.fits[k].Cov}
	}
	return out
}

// meanSq is the mean square of the evidence's mean spend over the
// customers with a positive one: the second moment of mean spend per
// purchase that stands in for Gamma-Gamma's where its posterior has none
// (scoring.ForecastModels.SpendMeanSq).
func (f *spendFit) meanSq() float64 {
	if !f.first {
		return spendMeanSq(f.h.spend)
	}
	var s, n float64
	for i := range f.h.spend {
		if k, z := f.evidence(i); k > 0 && z > 0 {
			s += z * z
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / n
}

// records are the spend model's rows of the models table, prefix (such as
// backtest_) before each name: the fit on every customer (gamma_gamma),
// then per_segment's fits.
func (f *spendFit) records() ([]manifest.ModelRecord, []scoring.FitResult) {
	recs := append([]manifest.ModelRecord{record(config.SpendGammaGamma, "currency per purchase", f.fits[0], f.err)}, f.segments...)
	return recs, append([]scoring.FitResult{f.fits[0]}, f.segFits...)
}

// spendFrequencyRows is the number of calibration-frequency rows of
// model_backtest: 0 to 6 repeat purchases, and 7 or more together.
const spendFrequencyRows = 8

// spendError is sp's own error in the backtest's holdout: each calibration
// customer's holdout purchases times the expected spend per purchase sp
// gives them, against their holdout revenue, the absolute differences
// summed over model_backtest's frequency rows (so that an over-predicted
// row does not offset an under-predicted one), over the holdout's
// revenue; rounded to 6 digits. The purchases are the actual ones, so the
// purchase model's error does not enter it. NaN when sp gives no figures
// or nobody spent in the holdout.
func (c *calibration) spendError(sp *spendFit) float64 {
	if sp.err != nil {
		return math.NaN()
	}
	var pred, act [spendFrequencyRows]float64
	h := c.h
	for i, hc := range h.hist {
		if h.actualN[i] == 0 {
			continue
		}
		f := min(int(hc.X), spendFrequencyRows-1)
		pred[f] += float64(h.actualN[i]) * sp.expected(i)
		act[f] += h.actualR[i]
	}
	var diff, total float64
	for f := range pred {
		diff += math.Abs(pred[f] - act[f])
		total += act[f]
	}
	if !(total > 0) {
		return math.NaN()
	}
	return round(diff/total, 6)
}

// perSegmentNotChosen is why auto does not choose per_segment by the
// backtest: the backtest fits it on this run's segments, which were drawn
// from histories that include the holdout, so its holdout error flatters
// it (on the demo it came out best that way). Its figures stay in
// spend_compared; the rule (spendByRule) still chooses it when spend goes
// with purchase frequency.
const perSegmentNotChosen = "not chosen by the backtest: its fits use this run's segments, drawn from histories that include the holdout"

// chooseSpendModel returns the index in config.SpendModels of the spend
// model value.spend_model: auto chooses from the backtest's fits c: the one
// with the smallest spendError (a tie goes to the first), recorded with
// each candidate's error and the reason in the manifest and the log; -1
// when none has one (the run then chooses by the rule, spendByRule).
func (r *run) chooseSpendModel(c *calibration) int {
	choice := &manifest.ModelChoice{Measure: "spend_error"}
	best := -1
	for k, sp := range c.spends {
		cand := manifest.ModelCandidate{Model: sp.name, HoldoutError: nullable.Float(c.spendErr[k])}
		switch {
		case sp.err != nil:
			cand.Error = sp.err.Error()
		case math.IsNaN(c.spendErr[k]):
			cand.Error = "no revenue in the holdout to measure the error against"
		case sp.name == config.SpendPerSegment:
			cand.Error = perSegmentNotChosen
		case best < 0 || c.spendErr[k] < c.spendErr[best]:
			best = k
		}
		choice.Candidates = append(choice.Candidates, cand)
	}
	r.man.SpendModelChoice = choice
	if best < 0 {
		choice.Reason = fmt.Sprintf("no spend model has a holdout error in the backtest calibrated to %s (see backtest.spend_compared)", c.bt.CalibrationEnd)
		return -1
	}
	var others []string
	var attrs []any
	for k, sp := range c.spends {
		if !math.IsNaN(c.spendErr[k]) && sp.err == nil && sp.name != config.SpendPerSegment {
			attrs = append(attrs, sp.name, c.spendErr[k])
			if k != best {
				others = append(others, fmt.Sprintf("%s %.2f%%", sp.name, 100*c.spendErr[k]))
			}
		}
	}
	choice.Model = c.spends[best].name
	choice.Reason = fmt.Sprintf("the smallest error in the holdout's revenue given its purchases, by frequency row (%s to %s): %s %.2f%%",
		c.bt.CalibrationEnd, c.bt.HoldoutEnd, choice.Model, 100*c.spendErr[best])
	if len(others) > 0 {
		choice.Reason += ", against " + strings.Join(others, ", ")
	}
	r.log.Info("value.spend_model auto: spend model chosen by the backtest", append([]any{"spend_model", choice.Model, "reason", choice.Reason}, attrs...)...)
	return best
}

// spendByRule is the spend model value.spend_model: auto takes without a
// backtest to choose by (or when no spend model has a holdout error in
// it), given the check of Gamma-Gamma's assumption on the run's repeat
// buyers (sf; nil when not made): per_segment when spend goes with
// purchase frequency (the segments follow frequency, so their fits carry
// the correlation), gamma_gamma otherwise (first_order backtested worse
// than gamma_gamma on CDNOW, whose correlation is as weak as the demo's,
// where it backtested better: the correlation cannot tell them apart). It records the choice, adding
// to the backtest's record when there is one.
func (r *run) spendByRule(sf *manifest.SpendFrequency) string {
	choice := r.man.SpendModelChoice
	if choice == nil {
		choice = &manifest.ModelChoice{Reason: "no backtest (value.backtest_holdout) to choose by"}
		r.man.SpendModelChoice = choice
	}
	choice.Measure = "rule"
	choice.Model = config.SpendGammaGamma
	var why string
	switch {
	case sf == nil:
		why = "the correlation of spend per repeat purchase and repeat purchases was not measured"
	case sf.Independent:
		why = fmt.Sprintf("spend per repeat purchase does not go with repeat purchases (correlation %.3f, within ±%g)", float64(sf.Correlation), sf.Limit)
	default:
		choice.Model = config.SpendPerSegment
		why = fmt.Sprintf("spend per repeat purchase goes with repeat purchases (correlation %.3f, beyond ±%g)", float64(sf.Correlation), sf.Limit)
	}
	choice.Reason += "; by the rule, " + why + ": " + choice.Model
	r.log.Info("value.spend_model auto: spend model chosen by the rule", "spend_model", choice.Model, "reason", choice.Reason)
	return choice.Model
}

// compareSpend records in the backtest's spend_compared each spend model's
// forecast of the holdout revenue with purchase model j (the one in use),
// the spend model in use first, and logs it.
func (c *calibration) compareSpend(r *run, j int) {
	bt, h := c.bt, c.h
	order := []int{c.spendIn}
	for k := range c.spends {
		if k != c.spendIn {
			order = append(order, k)
		}
	}
	var ey []float64
	if c.fitErrs[j] == nil {
		p := scoring.NewPredictor(c.purchase[j])
		ey = make([]float64, len(h.hist))
		for i, hc := range h.hist {
			ey[i] = p.ConditionalExpectedPurchases(c.weeks, hc.X, hc.TX, hc.T)
		}
	}
	bt.SpendCompared = nil
	for _, k := range order {
		sp := c.spends[k]
		cm := manifest.SpendBacktest{Model: sp.name, PredictedRevenue: nullable.Float(math.NaN()), RevenueError: nullable.Float(math.NaN()),
			SpendError: nullable.Float(c.spendErr[k])}
		if sp.err != nil {
			cm.Error = sp.err.Error()
			bt.SpendCompared = append(bt.SpendCompared, cm)
			continue
		}
		if ey == nil {
			cm.Error = fmt.Sprintf("no predicted revenue: %s, the purchase model: %v", c.names[j], c.fitErrs[j])
			bt.SpendCompared = append(bt.SpendCompared, cm)
			r.log.Info("customer-value backtest of a spend model", "spend_model", sp.name, "calibration_end", bt.CalibrationEnd,
				"spend_error", c.spendErr[k])
			continue
		}
		var sum float64
		for i, e := range ey {
			sum += round(e*sp.expected(i), 6)
		}
		cm.PredictedRevenue, cm.RevenueError = nullable.Float(round(sum, 6)), nullable.Float(relError(sum, actualRevenue(h)))
		bt.SpendCompared = append(bt.SpendCompared, cm)
		r.log.Info("customer-value backtest of a spend model", "spend_model", sp.name, "calibration_end", bt.CalibrationEnd,
			"predicted_revenue", round(sum, 2), "revenue_error", float64(cm.RevenueError), "spend_error", c.spendErr[k])
	}
}

// actualRevenue is the calibration customers' revenue in the holdout, as
// backtest_totals sums it (rounded per customer to 4 digits).
func actualRevenue(h *histories) float64 {
	var sum float64
	for _, v := range h.actualR {
		sum += round(v, 4)
	}
	return sum
}
