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
	})
}

// Forecast is a segment's expected totals over a forecast horizon, with
// the standard deviation of each total that comes from the uncertainty of
// the fitted parameters (not from the randomness of the purchases
// themselves).
type Forecast struct {
	Customers float64 // customers forecast (the sum of the groups' weights)
	Purchases float64 // expected purchases in the horizon
	Active    float64 // expected customers with at least one purchase
	Spend     float64 // expected spend: purchases times expected spend per purchase
	// The standard deviations; NaN when a model's covariance is unknown.
	PurchasesSD, ActiveSD, SpendSD float64
}

// ForecastModels are the fitted models a forecast uses, each with the
// asymptotic covariance of its parameters (FitResult.Cov).
type ForecastModels struct {
	// Purchase is the purchase model, BGNBD or MBGNBD.
	Purchase    DropoutModel
	PurchaseCov [][]float64
	// Spend, when nil, leaves Spend and SpendSD NaN.
	Spend    *GammaGamma
	SpendCov [][]float64
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
	// customers, purchases, active and spend.
	const width = 4
	at := func(s, k int) int { return s*width + k }
	spendFactor := func(gg GammaGamma, g ForecastGroup) float64 {
		// Σ_customers E[Z|x, z̄] = p(γ w + x Σz̄)/(px + q - 1).
		return gg.P * (gg.Gamma*weightOf(g.Weight) + g.X*g.ZBarSum) / (gg.P*g.X + gg.Q - 1)
	}
	ey := make([]float64, len(groups))
	totals := func(bg DropoutModel, gg *GammaGamma, keep bool) []float64 {
		return chunkReduce(len(groups), (ns+1)*width, func(lo, hi int, acc []float64) {
			for i := lo; i < hi; i++ {
				g := groups[i]
				w := weightOf(g.Weight)
				e := bg.ConditionalExpectedPurchases(t, g.X, g.TX, g.T)
				if keep {
					ey[i] = e
				}
				a := bg.ConditionalProbPurchase(t, g.X, g.TX, g.T)
				sp := math.NaN()
				if gg != nil {
					sp = e * spendFactor(*gg, g)
				}
				for _, s := range []int{segIdx[i], ns} {
					acc[at(s, 0)] += w
					acc[at(s, 1)] += e * w
					acc[at(s, 2)] += a * w
					acc[at(s, 3)] += sp
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
			SpendSD: math.Sqrt(varBG[at(s, 3)] + varGG[s]),
		}
		if m.Spend == nil {
			f.Spend, f.SpendSD = math.NaN(), math.NaN()
		}
		return f
	}
	perSegment = make([]Forecast, ns)
	for s := range perSegment {
		perSegment[s] = read(s)
	}
	return segments, perSegment, read(ns)
}
