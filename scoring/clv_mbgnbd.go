package scoring

import (
	"math"
)

// MBGNBD is the modified BG/NBD model of Batislam, Denizel & Filiztekin
// (2007), "Empirical validation and comparison of models for customer base
// analysis", International Journal of Research in Marketing 24(3),
// 201-209. It is BG/NBD (see BGNBD) with one change: a customer may drop
// out right after the first purchase too, not only after repeat purchases.
// So a customer who has not bought again is not certainly alive: P(alive)
// of a one-time buyer is below 1 and falls as the customer ages, where
// BG/NBD gives 1 whatever the age. While active, a customer buys at Poisson
// rate λ ~ Gamma(shape R, rate Alpha); after the first purchase and after
// every later one, the customer drops out with probability p ~ Beta(A, B).
// Alpha, and every t, tx and T, are in the time unit of the data the model
// was fitted on.
type MBGNBD struct {
	R, Alpha, A, B float64
}

// logLik returns the MBG/NBD log-likelihood over the groups (Batislam et
// al. 2007, eq. 6: a customer with x repeat purchases, the last at t_x,
// either is alive at T, having survived x+1 dropout chances, or dropped out
// right after the purchase at t_x, x = 0 included),
//
//	L = Γ(r+x)α^r/Γ(r) · B(a,b+x+1)/B(a,b) · [(α+T)^-(r+x) + a/(b+x) (α+t_x)^-(r+x)],
//
// in logs, the bracket by log-sum-exp, and, when grad is not nil, its
// gradient in (r, α, a, b).
func (m MBGNBD) logLik(g *rfmGroups, grad []float64) float64 {
	return dropoutLogLik(g, grad, m.R, m.Alpha, m.A, m.B, true)
}

// LogLik returns the weighted MBG/NBD log-likelihood of the rows.
func (m MBGNBD) LogLik(rows []RFM) (float64, error) {
	g, err := prepareRFM(rows)
	if err != nil {
		return math.NaN(), err
	}
	return m.logLik(g, nil), nil
}

// FitMBGNBD fits the MBG/NBD model by maximum likelihood (Batislam,
// Denizel & Filiztekin 2007) to customer summaries in one time unit of the
// caller's choice, with the same optimiser, starting points and errors as
// FitBGNBD.
func FitMBGNBD(rows []RFM) (MBGNBD, FitResult, error) {
	return fitDropoutModel(rows, func(p []float64) MBGNBD { return MBGNBD{p[0], p[1], p[2], p[3]} })
}

// PAlive returns the probability that a customer with history (x, t_x, T)
// is still active at T (Batislam et al. 2007):
//
//	P(alive) = 1 / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x)),
//
// below 1 for every customer, one-time buyers (x = 0, t_x = 0) included,
// and falling with T while nothing is bought.
func (m MBGNBD) PAlive(x, tx, T float64) float64 {
	l := math.Log(m.A/(m.B+x)) + (m.R+x)*math.Log((m.Alpha+T)/(m.Alpha+tx))
	return 1 / (1 + math.Exp(l))
}

// ExpectedPurchases returns E[X(t)], the expected number of repeat
// purchases in (0, t] of a customer who made a first purchase at time 0
// (Batislam et al. 2007):
//
//	E[X(t)] = b/(a-1) · [1 - (α/(α+t))^r 2F1(r, b+1; a+b; t/(α+t))],
//
// that is the chance b/(a+b) of surviving the first purchase times the
// expected purchases of a customer alive at 0 whose dropout probability
// has the posterior Beta(a, b+1), evaluated as a positive series (see
// aliveExpectedPurchases).
func (m MBGNBD) ExpectedPurchases(t float64) float64 {
	return m.B / (m.A + m.B) * aliveExpectedPurchases(m.R, m.A, m.B+1, m.Alpha, t)
}

// ConditionalExpectedPurchases returns E[Y(t) | x, t_x, T], the expected
// number of purchases in (T, T+t] of a customer with history (x, t_x, T)
// (Batislam et al. 2007):
//
//	E[Y(t)|·] = (a+b+x)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(α+T+t))]
//	            / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x)),
//
// P(alive) times the expected purchases of a customer alive at T, whose
// rate has the posterior Gamma(r+x, α+T) and dropout probability the
// posterior Beta(a, b+x+1): aliveExpectedPurchases(r+x, a, b+x+1, α+T, t).
func (m MBGNBD) ConditionalExpectedPurchases(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	return m.PAlive(x, tx, T) * m.alive(x, T).expectedPurchases(t)
}

// alive returns the posterior Gamma(r+x, α+T) rate and Beta(a, b+x+1)
// dropout probability of a customer alive at T after x repeat purchases.
func (m MBGNBD) alive(x, T float64) aliveBG { return aliveBG{m.R + x, m.Alpha + T, m.A, m.B + x + 1} }

// ConditionalProbPurchase returns the probability that a customer with
// history (x, t_x, T) makes at least one purchase in (T, T+t]: a customer
// alive at T drops out only after a purchase, so
//
//	P = P(alive) · (1 - ((α+T)/(α+T+t))^(r+x)).
func (m MBGNBD) ConditionalProbPurchase(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	return m.PAlive(x, tx, T) * -math.Expm1((m.R+x)*math.Log((m.Alpha+T)/(m.Alpha+T+t)))
}

// posterior returns alive(x, T) as a DropoutModel's alive customer.
func (m MBGNBD) posterior(x, T float64) aliveCustomer { return m.alive(x, T) }

// Params returns (r, α, a, b), the order of FitResult.Names.
func (m MBGNBD) Params() []float64 { return []float64{m.R, m.Alpha, m.A, m.B} }

// WithParams returns the model with the parameters p, in the order of
// Params.
func (m MBGNBD) WithParams(p []float64) DropoutModel { return MBGNBD{p[0], p[1], p[2], p[3]} }
