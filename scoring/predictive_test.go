package scoring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// cdnowBGNBD is the published BG/NBD fit of the CDNOW sample (weeks).
var cdnowBGNBD = BGNBD{0.2425945, 4.4136019, 0.7929199, 2.4258881}

// The moments of X(t) summed by bgMoments agree with the closed-form mean
// and with the second moment of the published probability mass function
// P(X(t) = n) (ProbPurchases), at the CDNOW fit.
func TestBGMomentsMatchPMF(t *testing.T) {
	m := cdnowBGNBD
	for _, h := range []float64{1, 32, 78, 520} {
		m1, m2 := bgMoments(m.R, m.Alpha, m.A, m.B, h)
		if want := m.ExpectedPurchases(h); !scalar.EqualWithinAbsOrRel(m1, want, 1e-12, 1e-9) {
			t.Errorf("t=%v: E[X(t)] = %.12g, want %.12g", h, m1, want)
		}
		var want2, mass float64
		for n := 0; n < 3000; n++ {
			p := m.ProbPurchases(n, h)
			want2 += float64(n*n) * p
			mass += p
		}
		if !scalar.EqualWithinAbsOrRel(mass, 1, 1e-9, 1e-9) {
			t.Fatalf("t=%v: the probabilities sum to %.12g", h, mass)
		}
		if !scalar.EqualWithinAbsOrRel(m2, want2, 1e-12, 1e-8) {
			t.Errorf("t=%v: E[X(t)²] = %.12g, want %.12g from the pmf", h, m2, want2)
		}
	}
}

// The conditional variance rests on the posterior of an alive customer:
// its mean, P(alive) times the first moment, must be the published
// conditional expectation; and it is the pmf's variance for a new customer.
func TestConditionalPurchaseVariance(t *testing.T) {
	m := cdnowBGNBD
	for _, c := range []RFM{{X: 0, TX: 0, T: 38.86}, {X: 2, TX: 30.43, T: 38.86}, {X: 26, TX: 30.86, T: 31}, {X: 5, TX: 2, T: 70}} {
		pa := m.PAlive(c.X, c.TX, c.T)
		m1, m2 := bgMoments(m.R+c.X, m.Alpha+c.T, m.A, m.B+c.X, 39)
		if want := m.ConditionalExpectedPurchases(39, c.X, c.TX, c.T); !scalar.EqualWithinAbsOrRel(pa*m1, want, 1e-12, 1e-9) {
			t.Errorf("%+v: P(alive)·E[X] = %.12g, want E[Y(39)|·] = %.12g", c, pa*m1, want)
		}
		v := m.ConditionalPurchaseVariance(39, c.X, c.TX, c.T)
		if want := pa*m2 - pa*pa*m1*m1; !scalar.EqualWithinAbsOrRel(v, want, 1e-12, 1e-12) || !(v > 0) {
			t.Errorf("%+v: variance %.12g, want %.12g", c, v, want)
		}
	}
	// Published: E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226.
	if e := m.ConditionalExpectedPurchases(39, 2, 30.43, 38.86); math.Abs(e-1.226) > 5e-4 {
		t.Errorf("E[Y(39)] = %.4f, want 1.226", e)
	}
	var pmfVar float64
	for n := 0; n < 3000; n++ {
		pmfVar += float64(n*n) * m.ProbPurchases(n, 52)
	}
	mean := m.ExpectedPurchases(52)
	pmfVar -= mean * mean
	// A customer "observed" for T → 0 with no repeat purchase is a new one.
	if v := m.ConditionalPurchaseVariance(52, 0, 0, 1e-12); !scalar.EqualWithinAbsOrRel(v, pmfVar, 1e-9, 1e-7) {
		t.Errorf("new customer: variance %.10g, want %.10g from the pmf", v, pmfVar)
	}
}

// SpendTotalVariance against a simulation of the Gamma-Gamma posterior: a
// customer with x = 3 repeat purchases averaging 25, Poisson(2) purchases.
func TestSpendTotalVariance(t *testing.T) {
	gg := GammaGamma{6.25, 3.74, 15.44}
	const x, zbar, lam = 3.0, 25.0, 2.0
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 400000
	var s1, s2 float64
	for range n {
		nu := gammaRand(rng, gg.P*x+gg.Q, gg.Gamma+x*zbar)
		k := poissonRand(rng, lam)
		var s float64
		if k > 0 {
			s = gammaRand(rng, gg.P*float64(k), nu)
		}
		s1 += s
		s2 += s * s
	}
	mean := s1 / n
	simVar := s2/n - mean*mean
	if want := lam * gg.ConditionalExpectedSpend(x, zbar); math.Abs(mean-want) > 0.01*want {
		t.Fatalf("simulated mean %.4f, want %.4f", mean, want)
	}
	got := gg.SpendTotalVariance(x, zbar, lam, lam)
	if math.Abs(got-simVar) > 0.02*simVar {
		t.Errorf("variance %.2f, simulated %.2f", got, simVar)
	}
	if v := (GammaGamma{2, 1.5, 10}).SpendTotalVariance(0, 0, 1, 1); !math.IsInf(v, 1) {
		t.Errorf("q = 1.5: variance %v for a one-time buyer, want +Inf", v)
	}
}

func poissonRand(rng *rand.Rand, lam float64) int {
	l, k, p := math.Exp(-lam), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func TestCalibrateModelError(t *testing.T) {
	// ((130-100)² - 100)/100 = 8 and max(0, (300-300)² - 0)/300 = 0 over the
	// weights 100 + 300: e² = 0.02. A group without a forecast is skipped.
	got := CalibrateModelError([]BacktestTotal{{100, 130, 100}, {300, 300, 0}, {0, 5, 1}})
	if !scalar.EqualWithinAbsOrRel(got, math.Sqrt(0.02), 1e-12, 1e-12) {
		t.Errorf("model error %v, want %v", got, math.Sqrt(0.02))
	}
	// Errors within what chance explains: no model error.
	if got := CalibrateModelError([]BacktestTotal{{100, 105, 100}, {100, 95, 100}}); got != 0 {
		t.Errorf("model error %v within chance, want 0", got)
	}
	if got := CalibrateModelError(nil); got != 0 {
		t.Errorf("model error %v without totals, want 0", got)
	}
}

// With the model right, the P10-P90 bands of chance and parameter
// uncertainty hold the actual totals about 80% of the time: customers drawn
// from BG/NBD (or Pareto/NBD) and Gamma-Gamma, observed for a calibration
// window and then for 52 more weeks, grouped into 60 segments of 400 at
// random, the same model fitted.
func TestForecastBandsCoverSimulatedTotals(t *testing.T) {
	ggTruth := GammaGamma{4, 5, 20}
	for _, truth := range []DropoutModel{BGNBD{0.5, 5, 0.8, 2.5}, ParetoNBD{0.5, 5, 0.7, 12}} {
		t.Run(fmt.Sprintf("%T", truth), func(t *testing.T) { bandsCoverSimulatedTotals(t, truth, ggTruth) })
	}
}

func bandsCoverSimulatedTotals(t *testing.T, truth DropoutModel, ggTruth GammaGamma) {
	const segments, per, horizon = 60, 400, 52.0
	rng := rand.New(rand.NewPCG(11, 12))
	n := segments * per
	rfm, spend := make([]RFM, n), make([]Spend, n)
	actN, actS, actA := make([]float64, segments), make([]float64, segments), make([]float64, segments)
	for i := range n {
		T := 39 - math.Floor(rng.Float64()*84)/7
		// BG/NBD: a dropout chance p after each purchase; Pareto/NBD: an
		// exponential lifetime.
		var lambda, p float64
		life := math.Inf(1)
		switch m := truth.(type) {
		case BGNBD:
			lambda, p = gammaRand(rng, m.R, m.Alpha), betaRand(rng, m.A, m.B)
		case ParetoNBD:
			lambda = gammaRand(rng, m.R, m.Alpha)
			life = rng.ExpFloat64() / gammaRand(rng, m.S, m.Beta)
		}
		nu := gammaRand(rng, ggTruth.Q, ggTruth.Gamma)
		var x, tx, tt, zsum, future float64
		alive := true
		for alive {
			tt += rng.ExpFloat64() / lambda
			if tt > T+horizon || tt > life {
				break
			}
			z := gammaRand(rng, ggTruth.P, nu)
			if tt <= T {
				x, tx, zsum = x+1, tt, zsum+z
			} else {
				future++
				actS[i%segments] += z
			}
			alive = rng.Float64() >= p
		}
		rfm[i] = RFM{X: x, TX: tx, T: T, Weight: 1}
		spend[i] = Spend{X: x, Weight: 1}
		if x > 0 {
			spend[i].ZBar = zsum / x
		}
		actN[i%segments] += future
		if future > 0 {
			actA[i%segments]++
		}
	}
	models := fitForecastModels(t, rfm, spend)
	if _, ok := truth.(ParetoNBD); ok {
		m, res, err := FitParetoNBD(rfm)
		if err != nil {
			t.Fatal(err)
		}
		models.Purchase, models.PurchaseCov = m, res.Cov
	}
	groups := make([]ForecastGroup, n)
	for i := range rfm {
		groups[i] = ForecastGroup{Segment: i % segments, RFM: rfm[i], ZBarSum: spend[i].ZBar, ZBarSqSum: spend[i].ZBar * spend[i].ZBar}
	}
	_, fc, _ := ForecastSegments(models, GroupForecast(groups), horizon)
	inside := func(actual, base, sdParam, sdChance float64) bool {
		sd := math.Hypot(sdParam, sdChance)
		return base-zP90*sd <= actual && actual <= base+zP90*sd
	}
	var inN, inA, inS int
	for s, f := range fc {
		if inside(actN[s], f.Purchases, f.PurchasesSD, f.PurchasesChanceSD) {
			inN++
		}
		if inside(actA[s], f.Active, f.ActiveSD, f.ActiveChanceSD) {
			inA++
		}
		if inside(actS[s], f.Spend, f.SpendSD, f.SpendChanceSD) {
			inS++
		}
	}
	for _, c := range []struct {
		name string
		in   int
	}{{"purchases", inN}, {"active customers", inA}, {"spend", inS}} {
		share := float64(c.in) / segments
		t.Logf("%s: %d of %d segments inside P10-P90 (%.0f%%)", c.name, c.in, segments, 100*share)
		if share < 0.65 || share > 0.95 {
			t.Errorf("%s: P10-P90 holds the actual total in %.0f%% of %d segments, want 65-95%%", c.name, 100*share, segments)
		}
	}
}

// MBG/NBD's predictive variance against a simulation of the model: a new
// customer (no history: x = 0, T → 0) may drop out at once, with probability
// p, and otherwise buys at rate λ and drops out after each purchase with
// probability p. The simulated mean and variance of the purchases in (0, t]
// must match ConditionalExpectedPurchases and ConditionalPurchaseVariance
// within the simulation's error.
func TestMBGNBDConditionalPurchaseVariance(t *testing.T) {
	m := MBGNBD{R: 0.5, Alpha: 6, A: 0.8, B: 2.5}
	const horizon, n = 40.0, 400000
	rng := rand.New(rand.NewPCG(7, 8))
	var s1, s2 float64
	for range n {
		lam, p := gammaRand(rng, m.R, m.Alpha), betaRand(rng, m.A, m.B)
		k := 0
		if rng.Float64() >= p {
			for at := rng.ExpFloat64() / lam; at <= horizon; at += rng.ExpFloat64() / lam {
				k++
				if rng.Float64() < p {
					break
				}
			}
		}
		s1 += float64(k)
		s2 += float64(k * k)
	}
	mean := s1 / n
	variance := s2/n - mean*mean
	const T = 1e-12
	wantMean := m.ConditionalExpectedPurchases(horizon, 0, 0, T)
	wantVar := m.ConditionalPurchaseVariance(horizon, 0, 0, T)
	// The mean's standard error is sqrt(variance/n); the variance's, for a
	// skewed count, a few times variance·sqrt(2/n).
	if se := math.Sqrt(wantVar / n); math.Abs(mean-wantMean) > 4*se {
		t.Errorf("simulated mean %.5f, model %.5f (standard error %.5f)", mean, wantMean, se)
	}
	if math.Abs(variance-wantVar) > 0.03*wantVar {
		t.Errorf("simulated variance %.5f, model %.5f", variance, wantVar)
	}
	// An alive customer's moments also give the published mean.
	for _, c := range []RFM{{X: 2, TX: 30.43, T: 38.86}, {X: 0, TX: 0, T: 50}} {
		pa := m.PAlive(c.X, c.TX, c.T)
		m1, _ := bgMoments(m.R+c.X, m.Alpha+c.T, m.A, m.B+c.X+1, 39)
		if want := m.ConditionalExpectedPurchases(39, c.X, c.TX, c.T); !scalar.EqualWithinAbsOrRel(pa*m1, want, 1e-12, 1e-9) {
			t.Errorf("%+v: P(alive)·E[X] = %.12g, want %.12g", c, pa*m1, want)
		}
	}
}

// bgMoments takes P(N = n) by the ratio of consecutive terms, and in
// logarithms where P(N = 0) underflows: both ways give the closed-form mean
// for shapes that put P(N = 0) near (r = 150: e^-494) and beyond (r = 400:
// e^-1318) the range of a float64.
func TestBGMomentsLargeShape(t *testing.T) {
	for _, r := range []float64{150, 400} {
		m := BGNBD{R: r, Alpha: 2, A: 0.8, B: 2.4}
		m1, m2 := bgMoments(m.R, m.Alpha, m.A, m.B, 52)
		if want := m.ExpectedPurchases(52); !scalar.EqualWithinAbsOrRel(m1, want, 1e-12, 1e-9) {
			t.Errorf("r=%v: E[X(52)] = %.12g, want %.12g", r, m1, want)
		}
		if !(m2 >= m1*m1) {
			t.Errorf("r=%v: E[X²] = %g below E[X]² = %g", r, m2, m1*m1)
		}
	}
}
