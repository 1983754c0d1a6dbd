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
	return dropoutLogLik(g, grad, m.R, m.Alpha, m.A, m.B, false)
}

// dropoutLogLik is the log-likelihood of BG/NBD (mbg false) and MBG/NBD
// (mbg true) over the groups, and when grad is not nil its gradient in
// (r, α, a, b). The two differ by one dropout chance: MBG/NBD's first
// purchase is one too, so its Beta terms have b+x+1 where BG/NBD's have
// b+x, its dropout term a/(b+x) where BG/NBD's has a/(b+x-1), and a
// one-time buyer has the dropout term too (under BG/NBD, 1{x>0}).
func dropoutLogLik(g *rfmGroups, grad []float64, r, alpha, a, b float64, mbg bool) float64 {
	if !(r > 0 && alpha > 0 && a > 0 && b > 0) {
		return math.NaN()
	}
	d := 0.0 // the extra dropout chance
	if mbg {
		d = 1
	}
	K := len(g.xs)
	rx := make([]float64, K)
	logc := make([]float64, K) // log a/(b+x-1+d)
	invb := make([]float64, K) // 1/(b+x-1+d)
	lgR, _ := math.Lgamma(r)
	lgAB, _ := math.Lgamma(a + b)
	lgB, _ := math.Lgamma(b)
	psiR, psiAB, psiB := mathext.Digamma(r), mathext.Digamma(a+b), mathext.Digamma(b)
	logAlpha, logA := math.Log(alpha), math.Log(a)
	var ll, gr, ga, gA, gB float64
	for k, x := range g.xs {
		rx[k] = r + x
		if mbg || x > 0 {
			invb[k] = 1 / (b + x + (d - 1))
			logc[k] = logA - math.Log(b+x+(d-1))
		}
		l1, _ := math.Lgamma(r + x)
		l2, _ := math.Lgamma(b + x + d)
		l3, _ := math.Lgamma(a + b + x + d)
		w := g.xw[k]
		ll += w * (l1 - lgR + r*logAlpha + lgAB + l2 - lgB - l3)
		if grad != nil {
			pABx := mathext.Digamma(a + b + x + d)
			gr += w * (mathext.Digamma(r+x) - psiR + logAlpha)
			ga += w * r / alpha
			gA += w * (psiAB - pABx)
			gB += w * (psiAB + mathext.Digamma(b+x+d) - psiB - pABx)
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
			if !mbg && g.x[i] == 0 {
				l -= w * r * lT[jT]
				dr -= w * lT[jT]
				dal -= w * r * iT[jT]
				continue
			}
			jU := g.uIdx[i]
			u := -rx[k] * lT[jT]
			v := logc[k] - rx[k]*lU[jU]
			lse, pi := logAddShare(u, v) // pi: share of the "dropped out at t_x" term
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
	return fitDropoutModel(rows, func(p []float64) BGNBD { return BGNBD{p[0], p[1], p[2], p[3]} })
}

// fitDropoutModel fits a purchase model with dropout of parameters
// (r, α, a, b) (BG/NBD, MBG/NBD), which model makes of p, by maximum
// likelihood from the same starting points. It returns the zero model when
// the rows cannot be fitted at all.
func fitDropoutModel[M interface {
	logLik(g *rfmGroups, grad []float64) float64
}](rows []RFM, model func(p []float64) M) (M, FitResult, error) {
	var none M
	g, err := prepareRFM(rows)
	if err != nil {
		return none, FitResult{Converged: false}, err
	}
	if g.sumWX == 0 {
		return none, FitResult{N: g.n, Groups: len(g.x)}, fmt.Errorf("%w: no repeat purchases", ErrDegenerate)
	}
	rate := g.sumWX / g.sumWT // repeat purchases per time unit
	p, res, err := fitMLE(&mleProblem{
		names:  []string{"r", "alpha", "a", "b"},
		shapes: [][]int{{0}, {2, 3}},
		n:      g.n,
		groups: len(g.x),
		logLik: func(p, grad []float64) float64 {
			return model(p).logLik(g, grad)
		},
		analytic: true,
		starts: [][]float64{
			{1, 1 / rate, 1, 1},
			{0.25, 0.25 / rate, 0.75, 2.5},
			{4, 4 / rate, 2, 0.5},
			{0.5, 0.5 / rate, 0.3, 6},
		},
	})
	if p == nil {
		return none, res, err
	}
	return model(p), res, err
}

// ExpectedPurchases returns E[X(t)], the expected number of repeat
// purchases in (0, t] of a customer who made a first purchase at time 0
// (Fader, Hardie & Lee 2005):
//
//	E[X(t)] = (a+b-1)/(a-1) · [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))],
//
// evaluated as aliveExpectedPurchases(r, a, b, α, t), which sums the same
// quantity as a series of positive terms.
func (m BGNBD) ExpectedPurchases(t float64) float64 {
	return aliveExpectedPurchases(m.R, m.A, m.B, m.Alpha, t)
}

// ConditionalExpectedPurchases returns E[Y(t) | x, t_x, T], the expected
// number of purchases in (T, T+t] of a customer with x repeat purchases, the
// last at t_x, observed for T (Fader, Hardie & Lee 2005):
//
//	E[Y(t)|·] = (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]
//	            / (1 + 1{x>0} a/(b+x-1) ((α+T)/(α+t_x))^(r+x)),
//
// that is P(alive) times the expected purchases of a customer alive at T,
// whose rate has the posterior Gamma(r+x, α+T) and dropout probability the
// posterior Beta(a, b+x): aliveExpectedPurchases(r+x, a, b+x, α+T, t).
func (m BGNBD) ConditionalExpectedPurchases(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	return m.PAlive(x, tx, T) * m.alive(x, T).expectedPurchases(t)
}

// alive returns the posterior Gamma(r+x, α+T) rate and Beta(a, b+x)
// dropout probability of a customer alive at T after x repeat purchases.
func (m BGNBD) alive(x, T float64) aliveBG { return aliveBG{m.R + x, m.Alpha + T, m.A, m.B + x} }

// aliveBG are the parameters (r, α, a, b) of a BG/NBD customer alive at
// time 0, with rate λ ~ Gamma(r, α) and dropout probability p ~ Beta(a, b).
type aliveBG struct{ r, alpha, a, b float64 }

// expectedPurchases returns E[X(t)] of the customer (aliveExpectedPurchases).
func (p aliveBG) expectedPurchases(t float64) float64 {
	return aliveExpectedPurchases(p.r, p.a, p.b, p.alpha, t)
}

// moments returns E[X(t)] and E[X(t)²] of the customer (bgMoments).
func (p aliveBG) moments(t float64) (m1, m2 float64) { return bgMoments(p.r, p.alpha, p.a, p.b, t) }

// aliveExpectedPurchases returns the expected number of purchases in the
// next t of a customer who is alive now, buys at Poisson rate λ while alive
// and drops out with probability p after each purchase, with
// λ ~ Gamma(shape r, rate θ) and p ~ Beta(a, b). For given λ and p it is
// (1 - e^(-λpt))/p (Fader, Hardie & Lee 2005, eq. 7); averaged, it is the
// closed form (a+b-1)/(a-1) · [1 - (θ/(θ+t))^r 2F1(r, b; a+b-1; t/(θ+t))]
// of BG/NBD's E[X(t)] and E[Y(t)|·] (and of MBG/NBD's, with b shifted).
//
// That closed form subtracts two nearly equal numbers and multiplies the
// difference by (a+b-1)/(a-1): at a fit with a → 0 and a large b (the Beta
// collapsing onto p ≈ 0, where the model becomes the NBD) it loses every
// digit, and the 2F1 itself, with b in the tens of thousands, falls to the
// connection formula next to a pole of Γ(c-b) = Γ(a-1), whose two terms
// cancel: counts came out negative. Here the same expectation is a sum of
// positive terms. The expected purchase rate at time s of a customer alive
// at 0 is E[λ e^(-λps)], so with z = t/(θ+t),
//
//	E = ∫₀ᵗ r/θ · E_p[(1 + ps/θ)^-(r+1)] ds
//	  = r ∫₀ᶻ (1-y)^(r-1) 2F1(r+1, b; a+b; y) dy              (Pfaff, y = (s/θ)/(1+s/θ))
//	  = r Σ_k c_k ∫₀ᶻ y^k (1-y)^(r-1) dy,   c_k = (r+1)_k (b)_k / ((a+b)_k k!),
//
// and ∫₀ᶻ y^k (1-y)^(r-1) dy = z^(k+1) (1-z)^r G_k/(k+1) with
// G_k = 2F1(k+1+r, 1; k+2; z) (DLMF 8.17.8), which obeys
// G_k = 1 + z(k+1+r)/(k+2) · G_(k+1): run backwards, a recurrence of
// positive terms. The sum is evaluated backwards too, by Horner's rule,
// from a K past which the terms are below 1e-17 of the sum, the G
// recurrence started further out (G_∞ = 1/(1-z)) so that its starting
// error has died away by K. Every term is positive, so the result is never
// negative, and it has no singularity at a = 1. It returns NaN for
// parameters outside the model's domain or when t/θ is so large (above
// about 10⁶) that the series would need more than 10⁷ terms.
func aliveExpectedPurchases(r, a, b, theta, t float64) float64 {
	if !(r > 0 && a > 0 && b > 0 && theta > 0) || math.IsNaN(t) || math.IsInf(r+a+b+theta+t, 0) {
		return math.NaN()
	}
	if t <= 0 {
		return 0
	}
	const (
		eps      = 1e-17
		rescale  = 1e200
		maxTerms = 10_000_000
	)
	z := t / (theta + t)
	// Forward: the terms a_k of the sum, relative to a_0, until the tail is
	// negligible. a_(k+1)/a_k = z(r+1+k)(b+k)/((a+b+k)(k+2)) is at most
	// z·max(1, (r+1+k)/(k+2)) for every later k; G_k lies between 1 and
	// 1/(1-z) and, for r >= 1, decreases in k (so the tail's G are below the
	// head's).
	gfac := 1.0
	if r < 1 {
		gfac = (theta + t) / theta
	}
	ak, head := 1.0, 1.0
	K := 0
	for ; ; K++ {
		if K >= maxTerms {
			return math.NaN()
		}
		fk := float64(K)
		rho := z * (r + 1 + fk) * (b + fk) / ((a + b + fk) * (fk + 2))
		// bound <= (1+z)/2 also keeps the fade-out below short.
		bound := z * math.Max(1, (r+1+fk)/(fk+2))
		if bound <= (1+z)/2 && ak*rho*gfac <= eps*(1-bound)*head {
			break
		}
		ak *= rho
		head += ak
		if head > rescale {
			head /= rescale
			ak /= rescale
		}
	}
	// Steps for the start of the G recurrence to fade: each step multiplies
	// its error by z(k+1+r)/(k+2) <= bound <= (1+z)/2.
	bound := z * math.Max(1, (r+1+float64(K))/(float64(K)+2))
	extra := int(math.Ceil(math.Log(eps) / math.Log(bound)))
	if K+extra >= maxTerms {
		return math.NaN()
	}
	g := (theta + t) / theta
	h := g
	inv, logScale := 1.0, 0.0
	for k := K + extra - 1; k >= 0; k-- {
		fk := float64(k)
		sigma := z * (fk + 1 + r) / (fk + 2)
		g = inv + sigma*g
		h = g + sigma*(b+fk)/(a+b+fk)*h
		if h > rescale {
			h /= rescale
			g /= rescale
			inv /= rescale
			logScale += math.Log(rescale)
		}
	}
	// E = r (1-z)^r · z · H_0, H_0 = Σ_k (a_k/a_0) G_k.
	return r * math.Exp(-r*math.Log1p(t/theta)+math.Log(z)+math.Log(h)+logScale)
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

// posterior returns alive(x, T) as a DropoutModel's alive customer.
func (m BGNBD) posterior(x, T float64) aliveCustomer { return m.alive(x, T) }

// Params returns (r, α, a, b), the order of FitResult.Names.
func (m BGNBD) Params() []float64 { return []float64{m.R, m.Alpha, m.A, m.B} }

// WithParams returns the model with the parameters p, in the order of
// Params.
func (m BGNBD) WithParams(p []float64) DropoutModel { return BGNBD{p[0], p[1], p[2], p[3]} }
