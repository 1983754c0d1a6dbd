package scoring

import (
	"math"
	"slices"
)

// ForecastGroup is a set of customers of one segment with the same purchase
// history, the unit ForecastSegments sums over.
type ForecastGroup struct {
	Segment int
	// RFM is the shared history; its Weight is the number of customers.
	RFM
	// ZBarSum is the sum, over the group's customers, of their mean repeat
	// spend (0 for a customer without repeat purchases). Gamma-Gamma's
	// expected spend is linear in z̄, so the group's expected spend needs
	// only this sum.
	ZBarSum float64
	// ZBarSqSum is the sum of the squares of those means: the predictive
	// variance of a customer's spend is quadratic in z̄.
	ZBarSqSum float64
}

// GroupForecast merges the groups of the same segment and history, adding
// their weights and z̄ sums; the result is sorted by segment and history.
func GroupForecast(groups []ForecastGroup) []ForecastGroup {
	out := slices.Clone(groups)
	for i := range out {
		out[i].Weight = weightOf(out[i].Weight)
	}
	cmp := func(a, b ForecastGroup) int {
		if a.Segment != b.Segment {
			return a.Segment - b.Segment
		}
		return cmpRFM(a.RFM, b.RFM)
	}
	return mergeSorted(out, cmp, func(a *ForecastGroup, b ForecastGroup) {
		a.Weight += b.Weight
		a.ZBarSum += b.ZBarSum
		a.ZBarSqSum += b.ZBarSqSum
	})
}

// Forecast is a segment's expected totals over a forecast horizon, with
// two standard deviations of each total: the one that comes from the
// uncertainty of the fitted parameters, and the chance scatter of the
// customers' purchases and spend around their expectations given the
// parameters (the sum of the customers' predictive variances: customers
// buy independently of each other given the parameters).
type Forecast struct {
	Customers float64 // customers forecast (the sum of the groups' weights)
	Purchases float64 // expected purchases in the horizon
	Active    float64 // expected customers with at least one purchase
	Spend     float64 // expected spend: purchases times expected spend per purchase
	// The standard deviations from parameter uncertainty; NaN when a
	// model's covariance is unknown.
	PurchasesSD, ActiveSD, SpendSD float64
	// The standard deviations from chance: purchases from the purchase
	// model's predictive variance (ConditionalPurchaseVariance), active customers
	// binomial, spend from SpendTotalVariance (+Inf when Gamma-Gamma gives
	// a customer an unbounded variance).
	PurchasesChanceSD, ActiveChanceSD, SpendChanceSD float64
}

// ForecastModels are the fitted models a forecast uses, each with the
// asymptotic covariance of its parameters (FitResult.Cov).
type ForecastModels struct {
	// Purchase is the purchase model: BGNBD, MBGNBD or ParetoNBD.
	Purchase    DropoutModel
	PurchaseCov [][]float64
	// Spend, when nil, leaves Spend and SpendSD NaN.
	Spend    *GammaGamma
	SpendCov [][]float64
	// SpendMeanSq, when positive, stands for E[(p/ν)²], the second moment
	// of a customer's mean spend per purchase, for the customers whose
	// Gamma-Gamma posterior gives it no finite value (px + q <= 2: the
	// one-time buyers when q <= 2): for example the mean of z̄² over the
	// repeat buyers. Zero leaves their chance variance +Inf.
	SpendMeanSq float64
}

// forecastStep is the step, in log-parameter, of the forward differences
// behind the delta method: its truncation error, about forecastStep
// relative, is far below what a standard deviation needs.
const forecastStep = 1e-4

// ForecastSegments returns, for each segment of groups (in ascending
// segment order) and for all groups together, the expected purchases,
// active customers and spend in the next t time units (the unit of the
// purchase model), summed over the customers of the segment.
//
// The standard deviations come from the delta method: each total is a
// smooth function f(θ) of the log-parameters θ, and
// Var f ≈ ∇fᵀ Σ_θ ∇f, with Σ_θ = D⁻¹ Σ D⁻¹ the covariance of the fit in
// log-parameters (D the diagonal of the parameters) and ∇f by forward
// differences. The purchase and spend models are fitted on separate
// likelihoods, so their parameters are treated as independent. The sums run
// over fixed chunks of groups in a fixed order: the figures do not depend
// on GOMAXPROCS.
func ForecastSegments(m ForecastModels, groups []ForecastGroup, t float64) (segments []int, perSegment []Forecast, total Forecast) {
	for _, g := range groups {
		if _, found := slices.BinarySearch(segments, g.Segment); !found {
			segments = append(segments, g.Segment)
			slices.Sort(segments)
		}
	}
	ns := len(segments)
	segIdx := make([]int, len(groups))
	for i, g := range groups {
		segIdx[i], _ = slices.BinarySearch(segments, g.Segment)
	}
	// Accumulator layout: for each of ns segments plus the total, the
	// customers, purchases, active and spend, then the chance variances of
	// purchases, active and spend (base forecast only).
	const width = 7
	at := func(s, k int) int { return s*width + k }
	spendFactor := func(gg GammaGamma, g ForecastGroup) float64 {
		// Σ_customers E[Z|x, z̄] = p(γ w + x Σz̄)/(px + q - 1).
		return gg.P * (gg.Gamma*weightOf(g.Weight) + g.X*g.ZBarSum) / (gg.P*g.X + gg.Q - 1)
	}
	ey := make([]float64, len(groups))
	totals := func(bg DropoutModel, gg *GammaGamma, keep bool) []float64 {
		return chunkReduce(len(groups), (ns+1)*width, func(lo, hi int, acc []float64) {
			pr := NewPredictor(bg)
			for i := lo; i < hi; i++ {
				g := groups[i]
				w := weightOf(g.Weight)
				e := pr.ConditionalExpectedPurchases(t, g.X, g.TX, g.T)
				if keep {
					ey[i] = e
				}
				a := pr.ConditionalProbPurchase(t, g.X, g.TX, g.T)
				sp := math.NaN()
				if gg != nil {
					sp = e * spendFactor(*gg, g)
				}
				var vn, va, vs float64
				if keep {
					vn = pr.ConditionalPurchaseVariance(t, g.X, g.TX, g.T)
					va = w * a * (1 - a)
					if gg != nil {
						// Σ_customers (γ + x z̄)², times the factor all share.
						g2 := w*gg.Gamma*gg.Gamma + 2*gg.Gamma*g.X*g.ZBarSum + g.X*g.X*g.ZBarSqSum
						vs = g2 * gg.spendVarianceFactor(g.X, e, vn)
						if math.IsInf(vs, 1) && m.SpendMeanSq > 0 {
							vs = w * spendVarianceFromMoments(gg.P, spendFactor(*gg, g)/w, m.SpendMeanSq, e, vn)
						}
					}
					vn *= w
				}
				for _, s := range []int{segIdx[i], ns} {
					acc[at(s, 0)] += w
					acc[at(s, 1)] += e * w
					acc[at(s, 2)] += a * w
					acc[at(s, 3)] += sp
					acc[at(s, 4)] += vn
					acc[at(s, 5)] += va
					acc[at(s, 6)] += vs
				}
			}
		})
	}
	spendTotals := func(gg GammaGamma) []float64 {
		return chunkReduce(len(groups), ns+1, func(lo, hi int, acc []float64) {
			for i := lo; i < hi; i++ {
				sp := ey[i] * spendFactor(gg, groups[i])
				acc[segIdx[i]] += sp
				acc[ns] += sp
			}
		})
	}

	base := totals(m.Purchase, m.Spend, true)
	// variance accumulates ∇fᵀ Σ_θ ∇f for one model's parameters, given the
	// log-parameter derivatives d[i][v] of every value v.
	variance := func(params []float64, cov [][]float64, d [][]float64, nv int) []float64 {
		out := make([]float64, nv)
		if cov == nil {
			for v := range out {
				out[v] = math.NaN()
			}
			return out
		}
		for i := range params {
			for j := range params {
				c := cov[i][j] / (params[i] * params[j])
				for v := range out {
					out[v] += d[i][v] * d[j][v] * c
				}
			}
		}
		return out
	}

	bgParams := m.Purchase.Params()
	dBG := make([][]float64, len(bgParams))
	for i := range bgParams {
		shift := func(h float64) DropoutModel {
			p := slices.Clone(bgParams)
			p[i] *= math.Exp(h)
			return m.Purchase.WithParams(p)
		}
		plus := totals(shift(forecastStep), m.Spend, false)
		dBG[i] = make([]float64, len(base))
		for v := range base {
			dBG[i][v] = (plus[v] - base[v]) / forecastStep
		}
	}
	varBG := variance(bgParams, m.PurchaseCov, dBG, len(base))

	varGG := make([]float64, ns+1)
	if m.Spend != nil {
		ggParams := []float64{m.Spend.P, m.Spend.Q, m.Spend.Gamma}
		dGG := make([][]float64, len(ggParams))
		for i := range ggParams {
			shift := func(h float64) GammaGamma {
				p := slices.Clone(ggParams)
				p[i] *= math.Exp(h)
				return GammaGamma{P: p[0], Q: p[1], Gamma: p[2]}
			}
			plus := spendTotals(shift(forecastStep))
			dGG[i] = make([]float64, ns+1)
			for v := range dGG[i] {
				dGG[i][v] = (plus[v] - base[at(v, 3)]) / forecastStep
			}
		}
		varGG = variance(ggParams, m.SpendCov, dGG, ns+1)
	}

	read := func(s int) Forecast {
		f := Forecast{
			Customers: base[at(s, 0)], Purchases: base[at(s, 1)], Active: base[at(s, 2)], Spend: base[at(s, 3)],
			PurchasesSD: math.Sqrt(varBG[at(s, 1)]), ActiveSD: math.Sqrt(varBG[at(s, 2)]),
			SpendSD:           math.Sqrt(varBG[at(s, 3)] + varGG[s]),
			PurchasesChanceSD: math.Sqrt(base[at(s, 4)]), ActiveChanceSD: math.Sqrt(base[at(s, 5)]),
			SpendChanceSD: math.Sqrt(base[at(s, 6)]),
		}
		if m.Spend == nil {
			f.Spend, f.SpendSD, f.SpendChanceSD = math.NaN(), math.NaN(), math.NaN()
		}
		return f
	}
	perSegment = make([]Forecast, ns)
	for s := range perSegment {
		perSegment[s] = read(s)
	}
	return segments, perSegment, read(ns)
}

// BacktestTotal is one group's forecast total over a backtest's holdout
// against what happened.
type BacktestTotal struct {
	Predicted float64 // the forecast total
	Actual    float64 // the actual total
	// Variance is the forecast's variance from chance and parameter
	// uncertainty (the squares of a Forecast's standard deviations).
	Variance float64
}

// CalibrateModelError estimates the relative standard deviation e of a
// forecast's model error from backtest totals. If a total's error is chance
// and parameter uncertainty (variance V) plus an independent model error of
// standard deviation e·P, then E[(A-P)²] = V + e²P², and each group gives
// the estimate e_g² = max(0, ((A-P)² - V)/P²); they are averaged weighted by
// the forecast P,
//
//	e² = Σ_g max(0, (A-P)² - V) / P  /  Σ_g P,
//
// so that a group with a tiny forecast, whose relative error is mostly
// noise, weighs little, while small groups still count (an unweighted mean
// lets a group of a few customers decide; weights P² would leave every
// group but the largest out). Groups without a positive, finite forecast
// and a finite variance are skipped; it returns 0 when none is left.
func CalibrateModelError(totals []BacktestTotal) float64 {
	var sum, weight float64
	for _, b := range totals {
		if !(b.Predicted > 0) || math.IsInf(b.Predicted, 0) || math.IsNaN(b.Actual) || math.IsNaN(b.Variance) || math.IsInf(b.Variance, 0) {
			continue
		}
		d := b.Actual - b.Predicted
		sum += math.Max(d*d-b.Variance, 0) / b.Predicted
		weight += b.Predicted
	}
	if !(weight > 0) {
		return 0
	}
	return math.Sqrt(sum / weight)
}

// spendVarianceFromMoments is the variance of a customer's total spend,
// Y purchases of Gamma(p, ν) value, from the first two moments of the mean
// spend per purchase μ = p/ν (mean m1, second moment m2) and of Y:
// E[S²] = E[Y] m2/p + E[Y²] m2.
func spendVarianceFromMoments(p, m1, m2, meanY, varY float64) float64 {
	return math.Max(meanY*m2/p+(varY+meanY*meanY)*m2-meanY*meanY*m1*m1, 0)
}

// ErrorGroup is the recency-frequency group of a purchase history that
// model errors are measured by: the repeat purchases (0, 1, 2-4, 5 or
// more) crossed with the time since the last purchase, T - t_x (under 13,
// 13 to 26, 26 to 52, 52 or more; the unit must be weeks). Customers of a
// group share the model's systematic errors (the lapsed over-predicted
// when dropout is not BG/NBD's, say).
func ErrorGroup(c RFM) int {
	f := 3
	switch {
	case c.X == 0:
		f = 0
	case c.X == 1:
		f = 1
	case c.X <= 4:
		f = 2
	}
	r := 3
	switch since := c.T - c.TX; {
	case since < 13:
		r = 0
	case since < 26:
		r = 1
	case since < 52:
		r = 2
	}
	return 4*f + r
}
