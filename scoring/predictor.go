package scoring

// Predictor gives a dropout model's predictions for many customers. A
// customer's expected purchases (and their variance) are P(alive), which
// depends on the whole history (x, t_x, T), times a figure of a customer
// alive at T, which depends on x and T alone and costs a series of tens to
// hundreds of terms. A customer base has far fewer distinct (x, T) than
// distinct histories, so the Predictor computes the alive customer's
// figures once per (x, T) and horizon and keeps them. Its predictions are
// the model's own, bit for bit: the same functions of the same arguments.
//
// Under Pareto/NBD, P(alive) and the probability of a purchase rest on
// terms that depend on (x, t_x) and (x, T) alone, each a hypergeometric
// function: the Predictor keeps those too.
//
// A Predictor is not safe for concurrent use: give each goroutine its own.
type Predictor struct {
	m        DropoutModel
	expected map[predictorKey]float64
	moments  map[predictorKey][2]float64
	// cumulative holds, per (x, T) and horizon, the alive customer's
	// expected purchases in the horizon's first 1, 2, ... periods.
	cumulative map[horizonKey][]float64
	// terms is m when its P(alive) rests on pair terms (ParetoNBD), and
	// tail the term of a pair, computed once.
	terms pairTermModel
	tails map[[2]float64]float64
	tail  func(x, u float64) float64
}

// pairTermModel is a model whose P(alive) and probability of a purchase
// are functions of terms of (x, time) pairs, tail(x, u), that a Predictor
// can keep (ParetoNBD's A0 terms).
type pairTermModel interface {
	tail(x, u float64) float64
	pAliveFrom(tail func(x, u float64) float64, x, tx, T float64) float64
	probPurchaseFrom(tail func(x, u float64) float64, t, x, tx, T float64) float64
}

type predictorKey struct{ t, x, T float64 }

type horizonKey struct {
	x, T float64
	h    Horizon
}

// NewPredictor returns a Predictor for the model m.
func NewPredictor(m DropoutModel) *Predictor {
	p := &Predictor{m: m, expected: map[predictorKey]float64{}, moments: map[predictorKey][2]float64{},
		cumulative: map[horizonKey][]float64{}}
	if terms, ok := m.(pairTermModel); ok {
		p.terms, p.tails = terms, map[[2]float64]float64{}
		p.tail = func(x, u float64) float64 {
			return cached(p.tails, [2]float64{x, u}, func() float64 { return terms.tail(x, u) })
		}
	}
	return p
}

// PAlive returns m.PAlive(x, tx, T).
func (p *Predictor) PAlive(x, tx, T float64) float64 {
	if p.terms != nil {
		return p.terms.pAliveFrom(p.tail, x, tx, T)
	}
	return p.m.PAlive(x, tx, T)
}

// ConditionalProbPurchase returns m.ConditionalProbPurchase(t, x, tx, T).
func (p *Predictor) ConditionalProbPurchase(t, x, tx, T float64) float64 {
	if p.terms != nil {
		return p.terms.probPurchaseFrom(p.tail, t, x, tx, T)
	}
	return p.m.ConditionalProbPurchase(t, x, tx, T)
}

// DiscountedPurchases returns DiscountedPurchases(m, c, h).
func (p *Predictor) DiscountedPurchases(c RFM, h Horizon) float64 {
	var cum []float64
	if h.Periods > 0 && h.PeriodLength > 0 {
		cum = cached(p.cumulative, horizonKey{c.X, c.T, h}, func() []float64 {
			cum := make([]float64, h.Periods)
			alive := p.m.posterior(c.X, c.T)
			for i := range cum {
				cum[i] = alive.expectedPurchases(float64(i+1) * h.PeriodLength)
			}
			return cum
		})
	}
	pa := p.PAlive(c.X, c.TX, c.T)
	return h.discount(func(period int) float64 { return pa * cum[period-1] })
}

// ConditionalExpectedPurchases returns m.ConditionalExpectedPurchases(t, x,
// tx, T).
func (p *Predictor) ConditionalExpectedPurchases(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	e := cached(p.expected, predictorKey{t, x, T}, func() float64 { return p.m.posterior(x, T).expectedPurchases(t) })
	return p.PAlive(x, tx, T) * e
}

// ConditionalPurchaseVariance returns Var[Y(t) | x, t_x, T] under m (see
// BGNBD.ConditionalPurchaseVariance).
func (p *Predictor) ConditionalPurchaseVariance(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	mm := cached(p.moments, predictorKey{t, x, T}, func() (mm [2]float64) {
		mm[0], mm[1] = p.m.posterior(x, T).moments(t)
		return mm
	})
	return conditionalPurchaseVariance(p.PAlive(x, tx, T), mm[0], mm[1])
}

// cached returns m[k], computed by f and kept the first time it is asked
// for.
func cached[K comparable, V any](m map[K]V, k K, f func() V) V {
	v, ok := m[k]
	if !ok {
		v = f()
		m[k] = v
	}
	return v
}
