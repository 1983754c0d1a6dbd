package scoring

import (
	"math/rand/v2"
	"testing"
)

// TestPredictorIsTheModel checks that a Predictor's figures are its model's,
// bit for bit, for histories that share (x, T) with different t_x, in any
// order and over several horizons, and that it keeps what histories share.
func TestPredictorIsTheModel(t *testing.T) {
	models := []DropoutModel{
		BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		MBGNBD{R: 0.525, Alpha: 6.183, A: 0.891, B: 1.614},
		ParetoNBD{R: 0.55315, Alpha: 10.57633, S: 0.60625, Beta: 11.67150},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, m := range models {
		p := NewPredictor(m)
		for range 5000 {
			x := float64(rng.IntN(6))
			T := float64(20 + rng.IntN(5))
			tx := 0.0
			if x > 0 {
				tx = float64(rng.IntN(int(T) + 1))
			}
			h := []float64{0, 52.0 / 12, 39, 52}[rng.IntN(4)]
			if got, want := p.ConditionalExpectedPurchases(h, x, tx, T), m.ConditionalExpectedPurchases(h, x, tx, T); got != want {
				t.Fatalf("%T: expected purchases(%v, %v, %v, %v) = %v, the model's %v", m, h, x, tx, T, got, want)
			}
			if got, want := p.ConditionalPurchaseVariance(h, x, tx, T), m.ConditionalPurchaseVariance(h, x, tx, T); got != want {
				t.Fatalf("%T: variance(%v, %v, %v, %v) = %v, the model's %v", m, h, x, tx, T, got, want)
			}
			if got, want := p.PAlive(x, tx, T), m.PAlive(x, tx, T); got != want {
				t.Fatalf("%T: P(alive)(%v, %v, %v) = %v, the model's %v", m, x, tx, T, got, want)
			}
			if got, want := p.ConditionalProbPurchase(h, x, tx, T), m.ConditionalProbPurchase(h, x, tx, T); got != want {
				t.Fatalf("%T: P(purchase)(%v, %v, %v, %v) = %v, the model's %v", m, h, x, tx, T, got, want)
			}
			c := RFM{X: x, TX: tx, T: T}
			hz := Horizon{Periods: 1 + rng.IntN(12), PeriodLength: 52.0 / 12, DiscountRate: 0.01}
			if got, want := p.DiscountedPurchases(c, hz), DiscountedPurchases(m, c, hz); got != want {
				t.Fatalf("%T: discounted purchases(%+v, %+v) = %v, the model's %v", m, c, hz, got, want)
			}
		}
		if n := len(p.expected); n == 0 || n > 6*5*3 {
			t.Errorf("%T: %d alive figures kept, want between 1 and %d (one per x, T and positive horizon)", m, n, 6*5*3)
		}
		// Pareto/NBD's likelihood terms, one per x and time: t_x (up to 25
		// values), T and T plus a horizon (5 and 5·3).
		if _, ok := m.(ParetoNBD); ok {
			if n := len(p.tails); n == 0 || n > 6*(25+5+5*3) {
				t.Errorf("%T: %d likelihood terms kept, want between 1 and %d", m, n, 6*(25+5+5*3))
			}
		}
	}
}
