package scoring

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
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

// partsFrom returns, for one history, the logs of the two terms of the
// Pareto/NBD likelihood bracket (Fader & Hardie 2005):
//
//	la = -(r+x) log(α+T) - s log(β+T)                      (alive at T)
//	ld = log(s/(r+s+x)) + log A0                            (died in (t_x, T])
//
// with, for α >= β (k = α, c = s+1) or α < β (k = β, c = r+x),
//
//	A0 = 2F1(r+s+x, c; r+s+x+1; |α-β|/(k+t_x)) / (k+t_x)^(r+s+x)
//	   - 2F1(r+s+x, c; r+s+x+1; |α-β|/(k+T)) / (k+T)^(r+s+x),
//
// A0's two terms, in logs, from tail: m.tail, or a Predictor's copy of its
// values. The likelihood is Γ(r+x)α^r β^s/Γ(r) · (e^la + e^ld).
func (m ParetoNBD) partsFrom(tail func(x, u float64) float64, x, tx, T float64) (la, ld float64) {
	return m.logAliveTerm(x, T), paretoDead(math.Log(m.S/(m.R+m.S+x)), tail(x, tx), tail(x, T))
}

// logAliveTerm is la of partsFrom.
func (m ParetoNBD) logAliveTerm(x, T float64) float64 {
	return -(m.R+x)*math.Log(m.Alpha+T) - m.S*math.Log(m.Beta+T)
}

// branch returns k, c, d = |α-β| and lo = min(α, β) of A0 for a customer
// with x repeat purchases (see partsFrom): the form whose hypergeometric
// argument d/(k+t) lies in [0, 1).
func (m ParetoNBD) branch(x float64) (k, c, d, lo float64) {
	k, c, lo = m.Alpha, m.S+1, m.Beta
	if m.Alpha < m.Beta {
		k, c, lo = m.Beta, m.R+x, m.Alpha
	}
	return k, c, math.Abs(m.Alpha - m.Beta), lo
}

// paretoTail returns the log of one of A0's two terms,
// 2F1(a1, c; a1+1; d/(k+u)) / (k+u)^a1, at u = t_x or T. One minus the
// argument is (lo+u)/(k+u): when α and β are far apart it is small, and
// computed so it keeps its digits.
func paretoTail(a1, c, k, d, lo, u float64) float64 {
	return log2F1IncBetaEps(a1, c, d/(k+u), (lo+u)/(k+u)) - a1*math.Log(k+u)
}

// paretoDead returns ld of partsFrom from log(s/(r+s+x)) and A0's terms
// at t_x (l1) and T (l2).
func paretoDead(logSA, l1, l2 float64) float64 {
	if !(l1 > l2) {
		return math.Inf(-1) // t_x = T: no time to have died unseen
	}
	return logSA + l1 + math.Log(-math.Expm1(l2-l1))
}

// paretoGroups are rfmGroups with the distinct (x, T) and (x, t_x) pairs
// of their histories: A0's term at T depends on the pair (x, T) alone, its
// term at t_x on (x, t_x), and a customer base has far fewer of either
// than of histories, so each is evaluated once per pair. The likelihood
// is the same function of the same arguments as partsFrom's, bit for bit.
type paretoGroups struct {
	*rfmGroups
	// xT are the (x, T) pairs with the index of each group's; xU the
	// (x, t_x) pairs likewise. A pair is the index of its x among the
	// distinct frequencies and its time.
	xT, xU       []paretoPair
	xTIdx, xUIdx []int32
}

type paretoPair struct {
	xi   int32
	time float64
}

func newParetoGroups(g *rfmGroups) *paretoGroups {
	pg := &paretoGroups{rfmGroups: g, xTIdx: make([]int32, len(g.x)), xUIdx: make([]int32, len(g.x))}
	index := func(pairs *[]paretoPair, seen map[paretoPair]int32, p paretoPair) int32 {
		j, ok := seen[p]
		if !ok {
			j = int32(len(*pairs))
			seen[p] = j
			*pairs = append(*pairs, p)
		}
		return j
	}
	seenT, seenU := map[paretoPair]int32{}, map[paretoPair]int32{}
	for i := range g.x {
		pg.xTIdx[i] = index(&pg.xT, seenT, paretoPair{g.xi[i], g.T[i]})
		pg.xUIdx[i] = index(&pg.xU, seenU, paretoPair{g.xi[i], g.tx[i]})
	}
	return pg
}

// logLik returns the weighted Pareto/NBD log-likelihood over the groups
// and, when grad is not nil, its gradient in (r, α, s, β).
//
// The gradient is analytic but for A0's two terms, whose derivatives in the
// parameters have no closed form (that in r integrates a logarithm): those
// are central differences, taken once per (x, T) and (x, t_x) pair rather
// than of the whole likelihood. With L = C·(e^la + e^ld), e^ld =
// (s/(r+s+x))·(e^l1 - e^l2) and lse = log(e^la + e^ld), a customer's
//
//	d lse = P_a dla + P_1 dl1 - P_2 dl2 + (P_1 - P_2) d log(s/(r+s+x)),
//
// P_a = e^(la-lse), P_i = (s/(r+s+x)) e^(l_i-lse): the derivatives of
// A0's terms enter weighted by their own share of the likelihood, so a
// customer who is almost surely alive takes next to nothing from them.
func (m ParetoNBD) logLik(g *paretoGroups, grad []float64) float64 {
	r, al, s, be := m.R, m.Alpha, m.S, m.Beta
	if !(r > 0 && al > 0 && s > 0 && be > 0) {
		return math.NaN()
	}
	lgR, _ := math.Lgamma(r)
	nx := len(g.xs)
	a1, c, logSA := make([]float64, nx), make([]float64, nx), make([]float64, nx)
	var k, d, kLo float64
	var ll float64
	var dC [4]float64
	psiR := mathext.Digamma(r)
	for j, x := range g.xs {
		l1, _ := math.Lgamma(r + x)
		ll += g.xw[j] * (l1 - lgR + r*math.Log(al) + s*math.Log(be))
		a1[j] = r + s + x
		k, c[j], d, kLo = m.branch(x)
		logSA[j] = math.Log(s / a1[j])
		if grad != nil {
			w := g.xw[j]
			dC[0] += w * (mathext.Digamma(r+x) - psiR + math.Log(al))
			dC[1] += w * r / al
			dC[2] += w * math.Log(be)
			dC[3] += w * s / be
		}
	}
	// A0's terms and the alive term, once per pair; each element is
	// computed alone, so the chunks' order does not matter.
	la, lT, lU := make([]float64, len(g.xT)), make([]float64, len(g.xT)), make([]float64, len(g.xU))
	var dla, dlT, dlU [][4]float64
	var shifted [4][2]ParetoNBD
	if grad != nil {
		dla, dlT, dlU = make([][4]float64, len(g.xT)), make([][4]float64, len(g.xT)), make([][4]float64, len(g.xU))
		p := m.Params()
		for i := range p {
			for k, h := range []float64{mleFDStep, -mleFDStep} {
				q := slices.Clone(p)
				q[i] *= math.Exp(h)
				shifted[i][k] = ParetoNBD{q[0], q[1], q[2], q[3]}
			}
		}
	}
	// tailGrad is the derivative of A0's term at u in each parameter, by
	// central differences in its logarithm.
	tailGrad := func(x, u float64) (dl [4]float64) {
		for i, pi := range []float64{r, al, s, be} {
			dl[i] = (shifted[i][0].tail(x, u) - shifted[i][1].tail(x, u)) / (2 * mleFDStep * pi)
		}
		return dl
	}
	chunkReduce(len(g.xT), 0, func(lo, hi int, _ []float64) {
		for p := lo; p < hi; p++ {
			xi, T := g.xT[p].xi, g.xT[p].time
			x := g.xs[xi]
			la[p] = m.logAliveTerm(x, T)
			lT[p] = paretoTail(a1[xi], c[xi], k, d, kLo, T)
			if grad != nil {
				dla[p] = [4]float64{-math.Log(al + T), -(r + x) / (al + T), -math.Log(be + T), -s / (be + T)}
				dlT[p] = tailGrad(x, T)
			}
		}
	})
	chunkReduce(len(g.xU), 0, func(lo, hi int, _ []float64) {
		for p := lo; p < hi; p++ {
			xi, u := g.xU[p].xi, g.xU[p].time
			lU[p] = paretoTail(a1[xi], c[xi], k, d, kLo, u)
			if grad != nil {
				dlU[p] = tailGrad(g.xs[xi], u)
			}
		}
	})
	width := 1
	if grad != nil {
		width = 5
	}
	sum := chunkReduce(len(g.x), width, func(lo, hi int, acc []float64) {
		var l float64
		var dl [4]float64
		for i := lo; i < hi; i++ {
			pT, pU, xi := g.xTIdx[i], g.xUIdx[i], g.xi[i]
			ld := paretoDead(logSA[xi], lU[pU], lT[pT])
			lse := logSumExp2(la[pT], ld)
			l += g.w[i] * lse
			if grad == nil {
				continue
			}
			w := g.w[i]
			pa := math.Exp(la[pT] - lse)
			for j := range dl {
				dl[j] += w * pa * dla[pT][j]
			}
			if math.IsInf(ld, -1) {
				continue
			}
			p1 := math.Exp(logSA[xi] + lU[pU] - lse)
			p2 := p1 * math.Exp(lT[pT]-lU[pU])
			dead := 1 - pa // P_1 - P_2
			inv := 1 / a1[xi]
			dlogSA := [4]float64{-inv, 0, 1/s - inv, 0}
			for j := range dl {
				dl[j] += w * (p1*dlU[pU][j] - p2*dlT[pT][j] + dead*dlogSA[j])
			}
		}
		acc[0] = l
		if grad != nil {
			copy(acc[1:], dl[:])
		}
	})
	if grad != nil {
		for j := range 4 {
			grad[j] = dC[j] + sum[1+j]
		}
	}
	return ll + sum[0]
}

// tail returns A0's term at u of a customer with x repeat purchases
// (paretoTail), the branch chosen for the model's own α and β.
func (m ParetoNBD) tail(x, u float64) float64 {
	k, c, d, lo := m.branch(x)
	return paretoTail(m.R+m.S+x, c, k, d, lo, u)
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
	return m.logLik(newParetoGroups(g), nil), nil
}

// FitParetoNBD fits the Pareto/NBD model by maximum likelihood (Fader &
// Hardie 2005) to customer summaries in one time unit of the caller's
// choice, with the gradient of logLik. Errors are as for FitBGNBD.
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
	pg := newParetoGroups(g)
	prob := &mleProblem{
		names:  []string{"r", "alpha", "s", "beta"},
		shapes: [][]int{{0}, {2}},
		n:      g.n,
		groups: len(g.x),
		logLik: func(p, grad []float64) float64 {
			return ParetoNBD{p[0], p[1], p[2], p[3]}.logLik(pg, grad)
		},
		analytic: true,
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
	return m.pAliveFrom(m.tail, x, tx, T)
}

// pAliveFrom is PAlive with A0's terms from tail (see partsFrom).
func (m ParetoNBD) pAliveFrom(tail func(x, u float64) float64, x, tx, T float64) float64 {
	la, ld := m.partsFrom(tail, x, tx, T)
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
	return m.alive(0, 0).expectedPurchases(t)
}

// ConditionalExpectedPurchases returns E[Y(t) | x, t_x, T], the expected
// number of purchases in (T, T+t] (Fader & Hardie 2005):
//
//	E[Y(t)|·] = (r+x)(β+T)/((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^(s-1)] · P(alive),
//
// P(alive) times E[X(t)] of a customer alive at T, whose purchase rate has
// the posterior Gamma(r+x, α+T) and dropout rate the posterior
// Gamma(s, β+T) (see alive).
func (m ParetoNBD) ConditionalExpectedPurchases(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	return m.PAlive(x, tx, T) * m.alive(x, T).expectedPurchases(t)
}

// ConditionalProbPurchase returns the probability that a customer with
// history (x, t_x, T) makes at least one purchase in (T, T+t]. Having made
// no purchase in (T, T+t] is having the history (x, t_x, T+t), so
//
//	P = 1 - L(x, t_x, T+t) / L(x, t_x, T),
//
// with L the likelihood of partsFrom (Fader & Hardie 2005); the
// constant Γ(r+x)α^r β^s/Γ(r) cancels. It equals P(alive) times the
// probability that a customer alive at T, with the posterior rates, buys
// before dropping out and within t.
func (m ParetoNBD) ConditionalProbPurchase(t, x, tx, T float64) float64 {
	return m.probPurchaseFrom(m.tail, t, x, tx, T)
}

// probPurchaseFrom is ConditionalProbPurchase with A0's terms from tail
// (see partsFrom).
func (m ParetoNBD) probPurchaseFrom(tail func(x, u float64) float64, t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	return -math.Expm1(logSumExp2(m.partsFrom(tail, x, tx, T+t)) - logSumExp2(m.partsFrom(tail, x, tx, T)))
}

// ConditionalPurchaseVariance returns Var[Y(t) | x, t_x, T] under
// Pareto/NBD: the customer is alive at T with probability π = PAlive, and
// then buys as a new customer of the posterior model (see alive), so
// E[Y^k] = π E[X(t)^k] with the moments of aliveParetoNBD.moments.
func (m ParetoNBD) ConditionalPurchaseVariance(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	m1, m2 := m.alive(x, T).moments(t)
	return conditionalPurchaseVariance(m.PAlive(x, tx, T), m1, m2)
}

// alive returns the customer alive at T after x repeat purchases: given
// that, the purchase rate λ and the dropout rate μ are independent with the
// posteriors Gamma(r+x, α+T) and Gamma(s, β+T) (the likelihood of the
// history of an alive customer is λ^x e^(-λT) e^(-μT)), and the lifetime
// being exponential, what remains of it at T is as a new customer's.
func (m ParetoNBD) alive(x, T float64) aliveParetoNBD {
	return aliveParetoNBD{m.R + x, m.Alpha + T, m.S, m.Beta + T}
}

// posterior returns alive(x, T) as a DropoutModel's alive customer.
func (m ParetoNBD) posterior(x, T float64) aliveCustomer { return m.alive(x, T) }

// Params returns (r, α, s, β), the order of FitResult.Names.
func (m ParetoNBD) Params() []float64 { return []float64{m.R, m.Alpha, m.S, m.Beta} }

// WithParams returns the model with the parameters p, in the order of
// Params.
func (m ParetoNBD) WithParams(p []float64) DropoutModel { return ParetoNBD{p[0], p[1], p[2], p[3]} }

// aliveParetoNBD is a Pareto/NBD customer alive at time 0, with purchase
// rate λ ~ Gamma(r, α) and dropout rate μ ~ Gamma(s, β): the customer buys
// at the times of a Poisson process of rate λ until an exponential lifetime
// τ of rate μ ends.
type aliveParetoNBD struct{ r, alpha, s, beta float64 }

// expectedPurchases returns E[X(t)] = E[λ] E[min(τ, t)], with
// E[min(τ, t)] = ∫₀ᵗ P(τ > u) du = ∫₀ᵗ (β/(β+u))^s du = β/(s-1) · [1 - (β/(β+t))^(s-1)].
func (p aliveParetoNBD) expectedPurchases(t float64) float64 {
	if t <= 0 {
		return 0
	}
	return p.r * p.beta / p.alpha * powerIntegral(p.s, math.Log(p.beta/(p.beta+t)))
}

// moments returns E[X(t)] and E[X(t)²]. Given λ and τ, X(t) is Poisson
// with mean λ M, M = min(τ, t), so E[X²] = E[λ] E[M] + E[λ²] E[M²] with
// E[λ] = r/α, E[λ²] = r(r+1)/α² and
//
//	E[M²] = ∫₀ᵗ 2u P(τ > u) du = 2∫₀ᵗ u (β/(β+u))^s du = 2β² [I(s-1) - I(s)],
//
// I(s) = powerIntegral(s, log(β/(β+t))) = β⁻¹ ∫₀ᵗ (β/(β+u))^s du.
func (p aliveParetoNBD) moments(t float64) (m1, m2 float64) {
	if t <= 0 {
		return 0, 0
	}
	lu := math.Log(p.beta / (p.beta + t))
	i1 := powerIntegral(p.s, lu)
	m1 = p.r * p.beta / p.alpha * i1
	em2 := 2 * p.beta * p.beta * (powerIntegral(p.s-1, lu) - i1)
	return m1, m1 + p.r*(p.r+1)/(p.alpha*p.alpha)*em2
}
