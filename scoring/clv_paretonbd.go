package scoring

import (
	"fmt"
	"math"
)

// ParetoNBD is the Pareto/NBD model of Schmittlein, Morrison & Colombo
// (1987), "Counting your customers: who are they and what will they do
// next?", Management Science 33(1), 1-24, in the form of Fader & Hardie
// (2005), "A note on deriving the Pareto/NBD model and related
// expressions". While active, a customer buys at Poisson rate λ per time
// unit, λ ~ Gamma(shape R, rate Alpha); the customer's lifetime is
// exponential with rate μ, μ ~ Gamma(shape S, rate Beta). Alpha and Beta
// are in the time unit of the data the model was fitted on; so are all t,
// tx and T arguments of its methods.
type ParetoNBD struct {
	R, Alpha, S, Beta float64
}

// paretoParts returns, for one history, the logs of the two terms of the
// Pareto/NBD likelihood bracket (Fader & Hardie 2005):
//
//	la = -(r+x) log(α+T) - s log(β+T)                      (alive at T)
//	ld = log(s/(r+s+x)) + log A0                            (died in (t_x, T])
//
// with, for α >= β (k = α, c = s+1) or α < β (k = β, c = r+x),
//
//	A0 = 2F1(r+s+x, c; r+s+x+1; |α-β|/(k+t_x)) / (k+t_x)^(r+s+x)
//	   - 2F1(r+s+x, c; r+s+x+1; |α-β|/(k+T)) / (k+T)^(r+s+x).
//
// The likelihood is Γ(r+x)α^r β^s/Γ(r) · (e^la + e^ld).
func (m ParetoNBD) paretoParts(x, tx, T float64) (la, ld float64) {
	r, al, s, be := m.R, m.Alpha, m.S, m.Beta
	la = -(r+x)*math.Log(al+T) - s*math.Log(be+T)
	a1 := r + s + x
	k, c := al, s+1
	if al < be {
		k, c = be, r+x
	}
	d := math.Abs(al - be)
	l1 := log2F1IncBeta(a1, c, d/(k+tx)) - a1*math.Log(k+tx)
	l2 := log2F1IncBeta(a1, c, d/(k+T)) - a1*math.Log(k+T)
	if !(l1 > l2) {
		return la, math.Inf(-1) // t_x = T: no time to have died unseen
	}
	ld = math.Log(s/a1) + l1 + math.Log(-math.Expm1(l2-l1))
	return la, ld
}

// logLik returns the weighted Pareto/NBD log-likelihood over the groups.
func (m ParetoNBD) logLik(g *rfmGroups) float64 {
	r, al, s, be := m.R, m.Alpha, m.S, m.Beta
	if !(r > 0 && al > 0 && s > 0 && be > 0) {
		return math.NaN()
	}
	lgR, _ := math.Lgamma(r)
	cst := make([]float64, len(g.xs))
	var ll float64
	for k, x := range g.xs {
		l1, _ := math.Lgamma(r + x)
		cst[k] = l1 - lgR + r*math.Log(al) + s*math.Log(be)
		ll += g.xw[k] * cst[k]
	}
	sum := chunkReduce(len(g.x), 1, func(lo, hi int, acc []float64) {
		var l float64
		for i := lo; i < hi; i++ {
			la, ld := m.paretoParts(g.x[i], g.tx[i], g.T[i])
			l += g.w[i] * logSumExp2(la, ld)
		}
		acc[0] = l
	})
	return ll + sum[0]
}

func logSumExp2(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// LogLik returns the weighted Pareto/NBD log-likelihood of the rows.
func (m ParetoNBD) LogLik(rows []RFM) (float64, error) {
	g, err := prepareRFM(rows)
	if err != nil {
		return math.NaN(), err
	}
	return m.logLik(g), nil
}

// FitParetoNBD fits the Pareto/NBD model by maximum likelihood (Fader &
// Hardie 2005) to customer summaries in one time unit of the caller's
// choice. The gradient is taken by central differences on the
// log-parameters. Errors are as for FitBGNBD.
func FitParetoNBD(rows []RFM) (ParetoNBD, FitResult, error) {
	g, err := prepareRFM(rows)
	if err != nil {
		return ParetoNBD{}, FitResult{}, err
	}
	if g.sumWX == 0 {
		return ParetoNBD{}, FitResult{N: g.n, Groups: len(g.x)}, fmt.Errorf("%w: no repeat purchases", ErrDegenerate)
	}
	rate := g.sumWX / g.sumWT
	meanT := g.sumWT / g.n
	prob := &mleProblem{
		names:  []string{"r", "alpha", "s", "beta"},
		shapes: [][]int{{0}, {2}},
		n:      g.n,
		groups: len(g.x),
		logLik: func(p, _ []float64) float64 {
			return ParetoNBD{p[0], p[1], p[2], p[3]}.logLik(g)
		},
		starts: [][]float64{
			{1, 1 / rate, 1, meanT},
			{0.5, 0.5 / rate, 0.5, 0.5 * meanT},
			{2, 2 / rate, 2, 2 * meanT},
			{0.25, 0.25 / rate, 1.5, 0.5 * meanT},
		},
	}
	p, res, err := fitMLE(prob)
	if p == nil {
		return ParetoNBD{}, res, err
	}
	return ParetoNBD{p[0], p[1], p[2], p[3]}, res, err
}

// PAlive returns the probability that a customer with history (x, t_x, T)
// is still active at T (Fader & Hardie 2005): the share of the
// "alive at T" term in the likelihood bracket.
func (m ParetoNBD) PAlive(x, tx, T float64) float64 {
	la, ld := m.paretoParts(x, tx, T)
	return 1 / (1 + math.Exp(ld-la))
}

// powerIntegral returns (1 - u^(s-1))/(s-1) for log u = lu, and its limit
// -lu at s = 1.
func powerIntegral(s, lu float64) float64 {
	if math.Abs(s-1) < 1e-10 {
		return -lu
	}
	return -math.Expm1((s-1)*lu) / (s - 1)
}

// ExpectedPurchases returns E[X(t)], the expected number of purchases in
// (0, t] of a customer who is new at time 0 (Schmittlein et al. 1987):
//
//	E[X(t)] = rβ/(α(s-1)) · [1 - (β/(β+t))^(s-1)].
func (m ParetoNBD) ExpectedPurchases(t float64) float64 {
	if t <= 0 {
		return 0
	}
	return m.R * m.Beta / m.Alpha * powerIntegral(m.S, math.Log(m.Beta/(m.Beta+t)))
}

// ConditionalExpectedPurchases returns E[Y(t) | x, t_x, T], the expected
// number of purchases in (T, T+t] (Fader & Hardie 2005):
//
//	E[Y(t)|·] = (r+x)(β+T)/((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^(s-1)] · P(alive).
func (m ParetoNBD) ConditionalExpectedPurchases(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	bt := m.Beta + T
	return (m.R + x) * bt / (m.Alpha + T) * powerIntegral(m.S, math.Log(bt/(bt+t))) * m.PAlive(x, tx, T)
}
