package scoring

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// TestAliveExpectedPurchases checks the series for the expected purchases
// of a customer alive now against the closed form
// (a+b-1)/(a-1)·[1 - (θ/(θ+t))^r 2F1(r, b; a+b-1; t/(θ+t))] evaluated in
// 60-digit arithmetic (mpmath 1.3.0, hyp2f1), where the closed form in
// double precision fails: a fit at a → 0 with b in the tens of thousands
// (Online Retail's calibration up to 2011-09-09, which gave -51,960 for a
// one-time buyer), a next to 1, a > b, a heavy buyer (r = 150), z next to 1
// and a tiny horizon.
func TestAliveExpectedPurchases(t *testing.T) {
	cases := []struct{ r, a, b, theta, t, want float64 }{
		{0.7235796258200494, 2.0732147227728738e-07, 51960.724546100224, 9.367124723496051 + 22.0/7, 13, 0.75192236376671475467},
		{0.5, 1.0000001, 3, 10, 52, 1.5416346010567252249},
		{2, 10, 0.5, 5, 52, 1.0464395408718146757},
		{150.3, 0.8, 152.5, 60, 52, 100.19072861519984461},
		{0.3, 0.6, 2.5, 0.05, 100, 32.907666357008665185},
		{1.2, 0.8, 2.4, 40, 1e-6, 2.9999999793750002357e-8},
		{0.01, 0.3, 0.4, 4, 39, 0.052882655992696550111},
		{0.2425945, 0.7929199, 2.4258881, 4.4136019, 78, 1.8579560091180785677},
		{3, 40, 1e-7, 0.1, 52, 0.99999999549300491487},
	}
	for _, c := range cases {
		got := aliveExpectedPurchases(c.r, c.a, c.b, c.theta, c.t)
		if !scalar.EqualWithinAbsOrRel(got, c.want, 0, 1e-12) {
			t.Errorf("r=%g a=%g b=%g θ=%g t=%g: %.17g, want %.17g", c.r, c.a, c.b, c.theta, c.t, got, c.want)
		}
	}
	if got := aliveExpectedPurchases(1, 1, 1, 1, 0); got != 0 {
		t.Errorf("t = 0: %v", got)
	}
	if got := aliveExpectedPurchases(1, -1, 1, 1, 1); !math.IsNaN(got) {
		t.Errorf("a < 0: %v, want NaN", got)
	}
}

// TestAliveExpectedPurchasesBounds: over a grid reaching the edges of the
// parameter space, the expectation is finite, at least 0, at most the
// NBD's r·t/θ (dropping out can only take purchases away) and, to
// rounding (1e-8, reached at z = t/(θ+t) near 1 with r in the hundreds), increasing in t.
func TestAliveExpectedPurchasesBounds(t *testing.T) {
	vals := []float64{1e-7, 1e-3, 0.3, 1, 3, 40, 5e4, 1e7}
	for _, r := range []float64{1e-3, 0.3, 1, 3, 40, 150} { // r+x: x up to hundreds
		for _, a := range vals {
			for _, b := range vals {
				for _, theta := range []float64{0.5, 10, 200} {
					prev := 0.0
					for _, tt := range []float64{0.5, 13, 52, 520} {
						e := aliveExpectedPurchases(r, a, b, theta, tt)
						nbd := r * tt / theta
						if !(e >= 0) || e > nbd*(1+1e-12) || e < prev*(1-1e-8) {
							t.Fatalf("r=%g a=%g b=%g θ=%g t=%g: %v (NBD %v, at the shorter t %v)", r, a, b, theta, tt, e, nbd, prev)
						}
						prev = e
					}
				}
			}
		}
	}
}

// TestBGNBDEdgeOfParameterSpace: customers who never drop out (the NBD:
// Poisson purchases at Gamma-distributed rates) push the BG/NBD fit to the
// edge of its parameter space, a → 0 with b → ∞, where the dropout
// parameters are not identified. The fit says so (ErrDegenerate, not
// converged) and keeps the point it reached, whose predictions are still
// non-negative.
func TestBGNBDEdgeOfParameterSpace(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rows := make([]RFM, 4000)
	for i := range rows {
		T := 39 - math.Floor(rng.Float64()*84)/7
		lambda := gammaRand(rng, 0.7, 9)
		var x, tx, tt float64
		for {
			tt += rng.ExpFloat64() / lambda
			if tt > T {
				break
			}
			x, tx = x+1, math.Min(math.Round(tt*7)/7, T)
		}
		rows[i] = RFM{X: x, TX: tx, T: T}
	}
	m, res, err := FitBGNBD(rows)
	t.Logf("%+v %v", m, err)
	if !errors.Is(err, ErrDegenerate) || res.Converged {
		t.Fatalf("fit %+v: error %v, converged %v; want ErrDegenerate, not converged", m, err, res.Converged)
	}
	if len(res.Params) != 4 || !strings.Contains(err.Error(), "edge of the parameter space") {
		t.Errorf("params %v, error %q: want the point reached and the reason", res.Params, err)
	}
	for _, r := range rows[:200] {
		if e := m.ConditionalExpectedPurchases(13, r.X, r.TX, r.T); !(e >= 0) {
			t.Fatalf("%+v: E[Y(13)] = %v", r, e)
		}
	}
}

// TestBGNBDOtherEdgeOfParameterSpace: customers who all share one dropout
// probability push the fit towards the other edge, a and b both → ∞ (the
// Beta collapsing onto one p). Wherever along that ridge the optimiser
// stops, the fit is reported degenerate; a fit that stays inside (a finite
// sample can) is converged.
func TestBGNBDOtherEdgeOfParameterSpace(t *testing.T) {
	truth := BGNBD{R: 0.8, Alpha: 6, A: 2e6, B: 8e6} // p = 0.2 for every customer
	for seed := uint64(1); seed <= 6; seed++ {
		rows, _ := simulateBGNBD(3000, truth, GammaGamma{P: 4, Q: 5, Gamma: 20}, seed)
		m, res, err := FitBGNBD(rows)
		if err == nil {
			if !(m.A+m.B <= mleMaxShape) {
				t.Errorf("seed %d: converged at %+v, standard errors %v", seed, m, res.StdErr)
			}
			continue
		}
		if !errors.Is(err, ErrDegenerate) || res.Converged {
			t.Errorf("seed %d: fit %+v: error %v, converged %v; want ErrDegenerate", seed, m, err, res.Converged)
		}
	}
}

// TestCollapsedFitHasNoStandardErrors: a fit reported degenerate because a
// mixing distribution collapsed (BG/NBD's a + b, Gamma-Gamma's q above
// mleMaxShape) keeps the point it reached but no standard errors and no
// covariance, as every degenerate fit: docs/outputs.md's models table promises
// "value, no std_error", and the Hessian's inverse at a point the
// optimiser stopped at along a ridge measures nothing.
func TestCollapsedFitHasNoStandardErrors(t *testing.T) {
	collapsed := 0
	check := func(what string, res FitResult, err error) {
		t.Helper()
		if err == nil {
			return
		}
		if !errors.Is(err, ErrDegenerate) {
			t.Fatalf("%s: %v, want ErrDegenerate", what, err)
		}
		if strings.Contains(err.Error(), "collapsed") {
			collapsed++
		}
		for i, se := range res.StdErr {
			if !math.IsNaN(se) {
				t.Errorf("%s: degenerate fit (%v) has a standard error %g for %s", what, err, se, res.Names[i])
			}
		}
		if res.Cov != nil {
			t.Errorf("%s: degenerate fit (%v) has a covariance", what, err)
		}
	}
	for seed := uint64(1); seed <= 6; seed++ {
		rows, _ := simulateBGNBD(3000, BGNBD{R: 0.8, Alpha: 6, A: 2e6, B: 8e6}, GammaGamma{P: 4, Q: 5, Gamma: 20}, seed)
		_, res, err := FitBGNBD(rows)
		check(fmt.Sprintf("BG/NBD seed %d", seed), res, err)
	}
	for seed := uint64(1); seed <= 4; seed++ {
		_, sp := simulateBGNBD(500, BGNBD{R: 0.8, Alpha: 6, A: 0.8, B: 2.5}, GammaGamma{P: 4, Q: 1e7, Gamma: 2e8}, seed)
		var rep []Spend
		for _, s := range sp {
			if s.X > 0 {
				rep = append(rep, s)
			}
		}
		_, res, err := FitGammaGamma(rep)
		check(fmt.Sprintf("Gamma-Gamma seed %d", seed), res, err)
	}
	if collapsed == 0 {
		t.Fatal("no fit reached the collapse check: the test checks nothing")
	}
}
