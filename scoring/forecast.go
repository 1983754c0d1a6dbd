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
	// SpendModel indexes ForecastModels.Spends: the Gamma-Gamma fit the
	// group's customers are predicted by (0 when there is one).
	SpendModel int
	// SpendExtra is how many purchases beyond the X repeat purchases the
	// spend evidence covers: 0 under Gamma-Gamma as published (the repeat
	// purchases alone), 1 when the first purchase's value counts too.
	SpendExtra float64
	// ZBarSum is the sum, over the group's customers, of their mean spend
	// over the X + SpendExtra purchases of the evidence (0 for a customer
	// without any). Gamma-Gamma's expected spend is linear in z̄, so the
	// group's expected spend needs only this sum.
	ZBarSum float64
	// ZBarSqSum is the sum of the squares of those means: the predictive
	// variance of a customer's spend is quadratic in z̄.
	ZBarSqSum float64
}

// spendN is the number of purchases the group's spend evidence covers.
func (g ForecastGroup) spendN() float64 { return g.X + g.SpendExtra }

// GroupForecast merges the groups of the same segment, spend model and
// history (purchase and spend evidence), adding
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
		if a.SpendModel != b.SpendModel {
			return a.SpendModel - b.SpendModel
		}
		if c := cmpRFM(a.RFM, b.RFM); c != 0 {
			return c
		}
		return cmpFloat(a.SpendExtra, b.SpendExtra)
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

// SpendFit is a fitted spend model with the asymptotic covariance of its
// parameters (FitResult.Cov; nil when unknown).
type SpendFit struct {
	Model GammaGamma
	Cov   [][]float64
}

// ForecastModels are the fitted models a forecast uses, each with the
// asymptotic covariance of its parameters (FitResult.Cov).
type ForecastModels struct {
	// Purchase is the purchase model: BGNBD, MBGNBD or ParetoNBD.
	Purchase    DropoutModel
	PurchaseCov [][]float64
	// Spends are the spend models the groups' SpendModel index, each with
	// the covariance of its parameters; their fits are taken as
	// independent of each other (fitted on different customers, or one
	// alone). None leaves Spend and SpendSD NaN.
	Spends []SpendFit
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
		// Σ_customers E[Z|n, z̄] = p(γ w + n Σz̄)/(pn + q - 1), n the
		// purchases of the evidence.
		// +Inf when the posterior mean does not exist (pn + q <= 1: the
		// one-time buyers of a fit with q <= 1), as MeanSpend.
		n := g.spendN()
		d := gg.P*n + gg.Q - 1
		if !(d > 0) {
			return math.Inf(1)
		}
		return gg.P * (gg.Gamma*weightOf(g.Weight) + n*g.ZBarSum) / d
	}
	hasSpend := len(m.Spends) > 0
	spendOf := func(models []GammaGamma, g ForecastGroup) GammaGamma {
		return models[min(max(g.SpendModel, 0), len(models)-1)]
	}
	baseSpend := make([]GammaGamma, len(m.Spends))
	for k, f := range m.Spends {
		baseSpend[k] = f.Model
	}
	ey := make([]float64, len(groups))
	totals := func(bg DropoutModel, keep bool) []float64 {
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
				var gg GammaGamma
				if hasSpend {
					gg = spendOf(baseSpend, g)
					sp = e * spendFactor(gg, g)
				}
				var vn, va, vs float64
				if keep {
					vn = pr.ConditionalPurchaseVariance(t, g.X, g.TX, g.T)
					va = w * a * (1 - a)
					if hasSpend {
						// Σ_customers (γ + n z̄)², times the factor all share.
						n := g.spendN()
						g2 := w*gg.Gamma*gg.Gamma + 2*gg.Gamma*n*g.ZBarSum + n*n*g.ZBarSqSum
						vs = g2 * gg.spendVarianceFactor(n, e, vn)
						if math.IsInf(vs, 1) && m.SpendMeanSq > 0 {
							vs = w * spendVarianceFromMoments(gg.P, spendFactor(gg, g)/w, m.SpendMeanSq, e, vn)
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
	spendTotals := func(models []GammaGamma) []float64 {
		return chunkReduce(len(groups), ns+1, func(lo, hi int, acc []float64) {
			for i := lo; i < hi; i++ {
				sp := ey[i] * spendFactor(spendOf(models, groups[i]), groups[i])
				acc[segIdx[i]] += sp
				acc[ns] += sp
			}
		})
	}

	base := totals(m.Purchase, true)
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
		plus := totals(shift(forecastStep), false)
		dBG[i] = make([]float64, len(base))
		for v := range base {
			dBG[i][v] = (plus[v] - base[v]) / forecastStep
		}
	}
	varBG := variance(bgParams, m.PurchaseCov, dBG, len(base))

	// Each spend model's parameters move its own groups' spend alone; the
	// models' fits are independent, so their variances add.
	varGG := make([]float64, ns+1)
	for k, f := range m.Spends {
		ggParams := []float64{f.Model.P, f.Model.Q, f.Model.Gamma}
		dGG := make([][]float64, len(ggParams))
		for i := range ggParams {
			shifted := slices.Clone(baseSpend)
			p := slices.Clone(ggParams)
			p[i] *= math.Exp(forecastStep)
			shifted[k] = GammaGamma{P: p[0], Q: p[1], Gamma: p[2]}
			plus := spendTotals(shifted)
			dGG[i] = make([]float64, ns+1)
			for v := range dGG[i] {
				dGG[i][v] = (plus[v] - base[at(v, 3)]) / forecastStep
			}
		}
		for v, x := range variance(ggParams, f.Cov, dGG, ns+1) {
			varGG[v] += x
		}
	}

	read := func(s int) Forecast {
		f := Forecast{
			Customers: base[at(s, 0)], Purchases: base[at(s, 1)], Active: base[at(s, 2)], Spend: base[at(s, 3)],
			PurchasesSD: math.Sqrt(varBG[at(s, 1)]), ActiveSD: math.Sqrt(varBG[at(s, 2)]),
			SpendSD:           math.Sqrt(varBG[at(s, 3)] + varGG[s]),
			PurchasesChanceSD: math.Sqrt(base[at(s, 4)]), ActiveChanceSD: math.Sqrt(base[at(s, 5)]),
			SpendChanceSD: math.Sqrt(base[at(s, 6)]),
		}
		// No spend forecast without a spend model, nor when a customer's
		// expected spend does not exist (a Gamma-Gamma fit with q <= 1 has
		// no mean spend to give a one-time buyer): an infinite total is no
		// figure, and a sum over the others would understate it.
		if !hasSpend || math.IsInf(f.Spend, 0) || math.IsNaN(f.Spend) {
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
