package scoring

import "math"

// Predictive variances: how far a customer's purchases and spend over a
// horizon scatter around their expectations, given the fitted parameters.
// They are the chance part of a forecast's uncertainty; the parameters'
// own uncertainty is ForecastSegments' delta method.

// ConditionalPurchaseVariance returns Var[Y(t) | x, t_x, T] under BG/NBD.
// Given the history, the customer is alive at T with probability π =
// PAlive, and an alive customer's rate and dropout probability have the
// posteriors λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x); the Poisson process
// being memoryless, the purchases in (T, T+t] of an alive customer are then
// distributed as X(t) of a new customer of a BG/NBD with parameters
// (r+x, α+T, a, b+x), and Y(t) = 0 for a customer who has dropped out. So
// E[Y^k] = π E[X(t)^k | r+x, α+T, a, b+x], with the moments of X(t) from
// bgMoments.
func (m BGNBD) ConditionalPurchaseVariance(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	m1, m2 := m.alive(x, T).moments(t)
	return conditionalPurchaseVariance(m.PAlive(x, tx, T), m1, m2)
}

// conditionalPurchaseVariance returns Var[Y] = π m2 − (π m1)² of a customer
// alive with probability π whose purchases while alive have the moments
// E[X] = m1 and E[X²] = m2.
func conditionalPurchaseVariance(pa, m1, m2 float64) float64 {
	mean := pa * m1
	return math.Max(pa*m2-mean*mean, 0)
}

// bgMoments returns E[X(t)] and E[X(t)^2] for a BG/NBD customer who is
// alive at time 0, with rate λ ~ Gamma(r, α) and dropout probability
// p ~ Beta(a, b). The customer makes purchases at the times of a Poisson
// process N of rate λ and drops out after each with probability p, so
// X(t) = min(N(t), J) with P(J >= k | p) = (1-p)^(k-1). Given N(t) = n,
//
//	E[min(n, J)]   = Σ_{k=1..n} c_k,  E[min(n, J)^2] = Σ_{k=1..n} (2k-1) c_k,
//
// where c_k = E[(1-p)^(k-1)] = B(a, b+k-1)/B(a, b), and N(t) is negative
// binomial: P(N(t) = n) = Γ(r+n)/(Γ(r) n!) (α/(α+t))^r (t/(α+t))^n. The
// moments are summed over n until the terms are negligible.
func bgMoments(r, alpha, a, b, t float64) (m1, m2 float64) {
	q := t / (alpha + t)
	lq := math.Log(q)
	lp := r * math.Log(alpha/(alpha+t)) // log P(N = 0)
	// P(N = n) by the ratio (r+n-1)/n · q of consecutive terms, a product
	// per term rather than a logarithm and an exponential; in logarithms
	// only where P(N = 0) would underflow.
	inLogs := lp < -600
	pn := math.Exp(lp)
	var s1, s2, c float64 // Σ c_k, Σ (2k-1) c_k up to n; c_n
	c = 1
	mode := math.Max((r-1)*q/(1-q), 0)
	const maxTerms = 1 << 20
	for n := 1; n < maxTerms; n++ {
		fn := float64(n)
		if inLogs {
			lp += math.Log((r+fn-1)/fn) + lq
			pn = math.Exp(lp)
		} else {
			pn *= (r + fn - 1) / fn * q
		}
		if n > 1 {
			c *= (b + fn - 2) / (a + b + fn - 2)
		}
		s1 += c
		s2 += (2*fn - 1) * c
		m1 += pn * s1
		m2 += pn * s2
		if fn > mode && pn*s2 <= 1e-15*m2 {
			break
		}
	}
	return m1, m2
}

// SpendTotalVariance returns the variance of a customer's total spend over
// a horizon in which the customer makes Y purchases with mean meanY and
// variance varY (from the purchase model), under Gamma-Gamma with the
// customer's x repeat purchases of mean spend zbar. Given the history, the
// customer's ν has the posterior Gamma(px+q, γ+x·z̄) (Fader & Hardie 2013),
// each purchase is Gamma(p, ν), purchases are independent of the purchase
// count, so with G = γ + x·z̄ and Q = px + q:
//
//	E[1/ν] = G/(Q-1),  E[1/ν²] = G²/((Q-1)(Q-2)),
//	Var S = p E[1/ν²] E[Y] + p² E[1/ν²] E[Y²] - p² E[1/ν]² E[Y]².
//
// It is +Inf when Q <= 2: the posterior mean spend then has no variance.
func (m GammaGamma) SpendTotalVariance(x, zbar, meanY, varY float64) float64 {
	if x <= 0 {
		x, zbar = 0, 0
	}
	g := m.Gamma + x*zbar
	return g * g * m.spendVarianceFactor(x, meanY, varY)
}

// spendVarianceFactor is SpendTotalVariance divided by G²: the same for
// every customer with the same x and purchase forecast.
func (m GammaGamma) spendVarianceFactor(x, meanY, varY float64) float64 {
	qq := m.P*x + m.Q
	if qq <= 2 {
		return math.Inf(1)
	}
	k2 := 1 / ((qq - 1) * (qq - 2))
	k1 := 1 / (qq - 1)
	return math.Max(m.P*k2*meanY+m.P*m.P*k2*(varY+meanY*meanY)-m.P*m.P*k1*k1*meanY*meanY, 0)
}

// ConditionalPurchaseVariance returns Var[Y(t) | x, t_x, T] under MBG/NBD.
// As under BG/NBD, a customer alive at T (probability PAlive) buys from then
// on as a new customer of a BG/NBD with the posterior parameters; under
// MBG/NBD the dropout probability's posterior is Beta(a, b+x+1), the first
// purchase having been a chance to drop out too (see
// MBGNBD.ConditionalExpectedPurchases).
func (m MBGNBD) ConditionalPurchaseVariance(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	m1, m2 := m.alive(x, T).moments(t)
	return conditionalPurchaseVariance(m.PAlive(x, tx, T), m1, m2)
}
