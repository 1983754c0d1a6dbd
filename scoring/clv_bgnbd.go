package scoring

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// BGNBD is the beta-geometric/negative-binomial model of Fader, Hardie & Lee
// (2005), "Counting your customers the easy way: an alternative to the
// Pareto/NBD model", Marketing Science 24(2), 275-284. While active, a
// customer buys at Poisson rate λ per time unit, λ ~ Gamma(shape R, rate
// Alpha) across customers; after every purchase the customer drops out with
// probability p, p ~ Beta(A, B). Alpha is in the time unit of the data the
// model was fitted on (weeks for the CDNOW benchmark); so are all t, tx and
// T arguments of its methods.
type BGNBD struct {
	R, Alpha, A, B float64
}

// rfmGroups is a validated, grouped RFM summary laid out for the
// likelihood loops: per group x, t_x, T and weight, and the index of the
// group's x among the distinct frequencies, whose gamma-function terms are
// computed once per evaluation.
type rfmGroups struct {
	x, tx, T, w []float64
	xi          []int32
	xs, xw      []float64 // distinct frequencies and their total weight
	// ts and us are the distinct values of T and of t_x, tIdx and uIdx
	// each group's index into them: with times at a resolution such as
	// days there are few, and logs of α+T and α+t_x are taken once each.
	ts, us     []float64
	tIdx, uIdx []int32
	n          float64
	sumWX      float64
	sumWT      float64
}

func prepareRFM(rows []RFM) (*rfmGroups, error) {
	if len(rows) == 0 {
		return nil, ErrNoData
	}
	for i, r := range rows {
		if err := checkRFM(i, r); err != nil {
			return nil, err
		}
	}
	grouped := GroupRFM(rows)
	g := &rfmGroups{
		x: make([]float64, len(grouped)), tx: make([]float64, len(grouped)),
		T: make([]float64, len(grouped)), w: make([]float64, len(grouped)),
		xi: make([]int32, len(grouped)),
	}
	for i, r := range grouped {
		g.x[i], g.tx[i], g.T[i], g.w[i] = r.X, r.TX, r.T, r.Weight
		if len(g.xs) == 0 || g.xs[len(g.xs)-1] != r.X {
			g.xs = append(g.xs, r.X)
			g.xw = append(g.xw, 0)
		}
		k := len(g.xs) - 1
		g.xi[i] = int32(k)
		g.xw[k] += r.Weight
		g.n += r.Weight
		g.sumWX += r.Weight * r.X
		g.sumWT += r.Weight * r.T
	}
	if !(g.n > 0) {
		return nil, ErrNoData
	}
	g.ts, g.tIdx = distinctIndex(g.T)
	g.us, g.uIdx = distinctIndex(g.tx)
	return g, nil
}

// distinctIndex returns the sorted distinct values of v and the index of
// each element of v among them.
func distinctIndex(v []float64) ([]float64, []int32) {
	u := slices.Clone(v)
	slices.Sort(u)
	u = slices.Compact(u)
	idx := make([]int32, len(v))
	for i, x := range v {
		j, _ := slices.BinarySearch(u, x)
		idx[i] = int32(j)
	}
	return u, idx
}

// logLik returns the BG/NBD log-likelihood over the groups (Fader, Hardie & Lee 2005,
//
//	L = Γ(r+x)α^r/Γ(r) · B(a,b+x)/B(a,b) · [(α+T)^-(r+x) + 1{x>0} a/(b+x-1) (α+t_x)^-(r+x)],
//
// in logs, the bracket by log-sum-exp) and, when grad is not nil, its
// gradient in (r, α, a, b).
func (m BGNBD) logLik(g *rfmGroups, grad []float64) float64 {
	r, alpha, a, b := m.R, m.Alpha, m.A, m.B
	if !(r > 0 && alpha > 0 && a > 0 && b > 0) {
		return math.NaN()
	}
	K := len(g.xs)
	rx := make([]float64, K)
	logc := make([]float64, K) // log a/(b+x-1)
	invb := make([]float64, K) // 1/(b+x-1)
	lgR, _ := math.Lgamma(r)
	lgAB, _ := math.Lgamma(a + b)
	lgB, _ := math.Lgamma(b)
	psiR, psiAB, psiB := mathext.Digamma(r), mathext.Digamma(a+b), mathext.Digamma(b)
	logAlpha := math.Log(alpha)
	var ll, gr, ga, gA, gB float64
	for k, x := range g.xs {
		rx[k] = r + x
		if x > 0 {
			invb[k] = 1 / (b + x - 1)
			logc[k] = math.Log(a) - math.Log(b+x-1)
		}
		l1, _ := math.Lgamma(r + x)
		l2, _ := math.Lgamma(b + x)
		l3, _ := math.Lgamma(a + b + x)
		w := g.xw[k]
		ll += w * (l1 - lgR + r*logAlpha + lgAB + l2 - lgB - l3)
		if grad != nil {
			pABx := mathext.Digamma(a + b + x)
			gr += w * (mathext.Digamma(r+x) - psiR + logAlpha)
			ga += w * r / alpha
			gA += w * (psiAB - pABx)
			gB += w * (psiAB + mathext.Digamma(b+x) - psiB - pABx)
		}
	}
	// log(α+T), 1/(α+T) and the same for t_x, once per distinct value.
	lT, iT := logsInv(alpha, g.ts)
	lU, iU := logsInv(alpha, g.us)
	s := chunkReduce(len(g.x), 5, func(lo, hi int, acc []float64) {
		var l, dr, dal, da, db float64
		for i := lo; i < hi; i++ {
			w := g.w[i]
			k := g.xi[i]
			jT := g.tIdx[i]
			if g.x[i] == 0 {
				l -= w * r * lT[jT]
				dr -= w * lT[jT]
				dal -= w * r * iT[jT]
				continue
			}
			jU := g.uIdx[i]
			u := -rx[k] * lT[jT]
			v := logc[k] - rx[k]*lU[jU]
			var lse, pi float64 // pi: share of the "dropped out at t_x" term
			if u >= v {
				e := math.Exp(v - u)
				lse = u + math.Log1p(e)
				pi = e / (1 + e)
			} else {
				e := math.Exp(u - v)
				lse = v + math.Log1p(e)
				pi = 1 / (1 + e)
			}
			l += w * lse
			dr -= w * ((1-pi)*lT[jT] + pi*lU[jU])
			dal -= w * rx[k] * ((1-pi)*iT[jT] + pi*iU[jU])
			da += w * pi
			db -= w * pi * invb[k]
		}
		acc[0], acc[1], acc[2], acc[3], acc[4] = l, dr, dal, da, db
	})
	ll += s[0]
	if grad != nil {
		grad[0] = gr + s[1]
		grad[1] = ga + s[2]
		grad[2] = gA + s[3]/a
		grad[3] = gB + s[4]
	}
	return ll
}

// logsInv returns log(a+v) and 1/(a+v) for each v in vs.
func logsInv(a float64, vs []float64) ([]float64, []float64) {
	l := make([]float64, len(vs))
	inv := make([]float64, len(vs))
	for i, v := range vs {
		l[i] = math.Log(a + v)
		inv[i] = 1 / (a + v)
	}
	return l, inv
}

// LogLik returns the weighted BG/NBD log-likelihood of the rows.
func (m BGNBD) LogLik(rows []RFM) (float64, error) {
	g, err := prepareRFM(rows)
	if err != nil {
		return math.NaN(), err
	}
	return m.logLik(g, nil), nil
}

// FitBGNBD fits the BG/NBD model by maximum likelihood (Fader, Hardie &
// Lee 2005) to customer summaries in one time unit of the caller's choice.
// Rows are grouped first (see GroupRFM), so the cost grows with the number of
// distinct histories. It returns ErrNoData for no rows, ErrDegenerate when
// no customer made a repeat purchase, ErrInvalidInput for a row out of the
// domain, and ErrNotConverged (with FitResult.Converged false) when no
// starting point converged.
func FitBGNBD(rows []RFM) (BGNBD, FitResult, error) {
	g, err := prepareRFM(rows)
	if err != nil {
		return BGNBD{}, FitResult{Converged: false}, err
	}
	if g.sumWX == 0 {
		return BGNBD{}, FitResult{N: g.n, Groups: len(g.x)}, fmt.Errorf("%w: no repeat purchases", ErrDegenerate)
	}
	rate := g.sumWX / g.sumWT // repeat purchases per time unit
	prob := &mleProblem{
		names:  []string{"r", "alpha", "a", "b"},
		n:      g.n,
		groups: len(g.x),
		logLik: func(p, grad []float64) float64 {
			return BGNBD{p[0], p[1], p[2], p[3]}.logLik(g, grad)
		},
		analytic: true,
		starts: [][]float64{
			{1, 1 / rate, 1, 1},
			{0.25, 0.25 / rate, 0.75, 2.5},
			{4, 4 / rate, 2, 0.5},
			{0.5, 0.5 / rate, 0.3, 6},
		},
	}
	p, res, err := fitMLE(prob)
	if p == nil {
		return BGNBD{}, res, err
	}
	return BGNBD{p[0], p[1], p[2], p[3]}, res, err
}

// aroundOne evaluates f at a, or, for a within 1e-6 of 1 where the BG/NBD
// expectations have a removable singularity (their prefactor 1/(a-1)),
// interpolates linearly between a = 1 ± 1e-5.
func aroundOne(a float64, f func(a float64) float64) float64 {
	const h = 1e-5
	if math.Abs(a-1) >= 1e-6 {
		return f(a)
	}
	lo, hi := f(1-h), f(1+h)
	return lo + (hi-lo)*(a-(1-h))/(2*h)
}

// ExpectedPurchases returns E[X(t)], the expected number of repeat
// purchases in (0, t] of a customer who made a first purchase at time 0
// (Fader, Hardie & Lee 2005):
//
//	E[X(t)] = (a+b-1)/(a-1) · [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))].
func (m BGNBD) ExpectedPurchases(t float64) float64 {
	if t <= 0 {
		return 0
	}
	return aroundOne(m.A, func(a float64) float64 {
		lf, sf := log2F1(m.R, m.B, a+m.B-1, t/(m.Alpha+t))
		l := m.R*math.Log(m.Alpha/(m.Alpha+t)) + lf
		return (a + m.B - 1) / (a - 1) * oneMinusExp(l, sf)
	})
}

// ConditionalExpectedPurchases returns E[Y(t) | x, t_x, T], the expected
// number of purchases in (T, T+t] of a customer with x repeat purchases, the
// last at t_x, observed for T (Fader, Hardie & Lee 2005):
//
//	E[Y(t)|·] = (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]
//	            / (1 + 1{x>0} a/(b+x-1) ((α+T)/(α+t_x))^(r+x)).
func (m BGNBD) ConditionalExpectedPurchases(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	pa := m.PAlive(x, tx, T)
	return pa * aroundOne(m.A, func(a float64) float64 {
		lf, sf := log2F1(m.R+x, m.B+x, a+m.B+x-1, t/(m.Alpha+T+t))
		l := (m.R+x)*math.Log((m.Alpha+T)/(m.Alpha+T+t)) + lf
		return (a + m.B + x - 1) / (a - 1) * oneMinusExp(l, sf)
	})
}

// PAlive returns the probability that a customer with history (x, t_x, T)
// is still active at T (Fader, Hardie & Lee 2005, and their note "Computing
// P(alive) using the BG/NBD model"):
//
//	P(alive) = 1 / (1 + 1{x>0} a/(b+x-1) ((α+T)/(α+t_x))^(r+x)).
func (m BGNBD) PAlive(x, tx, T float64) float64 {
	if x == 0 {
		return 1
	}
	l := math.Log(m.A/(m.B+x-1)) + (m.R+x)*math.Log((m.Alpha+T)/(m.Alpha+tx))
	return 1 / (1 + math.Exp(l))
}

// ProbPurchases returns P(X(t) = n), the probability of exactly n repeat
// purchases in (0, t] for a customer who made a first purchase at time 0
// (Fader, Hardie & Lee 2005). With p0 = α/(α+t):
//
//	P(X(t)=n) = B(a,b+n)/B(a,b) · Γ(r+n)/(Γ(r) n!) p0^r (1-p0)^n
//	          + 1{n>0} B(a+1,b+n-1)/B(a,b) · P(NB(r,p0) >= n),
//
// where the negative-binomial tail is the regularised incomplete beta
// function I_{1-p0}(n, r).
func (m BGNBD) ProbPurchases(n int, t float64) float64 {
	if n < 0 {
		return 0
	}
	if t <= 0 {
		if n == 0 {
			return 1
		}
		return 0
	}
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	fn := float64(n)
	lbAB := mathext.Lbeta(a, b)
	lgRn, _ := math.Lgamma(r + fn)
	lgR, _ := math.Lgamma(r)
	lgN1, _ := math.Lgamma(fn + 1)
	lp0 := math.Log(al / (al + t))
	lq0 := math.Log(t / (al + t))
	l1 := mathext.Lbeta(a, b+fn) - lbAB + lgRn - lgR - lgN1 + r*lp0
	if n > 0 {
		l1 += fn * lq0
	}
	p := math.Exp(l1)
	if n > 0 {
		p += math.Exp(mathext.Lbeta(a+1, b+fn-1)-lbAB) * mathext.RegIncBeta(fn, r, t/(al+t))
	}
	return p
}

// ConditionalProbPurchase returns the probability that a customer with
// history (x, t_x, T) makes at least one purchase in (T, T+t]: an active
// customer's rate has the posterior Gamma(r+x, α+T) and a BG/NBD customer
// can only drop out right after a purchase, so
//
//	P = P(alive) · (1 - ((α+T)/(α+T+t))^(r+x)).
//
// One minus it is the probability of no purchase in the next t.
func (m BGNBD) ConditionalProbPurchase(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	return m.PAlive(x, tx, T) * -math.Expm1((m.R+x)*math.Log((m.Alpha+T)/(m.Alpha+T+t)))
}

// oneMinusExp returns 1 - sf·e^l without cancellation when sf = 1.
func oneMinusExp(l, sf float64) float64 {
	if sf > 0 {
		return -math.Expm1(l)
	}
	return 1 + math.Exp(l)
}
