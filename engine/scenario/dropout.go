package scenario

import (
	"fmt"
	"math"
)

// DropoutFactor returns the factor k by which a retention programme must
// multiply the odds that each customer has dropped out, (1 − π)/π, so that
// their expected customers with a purchase in the horizon rise by gain.
//
// A customer's probability of a purchase in the horizon is P(alive) times
// the probability that an alive customer buys, p = π·q (BG/NBD and MBG/NBD:
// ConditionalProbPurchase; a customer drops out only right after a
// purchase, so once alive at the start the first purchase of the horizon
// does not depend on the dropout). Under both models the odds of having
// dropped out are a/(b+x−1)·((α+T)/(α+t_x))^(r+x) (MBG/NBD: a/(b+x)),
// proportional to the dropout Beta's a: multiplying a by k multiplies every
// customer's odds by k, and
//
//	π' = π / (π + k(1 − π)),  p' = p / (π + k(1 − π)).
//
// The expected active customers Σ p' fall as k grows, from Σ_{π>0} p/π at
// k = 0 (every customer the model holds as lost kept) through Σ p at k = 1
// to the customers certain to be alive (π = 1) as k → ∞; k is found by
// bisection. alive and active are the customers' π and p (equal lengths,
// p ≤ π, rows with π ≤ 0 or not finite ignored). It returns an error, with
// the largest rise or fall the customers allow, when gain lies beyond it: a
// *LimitError.
func DropoutFactor(alive, active []float64, gain float64) (float64, error) {
	if len(alive) != len(active) {
		panic("scenario: DropoutFactor: alive and active differ in length")
	}
	var base, most, least float64 // Σ p; Σ p/π (k = 0); Σ p over π = 1 (k → ∞)
	for i, pi := range alive {
		p := active[i]
		if !(pi > 0) || math.IsInf(pi, 0) || math.IsNaN(p) {
			continue
		}
		base += p
		most += p / pi
		if pi >= 1 {
			least += p
		}
	}
	switch {
	case gain == 0:
		return 1, nil
	case gain > 0 && !(base+gain < most):
		return math.NaN(), &LimitError{Gain: gain, Expected: base, Bound: most}
	case gain < 0 && !(base+gain > least):
		return math.NaN(), &LimitError{Gain: gain, Expected: base, Bound: least}
	}
	target := base + gain
	// g(t) is the expected active customers at k = t (gain > 0, t in
	// [0, 1]) or at k = 1/t (gain < 0, t in (0, 1]): decreasing in t for a
	// rise, increasing for a fall.
	g := func(t float64) float64 {
		var s float64
		for i, pi := range alive {
			p := active[i]
			if !(pi > 0) || math.IsInf(pi, 0) || math.IsNaN(p) {
				continue
			}
			if gain > 0 {
				s += p / (pi + t*(1-pi))
			} else {
				s += p * t / (pi*t + 1 - pi)
			}
		}
		return s
	}
	lo, hi := 0.0, 1.0
	for range 200 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if (g(mid) > target) == (gain > 0) {
			lo = mid
		} else {
			hi = mid
		}
	}
	t := (lo + hi) / 2
	if gain > 0 {
		return t, nil
	}
	return 1 / t, nil
}

// LimitError is a change of the expected active customers beyond what the
// dropout can give: Expected are the customers expected to buy, Bound
// those who would with every customer the model holds as lost kept (a
// rise) or with every customer not certain to be alive lost (a fall).
type LimitError struct {
	Gain, Expected, Bound float64
}

func (e *LimitError) Error() string {
	if e.Gain > 0 {
		return fmt.Sprintf("at most %.4g more customers with a purchase (%.4g expected, %.4g with every customer the model holds as lost kept), found %.4g",
			e.Bound-e.Expected, e.Expected, e.Bound, e.Gain)
	}
	return fmt.Sprintf("at most %.4g fewer customers with a purchase (%.4g expected, %.4g with every customer not certain to be alive lost), found %.4g",
		e.Expected-e.Bound, e.Expected, e.Bound, -e.Gain)
}

// keptFactor is the factor 1/(π + k(1 − π)) by which a customer's
// probability of a purchase, expected purchases and value in the horizon
// grow when the odds of having dropped out are multiplied by k.
func keptFactor(pi, k float64) float64 {
	return 1 / (pi + k*(1-pi))
}
