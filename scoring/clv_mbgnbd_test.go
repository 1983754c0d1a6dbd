package scoring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/mathext"
)

// mbgModel is an MBG/NBD at the scale of the CDNOW fits (weeks).
var mbgModel = MBGNBD{R: 0.525, Alpha: 6.183, A: 0.891, B: 1.614}

// TestMBGNBDExpectations checks the expectations against the closed forms
// of Batislam, Denizel & Filiztekin (2007) evaluated in 50-digit
// arithmetic (mpmath 1.3.0):
// E[Y(t)|x,t_x,T] = (a+b+x)/(a-1)·[1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(α+T+t))] / (1 + a/(b+x)((α+T)/(α+t_x))^(r+x))
// and E[X(t)] = b/(a-1)·[1 - (α/(α+t))^r 2F1(r, b+1; a+b; t/(α+t))].
func TestMBGNBDExpectations(t *testing.T) {
	for _, c := range []struct{ t, x, tx, T, want float64 }{
		{39, 0, 0, 38, 0.15761713519716721644},
		{39, 2, 30.43, 38.86, 1.2629606232673656765},
		{52, 10, 50, 52, 6.4967157504279365894},
		{13, 0, 0, 3, 0.3588183372246626006},
	} {
		if got := mbgModel.ConditionalExpectedPurchases(c.t, c.x, c.tx, c.T); !scalar.EqualWithinAbsOrRel(got, c.want, 0, 1e-12) {
			t.Errorf("E[Y(%g)|%g, %g, %g] = %.17g, want %.17g", c.t, c.x, c.tx, c.T, got, c.want)
		}
	}
	for _, c := range []struct{ t, want float64 }{
		{1, 0.053084795263701838189}, {13, 0.53535686423543457639}, {52, 1.4197237577127461229}, {78, 1.8047575775531416551},
	} {
		if got := mbgModel.ExpectedPurchases(c.t); !scalar.EqualWithinAbsOrRel(got, c.want, 0, 1e-12) {
			t.Errorf("E[X(%g)] = %.17g, want %.17g", c.t, got, c.want)
		}
	}
	// At least one purchase in the next t: P(alive) times the chance that
	// an active customer's Gamma(r+x, α+T) rate brings one.
	pa := mbgModel.PAlive(3, 20, 30)
	want := pa * (1 - math.Pow((mbgModel.Alpha+30)/(mbgModel.Alpha+30+52), mbgModel.R+3))
	if got := mbgModel.ConditionalProbPurchase(52, 3, 20, 30); !scalar.EqualWithinAbsOrRel(got, want, 0, 1e-14) {
		t.Errorf("P(purchase in 52 | 3, 20, 30) = %v, want %v", got, want)
	}
}

// TestMBGNBDOneTimeBuyers: unlike BG/NBD, a customer who never bought again
// may have dropped out right after the first purchase, and the longer they
// stay silent the likelier that is.
func TestMBGNBDOneTimeBuyers(t *testing.T) {
	bg := BGNBD(mbgModel)
	prev := 1.0
	for _, T := range []float64{0.5, 4, 13, 26, 52, 104} {
		p := mbgModel.PAlive(0, 0, T)
		if !(p < prev) || !(p > 0) {
			t.Errorf("P(alive | x=0, T=%g) = %v, want in (0, %v)", T, p, prev)
		}
		prev = p
		if b := bg.PAlive(0, 0, T); b != 1 {
			t.Errorf("BG/NBD P(alive | x=0, T=%g) = %v, want 1", T, b)
		}
	}
	// Just after the first purchase, the only way to be gone is the first
	// dropout chance: P(alive) = 1 - E[p] = b/(a+b).
	if got, want := mbgModel.PAlive(0, 0, 0), mbgModel.B/(mbgModel.A+mbgModel.B); !scalar.EqualWithinAbsOrRel(got, want, 0, 1e-15) {
		t.Errorf("P(alive | x=0, T=0) = %v, want b/(a+b) = %v", got, want)
	}
}

// TestMBGNBDLikelihood checks the likelihood of single customers against
// the individual-level likelihood integrated over p ~ Beta(a, b) by the
// midpoint rule in u = p^a, the λ integral in closed form:
// E_λ[λ^x e^(-λs)] = Γ(r+x)/Γ(r) α^r/(α+s)^(r+x), and, for given p,
// L = (1-p)^(x+1) E_λ[λ^x e^(-λT)] + p(1-p)^x E_λ[λ^x e^(-λt_x)].
// It also checks the analytic gradient against central differences.
func TestMBGNBDLikelihood(t *testing.T) {
	m := MBGNBD{R: 0.7, Alpha: 5, A: 1.3, B: 2.5}
	for _, c := range []RFM{{X: 0, TX: 0, T: 30}, {X: 1, TX: 2, T: 30}, {X: 6, TX: 25.5, T: 31}, {X: 3, TX: 4, T: 52}} {
		got, err := m.LogLik([]RFM{c})
		if err != nil {
			t.Fatal(err)
		}
		lg := func(s float64) float64 {
			l1, _ := math.Lgamma(m.R + c.X)
			l2, _ := math.Lgamma(m.R)
			return math.Exp(l1 - l2 + m.R*math.Log(m.Alpha) - (m.R+c.X)*math.Log(m.Alpha+s))
		}
		eT, eTx := lg(c.T), lg(c.TX)
		const n = 200000
		var s float64
		for i := range n {
			p := math.Pow((float64(i)+0.5)/n, 1/m.A)
			s += math.Pow(1-p, m.B-1) * (math.Pow(1-p, c.X+1)*eT + p*math.Pow(1-p, c.X)*eTx)
		}
		want := math.Log(s / n / m.A / math.Exp(mathext.Lbeta(m.A, m.B)))
		if !scalar.EqualWithinAbsOrRel(got, want, 1e-6, 0) {
			t.Errorf("%+v: log L = %.9f, quadrature %.9f", c, got, want)
		}
	}
	rows, _ := simulateMBGNBD(300, m, 5)
	g, err := prepareRFM(rows)
	if err != nil {
		t.Fatal(err)
	}
	grad := make([]float64, 4)
	m.logLik(g, grad)
	p := m.Params()
	for i := range p {
		h := 1e-6 * p[i]
		q := append([]float64(nil), p...)
		q[i] = p[i] + h
		lp := m.WithParams(q).(MBGNBD).logLik(g, nil)
		q[i] = p[i] - h
		lm := m.WithParams(q).(MBGNBD).logLik(g, nil)
		if fd := (lp - lm) / (2 * h); !scalar.EqualWithinAbsOrRel(grad[i], fd, 1e-5, 1e-6) {
			t.Errorf("d logL/d %d = %v, central difference %v", i, grad[i], fd)
		}
	}
}

// simulateMBGNBD draws n customers of an MBG/NBD: ages T in whole days up
// to 39 weeks; after the first purchase (at 0) and after each repeat
// purchase the customer drops out with probability p.
func simulateMBGNBD(n int, m MBGNBD, seed uint64) ([]RFM, int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rows := make([]RFM, n)
	dropped0 := 0
	for i := range rows {
		T, lambda, p := drawCustomer(rng, m.R, m.Alpha, m.A, m.B)
		var x, tx float64
		if rng.Float64() < p {
			dropped0++
		} else {
			x, tx = drawPurchases(rng, T, lambda, p)
		}
		rows[i] = RFM{X: x, TX: tx, T: T}
	}
	return rows, dropped0
}

// TestMBGNBDParameterRecovery fits data simulated from known parameters:
// the estimates must lie within 4 standard errors of the truth (chance of
// failing below 0.03% for 4 parameters if the likelihood is right) with
// usable standard errors (below 15% of the value).
func TestMBGNBDParameterRecovery(t *testing.T) {
	truth := MBGNBD{R: 0.6, Alpha: 5, A: 0.8, B: 2.5}
	rows, dropped0 := simulateMBGNBD(50000, truth, 42)
	m, res, err := FitMBGNBD(rows)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MBG/NBD %+v se %v (%d customers dropped out at their first purchase)", m, res.StdErr, dropped0)
	for i, w := range truth.Params() {
		got, se := res.Params[i], res.StdErr[i]
		if !(se > 0) || se/w > 0.15 {
			t.Errorf("%s: standard error %v is unusable", res.Names[i], se)
		}
		if math.Abs(got-w) > 4*se {
			t.Errorf("%s = %.4f, truth %.4f, %.1f standard errors away", res.Names[i], got, w, math.Abs(got-w)/se)
		}
	}
	// The same data fitted with BG/NBD, which has no dropout at the first
	// purchase, fit worse.
	_, bres, err := FitBGNBD(rows)
	if err != nil {
		t.Fatal(err)
	}
	if !(res.LogLik > bres.LogLik) {
		t.Errorf("MBG/NBD log-likelihood %v not above BG/NBD's %v on MBG/NBD data", res.LogLik, bres.LogLik)
	}
}

func ExampleMBGNBD_PAlive() {
	m := MBGNBD{R: 0.525, Alpha: 6.183, A: 0.891, B: 1.614}
	for _, T := range []float64{1, 13, 52} {
		fmt.Printf("one-time buyer, %2.0f weeks since the purchase: P(alive) = %.3f\n", T, m.PAlive(0, 0, T))
	}
	fmt.Printf("two repeat purchases, the last 8 weeks ago:  P(alive) = %.3f\n", m.PAlive(2, 30, 38))
	// Output:
	// one-time buyer,  1 weeks since the purchase: P(alive) = 0.626
	// one-time buyer, 13 weeks since the purchase: P(alive) = 0.500
	// one-time buyer, 52 weeks since the purchase: P(alive) = 0.358
	// two repeat purchases, the last 8 weeks ago:  P(alive) = 0.710
}
