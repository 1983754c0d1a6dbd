package scoring

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma is the Gamma-Gamma model of monetary value (Fader, Hardie & Lee
// 2005, "RFM and CLV: using iso-value curves for customer base analysis",
// Journal of Marketing Research 42(4); Fader & Hardie 2013, "The Gamma-Gamma
// model of monetary value"). A customer's transaction values are i.i.d.
// Gamma(shape P, rate ν), and ν ~ Gamma(shape Q, rate Gamma) across
// customers, independent of the purchase process. Values are in the
// currency of the data (Gamma is in that currency; P and Q have no unit).
type GammaGamma struct {
	P, Q, Gamma float64
}

// spendGroups is a validated, grouped Gamma-Gamma input of repeat buyers.
type spendGroups struct {
	x, z, w []float64 // x, zbar, weight per group
	logz    []float64
	xi      []int32
	xs, xw  []float64 // distinct x and their total weight
	logxs   []float64
	n       float64
	sumWZ   float64
}

func prepareSpend(rows []Spend) (*spendGroups, error) {
	if len(rows) == 0 {
		return nil, ErrNoData
	}
	var repeat []Spend
	for i, r := range rows {
		switch {
		case !(r.X >= 0) || math.IsInf(r.X, 0) || r.X != math.Floor(r.X):
			return nil, fmt.Errorf("%w: row %d: x=%v must be a non-negative integer", ErrInvalidInput, i, r.X)
		case !validWeight(r.Weight):
			return nil, fmt.Errorf("%w: row %d: weight %v", ErrInvalidInput, i, r.Weight)
		case r.X == 0:
			continue
		case !(r.ZBar > 0) || math.IsInf(r.ZBar, 0):
			return nil, fmt.Errorf("%w: row %d: mean spend %v must be positive and finite", ErrInvalidInput, i, r.ZBar)
		}
		repeat = append(repeat, r)
	}
	if len(repeat) == 0 {
		return nil, fmt.Errorf("%w: no repeat buyers", ErrNoData)
	}
	grouped := GroupSpend(repeat)
	g := &spendGroups{
		x: make([]float64, len(grouped)), z: make([]float64, len(grouped)),
		w: make([]float64, len(grouped)), logz: make([]float64, len(grouped)),
		xi: make([]int32, len(grouped)),
	}
	for i, r := range grouped {
		g.x[i], g.z[i], g.w[i], g.logz[i] = r.X, r.ZBar, r.Weight, math.Log(r.ZBar)
		if len(g.xs) == 0 || g.xs[len(g.xs)-1] != r.X {
			g.xs = append(g.xs, r.X)
			g.xw = append(g.xw, 0)
			g.logxs = append(g.logxs, math.Log(r.X))
		}
		k := len(g.xs) - 1
		g.xi[i] = int32(k)
		g.xw[k] += r.Weight
		g.n += r.Weight
		g.sumWZ += r.Weight * r.ZBar
	}
	return g, nil
}

// logLik returns the log-likelihood of the mean spends (Fader & Hardie
// 2013, the density of z̄ given x):
//
//	f(z̄|x) = Γ(px+q)/(Γ(px)Γ(q)) · γ^q x^(px) z̄^(px-1) / (γ + x z̄)^(px+q),
//
// and, when grad is not nil, its gradient in (p, q, γ).
func (m GammaGamma) logLik(g *spendGroups, grad []float64) float64 {
	p, q, gam := m.P, m.Q, m.Gamma
	if !(p > 0 && q > 0 && gam > 0) {
		return math.NaN()
	}
	lgQ, _ := math.Lgamma(q)
	psiQ := mathext.Digamma(q)
	logG := math.Log(gam)
	var ll, dp, dq, dg float64
	for k, x := range g.xs {
		w := g.xw[k]
		px := p * x
		l1, _ := math.Lgamma(px + q)
		l2, _ := math.Lgamma(px)
		ll += w * (l1 - l2 - lgQ + q*logG + px*g.logxs[k])
		if grad != nil {
			d := mathext.Digamma(px + q)
			dp += w * x * (d - mathext.Digamma(px) + g.logxs[k])
			dq += w * (d - psiQ + logG)
			dg += w * q / gam
		}
	}
	s := chunkReduce(len(g.x), 4, func(lo, hi int, acc []float64) {
		var l, a, b, c float64
		for i := lo; i < hi; i++ {
			w, x := g.w[i], g.x[i]
			px := p * x
			den := gam + x*g.z[i]
			ld := math.Log(den)
			l += w * ((px-1)*g.logz[i] - (px+q)*ld)
			a += w * x * (g.logz[i] - ld)
			b -= w * ld
			c -= w * (px + q) / den
		}
		acc[0], acc[1], acc[2], acc[3] = l, a, b, c
	})
	if grad != nil {
		grad[0] = dp + s[1]
		grad[1] = dq + s[2]
		grad[2] = dg + s[3]
	}
	return ll + s[0]
}

// LogLik returns the weighted Gamma-Gamma log-likelihood of the repeat
// buyers among rows (rows with X = 0 are ignored).
func (m GammaGamma) LogLik(rows []Spend) (float64, error) {
	g, err := prepareSpend(rows)
	if err != nil {
		return math.NaN(), err
	}
	return m.logLik(g, nil), nil
}

// FitGammaGamma fits the Gamma-Gamma model by maximum likelihood to the
// repeat buyers among rows: each row gives the number x of repeat purchases
// and their mean value z̄; rows with x = 0 carry no information on spend and
// are skipped (Fader & Hardie 2013). Rows are grouped on (x, z̄). It returns
// ErrNoData when there is no repeat buyer, ErrInvalidInput for a
// non-positive mean spend, ErrDegenerate when a parameter runs off to the
// boundary (e.g. every buyer has the same mean spend), and ErrNotConverged
// when no starting point converged.
func FitGammaGamma(rows []Spend) (GammaGamma, FitResult, error) {
	g, err := prepareSpend(rows)
	if err != nil {
		return GammaGamma{}, FitResult{}, err
	}
	mean := g.sumWZ / g.n
	// Starting points with the population mean spend pγ/(q-1) at the
	// sample mean.
	start := func(p, q float64) []float64 { return []float64{p, q, mean * (q - 1) / p} }
	prob := &mleProblem{
		names:  []string{"p", "q", "gamma"},
		shapes: [][]int{{0}, {1}},
		n:      g.n,
		groups: len(g.x),
		logLik: func(p, grad []float64) float64 {
			return GammaGamma{p[0], p[1], p[2]}.logLik(g, grad)
		},
		analytic: true,
		starts:   [][]float64{start(2, 3), start(6, 4), start(1, 1.5), start(20, 10)},
	}
	p, res, err := fitMLE(prob)
	if p == nil {
		return GammaGamma{}, res, err
	}
	return GammaGamma{p[0], p[1], p[2]}, res, err
}

// MeanSpend returns the population mean transaction value pγ/(q-1), +Inf
// when q <= 1.
func (m GammaGamma) MeanSpend() float64 {
	if m.Q <= 1 {
		return math.Inf(1)
	}
	return m.P * m.Gamma / (m.Q - 1)
}

// ConditionalExpectedSpend returns E[Z | x, z̄], the expected value of a
// future transaction of a customer whose x repeat purchases averaged z̄
// (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013):
//
//	E[Z|x,z̄] = p(γ + x z̄)/(px + q - 1),
//
// a weighted mean of the population mean pγ/(q-1) and z̄. For x = 0 it is
// the population mean (MeanSpend).
func (m GammaGamma) ConditionalExpectedSpend(x, zbar float64) float64 {
	if x <= 0 {
		return m.MeanSpend()
	}
	return m.ExpectedSpendGiven(x, x*zbar)
}

// ExpectedSpendGiven returns the expected value of a future transaction of
// a customer whose n transactions, of the kind the model describes, summed
// to total: ν's posterior is Gamma(pn+q, γ+total), so
//
//	E[Z|n, total] = p(γ + total)/(pn + q - 1).
//
// ConditionalExpectedSpend is the case of the x repeat purchases; a spend
// model that takes the first purchase as evidence too passes x+1 and the
// sum of all the customer's purchases. For n <= 0 it is MeanSpend. The
// posterior mean exists only when pn + q > 1: +Inf otherwise, as MeanSpend
// for q <= 1 (the formula's negative value is no spend).
func (m GammaGamma) ExpectedSpendGiven(n, total float64) float64 {
	if n <= 0 {
		return m.MeanSpend()
	}
	d := m.P*n + m.Q - 1
	if !(d > 0) {
		return math.Inf(1)
	}
	return m.P * (m.Gamma + total) / d
}
