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
// A Predictor is not safe for concurrent use: give each goroutine its own.
type Predictor struct {
	m        DropoutModel
	expected map[predictorKey]float64
	moments  map[predictorKey][2]float64
	// cumulative holds, per (x, T) and horizon, the alive customer's
	// expected purchases in the horizon's first 1, 2, ... periods.
	cumulative map[horizonKey][]float64
}

type predictorKey struct{ t, x, T float64 }

type horizonKey struct {
	x, T float64
	h    Horizon
}

// NewPredictor returns a Predictor for the model m.
func NewPredictor(m DropoutModel) *Predictor {
	return &Predictor{m: m, expected: map[predictorKey]float64{}, moments: map[predictorKey][2]float64{},
		cumulative: map[horizonKey][]float64{}}
}

// DiscountedPurchases returns DiscountedPurchases(m, c, h).
func (p *Predictor) DiscountedPurchases(c RFM, h Horizon) float64 {
	k := horizonKey{c.X, c.T, h}
	cum, ok := p.cumulative[k]
	if !ok && h.Periods > 0 && h.PeriodLength > 0 {
		cum = make([]float64, h.Periods)
		alive := p.m.alive(c.X, c.T)
		for i := range cum {
			cum[i] = alive.expectedPurchases(float64(i+1) * h.PeriodLength)
		}
		p.cumulative[k] = cum
	}
	pa := p.m.PAlive(c.X, c.TX, c.T)
	return h.discount(func(period int) float64 { return pa * cum[period-1] })
}

// ConditionalExpectedPurchases returns m.ConditionalExpectedPurchases(t, x,
// tx, T).
func (p *Predictor) ConditionalExpectedPurchases(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	k := predictorKey{t, x, T}
	e, ok := p.expected[k]
	if !ok {
		e = p.m.alive(x, T).expectedPurchases(t)
		p.expected[k] = e
	}
	return p.m.PAlive(x, tx, T) * e
}

// ConditionalPurchaseVariance returns Var[Y(t) | x, t_x, T] under m (see
// BGNBD.ConditionalPurchaseVariance).
func (p *Predictor) ConditionalPurchaseVariance(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	k := predictorKey{t, x, T}
	mm, ok := p.moments[k]
	if !ok {
		mm[0], mm[1] = p.m.alive(x, T).moments(t)
		p.moments[k] = mm
	}
	return conditionalPurchaseVariance(p.m.PAlive(x, tx, T), mm[0], mm[1])
}
