package scoring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// cdnowParetoNBD is the published Pareto/NBD fit of the CDNOW sample
// (weeks; ../shared/data/README.md).
var cdnowParetoNBD = ParetoNBD{R: 0.55315, Alpha: 10.57633, S: 0.60625, Beta: 11.67150}

// TestParetoNBDPredictions checks P(alive), E[Y(t)|·], P(Y(t) > 0|·) and
// Var[Y(t)|·] at the published CDNOW fit against the model's defining
// integrals evaluated in 40-digit arithmetic (mpmath 1.3.0, quad), which
// use none of the hypergeometric closed forms. With
// E_λ(k, u) = Γ(r+x+k) (α+u)^-(r+x+k) and S(u) = (β/(β+u))^s, the
// probability that μ ~ Gamma(s, β) leaves a customer alive at u:
//
//	L       = E_λ(0, T) S(T) + ∫_{t_x}^T E_λ(0, τ) s β^s (β+τ)^-(s+1) dτ   (alive at T, or died at τ)
//	P(alive) = E_λ(0, T) S(T) / L
//	E[Y]    = E_λ(1, T) ∫₀ᵗ S(T+u) du / L
//	P(Y>0)  = ∫₀ᵗ E_λ(1, T+u) S(T+u) du / L                                (first purchase at T+u)
//	E[Y²]   = E[Y] + E_λ(2, T) ∫₀ᵗ 2u S(T+u) du / L.
//
// The last row is a customer just acquired (T → 0), whose expected
// purchases are E[X(t)], also checked at t = 1, 13, 52 and 78.
func TestParetoNBDPredictions(t *testing.T) {
	m := cdnowParetoNBD
	for _, c := range []struct{ t, x, tx, T, alive, mean, buys, variance float64 }{
		{39, 0, 0, 38.86, 0.29515342831371481972, 0.10705867230162036453, 0.069267630749226067903, 0.21923893269788259533},
		{39, 2, 30.43, 38.86, 0.8691215711452869553, 1.4550836611187475766, 0.5919028805176101232, 3.1822423911182293399},
		{52, 26, 30.86, 31, 0.99791799109344628485, 25.457245778627909972, 0.97618239920652923228, 184.88225398331230611},
		{52, 5, 2, 70, 0.00012164389156878665347, 0.00037227481137929053441, 0.00010466996831084110375, 0.001868505932941834483},
		{52, 1, 1.5, 1.5, 1.0, 3.7723925512812783382, 0.71061691688281190996, 24.62418749891788641},
		{13, 0, 0, 1e-12, 0.99999999999994805723, 0.53136663202935512244, 0.29330643966229660105, 1.187528511692269995},
	} {
		for _, f := range []struct {
			name      string
			got, want float64
		}{
			{"P(alive)", m.PAlive(c.x, c.tx, c.T), c.alive},
			{"E[Y]", m.ConditionalExpectedPurchases(c.t, c.x, c.tx, c.T), c.mean},
			{"P(Y>0)", m.ConditionalProbPurchase(c.t, c.x, c.tx, c.T), c.buys},
			{"Var[Y]", m.ConditionalPurchaseVariance(c.t, c.x, c.tx, c.T), c.variance},
		} {
			if !scalar.EqualWithinAbsOrRel(f.got, f.want, 0, 1e-10) {
				t.Errorf("t=%g, x=%g, t_x=%g, T=%g: %s = %.17g, want %.17g", c.t, c.x, c.tx, c.T, f.name, f.got, f.want)
			}
		}
	}
	for _, c := range []struct{ t, want float64 }{
		{1, 0.05100146266486821667}, {13, 0.53136663202942444161}, {52, 1.4733892692295488811}, {78, 1.9098215519191750168},
	} {
		if got := m.ExpectedPurchases(c.t); !scalar.EqualWithinAbsOrRel(got, c.want, 0, 1e-12) {
			t.Errorf("E[X(%g)] = %.17g, want %.17g", c.t, got, c.want)
		}
	}
}

// The moments of an alive customer's purchases have removable
// singularities at s = 1 and s = 2 (powerIntegral's limits): on either
// side and at them, the moments must be continuous.
func TestParetoNBDMomentsAtIntegerShapes(t *testing.T) {
	for _, s := range []float64{1, 2} {
		at := aliveParetoNBD{r: 1.3, alpha: 8, s: s, beta: 20}
		m1, m2 := at.moments(52)
		for _, d := range []float64{-1e-7, 1e-7} {
			near := at
			near.s = s + d
			n1, n2 := near.moments(52)
			if !scalar.EqualWithinAbsOrRel(m1, n1, 0, 1e-6) || !scalar.EqualWithinAbsOrRel(m2, n2, 0, 1e-6) {
				t.Errorf("s=%v: moments %v, %v; at s%+g: %v, %v", s, m1, m2, d, n1, n2)
			}
		}
		if m1 != at.expectedPurchases(52) || !(m2 > m1*m1) {
			t.Errorf("s=%v: E[X] = %v (expected purchases %v), E[X²] = %v", s, m1, at.expectedPurchases(52), m2)
		}
	}
}

// TestParetoNBDGradient checks logLik's gradient against central
// differences of the log-likelihood itself, on both sides of α = β (A0's
// two forms), and the likelihood with a gradient against the one without:
// the same value, bit for bit.
func TestParetoNBDGradient(t *testing.T) {
	rows, _ := simulateParetoNBD(2000, cdnowParetoNBD, 0, 5)
	g, err := prepareRFM(rows)
	if err != nil {
		t.Fatal(err)
	}
	pg := newParetoGroups(g)
	for _, m := range []ParetoNBD{cdnowParetoNBD, {R: 0.8, Alpha: 20, S: 1.4, Beta: 6}, {R: 2, Alpha: 3, S: 0.3, Beta: 3}} {
		grad := make([]float64, 4)
		ll := m.logLik(pg, grad)
		if plain := m.logLik(pg, nil); ll != plain {
			t.Errorf("%+v: log-likelihood %v with the gradient, %v without", m, ll, plain)
		}
		p := m.Params()
		for i := range p {
			h := 1e-6 * p[i]
			q := slices.Clone(p)
			q[i] = p[i] + h
			lp := m.WithParams(q).(ParetoNBD).logLik(pg, nil)
			q[i] = p[i] - h
			lm := m.WithParams(q).(ParetoNBD).logLik(pg, nil)
			if fd := (lp - lm) / (2 * h); !scalar.EqualWithinAbsOrRel(grad[i], fd, 1e-4, 1e-6) {
				t.Errorf("%+v: d logL/d %s = %.9g, central difference %.9g", m, []string{"r", "alpha", "s", "beta"}[i], grad[i], fd)
			}
		}
	}
}

// simulateParetoNBD draws n customers of a Pareto/NBD, each with a first
// purchase at 0 and an age T in whole days from 27 to 39 weeks, and
// returns their histories up to T and their purchases in (T, T+holdout].
func simulateParetoNBD(n int, m ParetoNBD, holdout float64, seed uint64) ([]RFM, []float64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rows, future := make([]RFM, n), make([]float64, n)
	for i := range rows {
		T := 39 - math.Floor(rng.Float64()*84)/7
		lambda, mu := gammaRand(rng, m.R, m.Alpha), gammaRand(rng, m.S, m.Beta)
		end := math.Min(rng.ExpFloat64()/mu, T+holdout)
		var x, tx float64
		for at := rng.ExpFloat64() / lambda; at <= end; at += rng.ExpFloat64() / lambda {
			if at <= T {
				x, tx = x+1, at
			} else {
				future[i]++
			}
		}
		rows[i] = RFM{X: x, TX: math.Min(math.Round(tx*7)/7, T), T: T, Weight: 1}
	}
	return rows, future
}

// TestParetoNBDOneTimeBuyersSimulated draws customers of the CDNOW fit,
// keeps those who made no repeat purchase in their first 30 weeks, and
// follows them 39 weeks more: the share still alive at 30 weeks, the share
// who buy again, and the mean and variance of their purchases must be the
// model's for the history (0, 0, 30), within 4 standard errors of the
// simulation.
func TestParetoNBDOneTimeBuyersSimulated(t *testing.T) {
	m := cdnowParetoNBD
	const T, horizon, n = 30.0, 39.0, 400000
	rng := rand.New(rand.NewPCG(3, 4))
	var kept, alive, buyers, s1, s2 float64
	for range n {
		lambda, mu := gammaRand(rng, m.R, m.Alpha), gammaRand(rng, m.S, m.Beta)
		life := rng.ExpFloat64() / mu
		first := rng.ExpFloat64() / lambda
		if first <= math.Min(life, T) {
			continue // a repeat purchase in (0, T]
		}
		kept++
		if life <= T {
			continue
		}
		alive++
		// Alive at T with no purchase since 0: the first purchase, after T,
		// is the next one.
		var k float64
		for at := first; at <= math.Min(life, T+horizon); at += rng.ExpFloat64() / lambda {
			k++
		}
		if k > 0 {
			buyers++
		}
		s1 += k
		s2 += k * k
	}
	mean, variance := s1/kept, s2/kept-(s1/kept)*(s1/kept)
	share := func(name string, got, want float64) {
		t.Helper()
		if se := math.Sqrt(want * (1 - want) / kept); math.Abs(got-want) > 4*se {
			t.Errorf("%s: simulated %.5f, model %.5f (standard error %.5f)", name, got, want, se)
		}
	}
	share("P(alive)", alive/kept, m.PAlive(0, 0, T))
	share("P(Y>0)", buyers/kept, m.ConditionalProbPurchase(horizon, 0, 0, T))
	wantVar := m.ConditionalPurchaseVariance(horizon, 0, 0, T)
	if se := math.Sqrt(wantVar / kept); math.Abs(mean-m.ConditionalExpectedPurchases(horizon, 0, 0, T)) > 4*se {
		t.Errorf("E[Y]: simulated %.5f, model %.5f (standard error %.5f)", mean, m.ConditionalExpectedPurchases(horizon, 0, 0, T), se)
	}
	// A skewed count's variance has a relative standard error of a few
	// times sqrt(2/n).
	if math.Abs(variance-wantVar) > 0.05*wantVar {
		t.Errorf("Var[Y]: simulated %.5f, model %.5f", variance, wantVar)
	}
	t.Logf("%.0f one-time buyers at %g weeks: P(alive) %.4f, P(Y>0) %.4f, E[Y] %.4f, Var[Y] %.4f", kept, T, alive/kept, buyers/kept, mean, variance)
}

// TestParetoNBDParameterRecovery fits data simulated from known parameters:
// the estimates must lie within 4 standard errors of the truth with usable
// standard errors (below 25% of the value: the dropout rate's Gamma is the
// least well determined, as in the published CDNOW fit), and the fit's
// predictions for the next 39 weeks must hold the simulated total.
func TestParetoNBDParameterRecovery(t *testing.T) {
	truth := ParetoNBD{R: 0.6, Alpha: 8, S: 0.8, Beta: 12}
	rows, future := simulateParetoNBD(50000, truth, 39, 42)
	m, res, err := FitParetoNBD(rows)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Pareto/NBD %+v se %v", m, res.StdErr)
	for i, w := range truth.Params() {
		got, se := res.Params[i], res.StdErr[i]
		if !(se > 0) || se/w > 0.25 {
			t.Errorf("%s: standard error %v is unusable", res.Names[i], se)
		}
		if math.Abs(got-w) > 4*se {
			t.Errorf("%s = %.4f, truth %.4f, %.1f standard errors away", res.Names[i], got, w, math.Abs(got-w)/se)
		}
	}
	var predicted, actual, variance float64
	for i, c := range rows {
		predicted += m.ConditionalExpectedPurchases(39, c.X, c.TX, c.T)
		variance += m.ConditionalPurchaseVariance(39, c.X, c.TX, c.T)
		actual += future[i]
	}
	// Chance alone gives a standard deviation of sqrt(variance); the
	// parameters' error adds about as much again at this size.
	if sd := math.Sqrt(variance); math.Abs(predicted-actual) > 8*sd {
		t.Errorf("predicted %.1f purchases in the holdout, simulated %.0f (chance sd %.1f)", predicted, actual, sd)
	}
}

func ExampleParetoNBD_ConditionalProbPurchase() {
	// The published Pareto/NBD fit of the CDNOW sample, in weeks.
	m := ParetoNBD{R: 0.55315, Alpha: 10.57633, S: 0.60625, Beta: 11.67150}
	for _, c := range []RFM{{X: 0, TX: 0, T: 38.86}, {X: 2, TX: 30.43, T: 38.86}, {X: 5, TX: 2, T: 70}} {
		fmt.Printf("x=%g, t_x=%5.2f, T=%5.2f: P(alive) %.3f, P(purchase in 39 weeks) %.3f, E[purchases] %.3f\n",
			c.X, c.TX, c.T, m.PAlive(c.X, c.TX, c.T), m.ConditionalProbPurchase(39, c.X, c.TX, c.T),
			m.ConditionalExpectedPurchases(39, c.X, c.TX, c.T))
	}
	// Output:
	// x=0, t_x= 0.00, T=38.86: P(alive) 0.295, P(purchase in 39 weeks) 0.069, E[purchases] 0.107
	// x=2, t_x=30.43, T=38.86: P(alive) 0.869, P(purchase in 39 weeks) 0.592, E[purchases] 1.455
	// x=5, t_x= 2.00, T=70.00: P(alive) 0.000, P(purchase in 39 weeks) 0.000, E[purchases] 0.000
}

// BenchmarkFitParetoNBDOneMillion fits Pareto/NBD to the 1,000,000
// simulated customers of BenchmarkFitOneMillion (times in days), grouping
// included.
func BenchmarkFitParetoNBDOneMillion(b *testing.B) {
	rfm, _ := simulateBGNBD(1_000_000, BGNBD{0.25, 4.4, 0.8, 2.4}, GammaGamma{6, 4, 15}, 1)
	b.ResetTimer()
	for b.Loop() {
		_, res, err := FitParetoNBD(rfm)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Groups), "rfm-groups")
		b.ReportMetric(float64(res.Evaluations), "evaluations")
	}
}
