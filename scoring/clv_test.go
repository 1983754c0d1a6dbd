package scoring

import (
	"encoding/csv"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/mathext"
)

// clvSharedData returns the directory of the public datasets:
// $CRMSEG_SHARED_DATA, or ../../shared/data from this package. Tests that
// need it skip when it is absent.
func clvSharedData(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CRMSEG_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Skipf("public datasets not found at %s (set CRMSEG_SHARED_DATA): %v", dir, err)
	}
	return dir
}

type cdnowCustomer struct {
	id           int
	x, tx, T     float64
	xStar, TStar float64
	zbar         float64
}

// loadCDNOW reads the CDNOW sample's calibration summary at full precision
// (weeks; 2,357 customers).
func loadCDNOW(t testing.TB) []cdnowCustomer {
	t.Helper()
	path := filepath.Join(clvSharedData(t), "cdnow", "derived", "cdnow_sample_cbs_exact.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("CDNOW summary not found at %s: %v", path, err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "x", "t_x", "T_cal", "x_star", "T_star", "zbar_repeat_cal"}
	for i, h := range want {
		if recs[0][i] != h {
			t.Fatalf("%s: column %d is %q, want %q", path, i, recs[0][i], h)
		}
	}
	var out []cdnowCustomer
	for _, r := range recs[1:] {
		var v [7]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(r[i], 64); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		out = append(out, cdnowCustomer{int(v[0]), v[1], v[2], v[3], v[4], v[5], v[6]})
	}
	if len(out) != 2357 {
		t.Fatalf("%s: %d customers, want 2357", path, len(out))
	}
	return out
}

func cdnowRFM(cs []cdnowCustomer) []RFM {
	rows := make([]RFM, len(cs))
	for i, c := range cs {
		rows[i] = RFM{X: c.x, TX: c.tx, T: c.T, Weight: 1}
	}
	return rows
}

func cdnowSpend(cs []cdnowCustomer) []Spend {
	rows := make([]Spend, len(cs))
	for i, c := range cs {
		rows[i] = Spend{X: c.x, ZBar: c.zbar, Weight: 1}
	}
	return rows
}

// sig3 reports whether got and want agree to 3 significant digits, i.e.
// round to the same 3-digit mantissa.
func sig3(got, want float64) bool {
	e := math.Floor(math.Log10(math.Abs(want)))
	scale := math.Pow(10, e-2)
	return math.Round(got/scale) == math.Round(want/scale)
}

func TestBGNBDCDNOW(t *testing.T) {
	cs := loadCDNOW(t)
	m, res, err := FitBGNBD(cdnowRFM(cs))
	if err != nil || !res.Converged {
		t.Fatalf("fit: %v (converged %v)", err, res.Converged)
	}
	t.Logf("BG/NBD %+v LL %.6f se %v iterations %d evaluations %d method %s start %d groups %d",
		m, res.LogLik, res.StdErr, res.Iterations, res.Evaluations, res.Method, res.Start, res.Groups)
	want := []float64{0.2425945, 4.4136019, 0.7929199, 2.4258881}
	for i, w := range want {
		if !sig3(res.Params[i], w) {
			t.Errorf("%s = %.7g, want %.7g to 3 significant digits", res.Names[i], res.Params[i], w)
		}
	}
	if math.Abs(res.LogLik-(-9582.429)) > 0.01 {
		t.Errorf("LL = %.4f, want -9582.429", res.LogLik)
	}
	if res.N != 2357 {
		t.Errorf("N = %v", res.N)
	}
	for i, se := range res.StdErr {
		if !(se > 0) || se > res.Params[i] {
			t.Errorf("StdErr[%s] = %v", res.Names[i], se)
		}
	}
	// The likelihood at the published parameters.
	ll, err := BGNBD{0.2425945, 4.4136019, 0.7929199, 2.4258881}.LogLik(cdnowRFM(cs))
	if err != nil || math.Abs(ll-(-9582.429)) > 0.01 {
		t.Errorf("LL at the published parameters = %.4f (%v), want -9582.429", ll, err)
	}

	// Predictions at the fitted parameters (FHL 2005).
	if got := m.ConditionalExpectedPurchases(39, 2, 30.43, 38.86); math.Abs(got-1.226) > 0.0005 {
		t.Errorf("E[Y(39)|2,30.43,38.86] = %.5f, want 1.226", got)
	}
	// The published E[X(t)] agree with ours to 4 decimals except at t = 78,
	// where they give 1.8576 and both our 2F1 form and a direct quadrature
	// over p (bgnbdExpectedByQuadrature) give 1.85796: that one is checked
	// to 5e-4, and every value against the quadrature to 1e-7.
	ts := []float64{0.1429, 1, 3, 31.8571, 32, 78}
	ex := []float64{0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576}
	for i, tt := range ts {
		got := m.ExpectedPurchases(tt)
		tol := 0.00005
		if tt == 78 {
			tol = 0.0005
		}
		if math.Abs(got-ex[i]) > tol {
			t.Errorf("E[X(%g)] = %.5f, want %.4f", tt, got, ex[i])
		}
		if q := bgnbdExpectedByQuadrature(m, tt); math.Abs(got-q) > 1e-7 {
			t.Errorf("E[X(%g)] = %.9f, quadrature %.9f", tt, got, q)
		}
	}
	paper := BGNBD{0.243, 4.414, 0.793, 2.426}
	if got := paper.ProbPurchases(0, 39); math.Abs(got-0.5737864) > 5e-8 {
		t.Errorf("P(X(39)=0) = %.8f, want 0.5737864", got)
	}

	// Holdout (39 weeks): the 1,411 customers without a repeat purchase in
	// calibration are predicted about 0.23 purchases each and made 334.
	var pred0, n0, actual0, actual float64
	for _, c := range cs {
		actual += c.xStar
		if c.x == 0 {
			pred0 += m.ConditionalExpectedPurchases(c.TStar, c.x, c.tx, c.T)
			actual0 += c.xStar
			n0++
		}
	}
	t.Logf("holdout, x=0: %v customers predicted %.4f each (%.1f), made %v", n0, pred0/n0, pred0, actual0)
	if n0 != 1411 || actual0 != 334 || actual != 1882 || math.Round(pred0/n0*100) != 23 {
		t.Errorf("holdout x=0: %v customers predicted %.4f each, made %v (total %v)", n0, pred0/n0, actual0, actual)
	}
}

// bgnbdExpectedByQuadrature computes E[X(t)] = E_p[(1 - (α/(α+pt))^r)/p]
// with p ~ Beta(a, b) by the midpoint rule in u = p^a (which absorbs the
// p^(a-1) factor of the density); it needs b >= 1.
func bgnbdExpectedByQuadrature(m BGNBD, t float64) float64 {
	const n = 400000
	lb := mathext.Lbeta(m.A, m.B)
	var s float64
	for i := range n {
		u := (float64(i) + 0.5) / n
		p := math.Pow(u, 1/m.A)
		s += -math.Expm1(m.R*math.Log(m.Alpha/(m.Alpha+p*t))) / p * math.Pow(1-p, m.B-1)
	}
	return s / n / m.A / math.Exp(lb)
}

func TestBGNBDProbabilities(t *testing.T) {
	m := BGNBD{0.243, 4.414, 0.793, 2.426}
	// The pmf sums to one and its mean is E[X(t)].
	var sum, mean float64
	for n := 0; n < 2000; n++ {
		p := m.ProbPurchases(n, 39)
		sum += p
		mean += float64(n) * p
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("sum of P(X(39)=n) = %.12f", sum)
	}
	if e := m.ExpectedPurchases(39); math.Abs(mean-e) > 1e-6 {
		t.Errorf("mean of the pmf %.8f, E[X(39)] %.8f", mean, e)
	}
	// A new customer (x=0, T→0) has P(purchase in t) = 1 - P(X(t)=0).
	if p, q := m.ConditionalProbPurchase(39, 0, 0, 1e-12), 1-m.ProbPurchases(0, 39); math.Abs(p-q) > 1e-9 {
		t.Errorf("conditional P(purchase) %.10f, unconditional %.10f", p, q)
	}
	if pa := m.PAlive(0, 0, 30); pa != 1 {
		t.Errorf("P(alive|x=0) = %v", pa)
	}
	// E[Y(t)|x=0,T→0] = E[X(t)].
	if a, b := m.ConditionalExpectedPurchases(39, 0, 0, 1e-12), m.ExpectedPurchases(39); math.Abs(a-b) > 1e-9 {
		t.Errorf("E[Y(39)|new] %.10f, E[X(39)] %.10f", a, b)
	}
	// a = 1 is a removable singularity.
	for _, a := range []float64{1 - 2e-6, 1, 1 + 2e-6} {
		m1 := BGNBD{0.5, 3, a, 2}
		e := m1.ExpectedPurchases(20)
		ref := (BGNBD{0.5, 3, 1 - 1e-3, 2}.ExpectedPurchases(20) + BGNBD{0.5, 3, 1 + 1e-3, 2}.ExpectedPurchases(20)) / 2
		if math.Abs(e-ref) > 1e-5 || math.IsNaN(e) {
			t.Errorf("a=%v: E[X(20)] = %v, near %v", a, e, ref)
		}
	}
}

func TestParetoNBDCDNOW(t *testing.T) {
	cs := loadCDNOW(t)
	m, res, err := FitParetoNBD(cdnowRFM(cs))
	if err != nil || !res.Converged {
		t.Fatalf("fit: %v (converged %v)", err, res.Converged)
	}
	t.Logf("Pareto/NBD %+v LL %.6f se %v iterations %d evaluations %d method %s start %d",
		m, res.LogLik, res.StdErr, res.Iterations, res.Evaluations, res.Method, res.Start)
	want := []float64{0.55315, 10.57633, 0.60625, 11.67150}
	for i, w := range want {
		if !sig3(res.Params[i], w) {
			t.Errorf("%s = %.7g, want %.7g to 3 significant digits", res.Names[i], res.Params[i], w)
		}
	}
	if math.Abs(res.LogLik-(-9594.976)) > 0.01 {
		t.Errorf("LL = %.4f, want -9594.976", res.LogLik)
	}
	ll, err := ParetoNBD{0.55315, 10.57633, 0.60625, 11.67150}.LogLik(cdnowRFM(cs))
	if err != nil || math.Abs(ll-(-9594.976)) > 0.01 {
		t.Errorf("LL at the published parameters = %.4f (%v), want -9594.976", ll, err)
	}
	for i, se := range res.StdErr {
		if !(se > 0) || se > res.Params[i] {
			t.Errorf("StdErr[%s] = %v", res.Names[i], se)
		}
	}

	pub := ParetoNBD{0.5534, 10.5802, 0.6061, 11.6562}
	if got := pub.PAlive(26, 30.86, 31); math.Abs(got-0.9979) > 0.00005 {
		t.Errorf("P(alive|26,30.86,31) = %.5f, want 0.9979", got)
	}
	// Published 25.46; the formula, checked by quadrature of the dropout
	// time, gives 25.45491.
	if got := pub.ConditionalExpectedPurchases(52, 26, 30.86, 31); math.Abs(got-25.46) > 0.01 || math.Abs(got-25.45491) > 1e-5 {
		t.Errorf("E[Y(52)|26,30.86,31] = %.4f, want 25.46", got)
	}
	// The two branches of the likelihood (α >= β, α < β) meet at α = β.
	for _, c := range []RFM{{X: 3, TX: 20, T: 35}, {X: 0, TX: 0, T: 30}, {X: 40, TX: 2, T: 39}} {
		lo, _ := ParetoNBD{0.5, 10 - 1e-9, 0.6, 10}.LogLik([]RFM{c})
		hi, _ := ParetoNBD{0.5, 10 + 1e-9, 0.6, 10}.LogLik([]RFM{c})
		if math.Abs(lo-hi) > 1e-8 {
			t.Errorf("%+v: LL jumps at α=β: %.12f vs %.12f", c, lo, hi)
		}
	}
}

func TestGammaGammaCDNOW(t *testing.T) {
	cs := loadCDNOW(t)
	m, res, err := FitGammaGamma(cdnowSpend(cs))
	if err != nil || !res.Converged {
		t.Fatalf("fit: %v (converged %v)", err, res.Converged)
	}
	t.Logf("Gamma-Gamma %+v LL %.6f se %v iterations %d method %s", m, res.LogLik, res.StdErr, res.Iterations, res.Method)
	if res.N != 946 {
		t.Errorf("fitted on %v repeat buyers, want 946", res.N)
	}
	for i, w := range []float64{6.25, 3.74, 15.44} {
		if math.Abs(res.Params[i]-w) > 0.01 {
			t.Errorf("%s = %.4f, want %.2f", res.Names[i], res.Params[i], w)
		}
	}
	if math.Abs(res.LogLik-(-4055.9177)) > 0.01 {
		t.Errorf("LL = %.4f, want -4055.9177", res.LogLik)
	}
	want := []float64{24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17}
	for i, w := range want {
		c := cs[i]
		if c.id != i+1 {
			t.Fatalf("row %d has id %d", i, c.id)
		}
		if got := m.ConditionalExpectedSpend(c.x, c.zbar); math.Abs(got-w) > 0.01 {
			t.Errorf("customer %d: E[Z|x=%v,zbar=%v] = %.4f, want %.2f", c.id, c.x, c.zbar, got, w)
		}
	}
}

func TestDiscountedCLV(t *testing.T) {
	m := BGNBD{0.243, 4.414, 0.793, 2.426}
	gg := GammaGamma{6.25, 3.74, 15.44}
	c := RFM{X: 2, TX: 30.43, T: 38.86}
	h := Horizon{Periods: 12, PeriodLength: 52.0 / 12, DiscountRate: 0.01}
	got := DiscountedCLV(m, gg, c, 22.345, h)
	// Undiscounted, the sum telescopes to E[Y(52)]·E[Z].
	flat := DiscountedCLV(m, gg, c, 22.345, Horizon{Periods: 12, PeriodLength: 52.0 / 12})
	want := m.ConditionalExpectedPurchases(52, 2, 30.43, 38.86) * gg.ConditionalExpectedSpend(2, 22.345)
	if math.Abs(flat-want) > 1e-9*want {
		t.Errorf("undiscounted CLV %.10f, want %.10f", flat, want)
	}
	if !(got < flat && got > flat/1.01/1.01/1.01/1.01/1.01/1.01/1.01/1.01/1.01/1.01/1.01/1.01) {
		t.Errorf("discounted CLV %v not between %v and its 12-month discount", got, flat)
	}
	var pm PurchaseModel = ParetoNBD{0.5534, 10.5802, 0.6061, 11.6562}
	if v := DiscountedCLV(pm, gg, c, 22.345, h); !(v > 0) {
		t.Errorf("Pareto/NBD CLV = %v", v)
	}
	if v := DiscountedCLV(m, gg, c, 22.345, Horizon{Periods: 3}); !math.IsNaN(v) {
		t.Errorf("CLV with no period length = %v, want NaN", v)
	}
}

// gammaRand draws from Gamma(shape, rate) (Marsaglia & Tsang 2000, with
// the shape < 1 boost).
func gammaRand(rng *rand.Rand, shape, rate float64) float64 {
	if shape < 1 {
		u := rng.Float64()
		return gammaRand(rng, shape+1, rate) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v / rate
		}
	}
}

func betaRand(rng *rand.Rand, a, b float64) float64 {
	x := gammaRand(rng, a, 1)
	return x / (x + gammaRand(rng, b, 1))
}

// drawCustomer draws a customer of a BG/NBD-like population: an age T in
// weeks, whole days from 27 to 39 weeks, a purchase rate λ ~ Gamma(r, α)
// and a dropout probability p ~ Beta(a, b).
func drawCustomer(rng *rand.Rand, r, alpha, a, b float64) (T, lambda, p float64) {
	T = 39 - math.Floor(rng.Float64()*84)/7
	lambda = gammaRand(rng, r, alpha)
	return T, lambda, betaRand(rng, a, b)
}

// drawPurchases draws the repeat purchases in (0, T] of a customer alive at
// 0 who buys at rate lambda and drops out after each purchase with
// probability p: their number, and the time of the last rounded to whole
// days (at most T).
func drawPurchases(rng *rand.Rand, T, lambda, p float64) (x, tx float64) {
	var tt float64
	for {
		tt += rng.ExpFloat64() / lambda
		if tt > T {
			break
		}
		x++
		tx = tt
		if rng.Float64() < p {
			break
		}
	}
	return x, math.Min(math.Round(tx*7)/7, T)
}

// simulateBGNBD draws n customers from a BG/NBD process with first
// purchases spread uniformly over the first 12 weeks of a 39-week window
// and times rounded to days (1/7 week), and their Gamma-Gamma mean repeat
// spends.
func simulateBGNBD(n int, m BGNBD, gg GammaGamma, seed uint64) ([]RFM, []Spend) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rfm := make([]RFM, n)
	spend := make([]Spend, n)
	for i := range n {
		T, lambda, p := drawCustomer(rng, m.R, m.Alpha, m.A, m.B)
		x, tx := drawPurchases(rng, T, lambda, p)
		rfm[i] = RFM{X: x, TX: tx, T: T, Weight: 1}
		spend[i] = Spend{X: x, Weight: 1}
		if x > 0 {
			nu := gammaRand(rng, gg.Q, gg.Gamma)
			// The mean of x Gamma(p, ν) values is Gamma(px, xν); spends in cents.
			z := gammaRand(rng, gg.P*x, x*nu)
			spend[i].ZBar = math.Max(math.Round(z*100)/100, 0.01)
		}
	}
	return rfm, spend
}

func TestParameterRecovery(t *testing.T) {
	truth := BGNBD{0.6, 5, 0.8, 2.5}
	ggTruth := GammaGamma{4, 5, 20}
	rfm, spend := simulateBGNBD(50000, truth, ggTruth, 42)
	m, res, err := FitBGNBD(rfm)
	if err != nil {
		t.Fatal(err)
	}
	g, gres, err := FitGammaGamma(spend)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BG/NBD %+v se %v; Gamma-Gamma %+v se %v", m, res.StdErr, g, gres.StdErr)
	// With a correct model and likelihood the estimates are asymptotically
	// normal around the truth with the reported standard errors: with 7
	// parameters, each within 4 standard errors fails by chance with
	// probability < 0.05%. Rounding times to days biases the BG/NBD
	// estimates slightly, far below one standard error at this size. The
	// standard errors must also be small enough for the check to mean
	// something (relative error below 15%).
	check := func(name string, got, want, se float64) {
		t.Helper()
		if !(se > 0) || se/want > 0.15 {
			t.Errorf("%s: standard error %v is unusable", name, se)
		}
		if math.Abs(got-want) > 4*se {
			t.Errorf("%s = %.4f, truth %.4f, %.1f standard errors away", name, got, want, math.Abs(got-want)/se)
		}
	}
	for i, w := range []float64{truth.R, truth.Alpha, truth.A, truth.B} {
		check(res.Names[i], res.Params[i], w, res.StdErr[i])
	}
	for i, w := range []float64{ggTruth.P, ggTruth.Q, ggTruth.Gamma} {
		check(gres.Names[i], gres.Params[i], w, gres.StdErr[i])
	}
}

func TestGroupingGivesSameFit(t *testing.T) {
	rfm, spend := simulateBGNBD(20000, BGNBD{0.4, 6, 0.7, 3}, GammaGamma{5, 4, 15}, 7)
	grouped := GroupRFM(rfm)
	if len(grouped) >= len(rfm) {
		t.Fatalf("grouping did not merge: %d -> %d", len(rfm), len(grouped))
	}
	var w float64
	for i, g := range grouped {
		w += g.Weight
		if i > 0 && cmpRFM(grouped[i-1], g) >= 0 {
			t.Fatalf("groups not strictly sorted at %d", i)
		}
	}
	if w != float64(len(rfm)) {
		t.Fatalf("grouped weights sum to %v, want %d", w, len(rfm))
	}
	m1, r1, err1 := FitBGNBD(rfm)
	m2, r2, err2 := FitBGNBD(grouped)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if m1 != m2 || r1.LogLik != r2.LogLik {
		t.Errorf("ungrouped %+v (%v) vs grouped %+v (%v)", m1, r1.LogLik, m2, r2.LogLik)
	}
	// Against the likelihood summed customer by customer.
	var perCustomer float64
	for _, c := range rfm {
		l, _ := m1.LogLik([]RFM{c})
		perCustomer += l
	}
	if math.Abs(perCustomer-r1.LogLik) > 1e-8*math.Abs(perCustomer) {
		t.Errorf("grouped LL %.8f, per-customer sum %.8f", r1.LogLik, perCustomer)
	}
	g1, s1, _ := FitGammaGamma(spend)
	g2, s2, _ := FitGammaGamma(GroupSpend(spend))
	if g1 != g2 || s1.LogLik != s2.LogLik {
		t.Errorf("Gamma-Gamma ungrouped %+v vs grouped %+v", g1, g2)
	}
}

func TestFitDeterministicAcrossGOMAXPROCS(t *testing.T) {
	rfm, spend := simulateBGNBD(60000, BGNBD{0.4, 6, 0.7, 3}, GammaGamma{5, 4, 15}, 11)
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	m1, r1, _ := FitBGNBD(rfm)
	g1, _, _ := FitGammaGamma(spend)
	p1, _, _ := FitParetoNBD(rfm[:5000])
	runtime.GOMAXPROCS(4)
	m2, r2, _ := FitBGNBD(rfm)
	g2, _, _ := FitGammaGamma(spend)
	p2, _, _ := FitParetoNBD(rfm[:5000])
	if r1.Groups <= clvChunk {
		t.Fatalf("only %d groups: the test needs several chunks", r1.Groups)
	}
	if m1 != m2 || r1.LogLik != r2.LogLik || g1 != g2 || p1 != p2 {
		t.Errorf("GOMAXPROCS changes the fit: %+v/%+v, %+v/%+v, %+v/%+v", m1, m2, g1, g2, p1, p2)
	}
}

func TestDegenerateInputs(t *testing.T) {
	if _, _, err := FitBGNBD(nil); !errors.Is(err, ErrNoData) {
		t.Errorf("BG/NBD on no data: %v", err)
	}
	if _, _, err := FitParetoNBD(nil); !errors.Is(err, ErrNoData) {
		t.Errorf("Pareto/NBD on no data: %v", err)
	}
	if _, _, err := FitGammaGamma(nil); !errors.Is(err, ErrNoData) {
		t.Errorf("Gamma-Gamma on no data: %v", err)
	}
	noRepeat := []RFM{{X: 0, T: 10}, {X: 0, T: 20, Weight: 5}, {X: 0, T: 30}}
	if _, res, err := FitBGNBD(noRepeat); !errors.Is(err, ErrDegenerate) || res.Converged {
		t.Errorf("BG/NBD with no repeat purchase: %v, converged %v", err, res.Converged)
	}
	if _, res, err := FitParetoNBD(noRepeat); !errors.Is(err, ErrDegenerate) || res.Converged {
		t.Errorf("Pareto/NBD with no repeat purchase: %v, converged %v", err, res.Converged)
	}
	if _, _, err := FitGammaGamma([]Spend{{X: 0}, {X: 0, Weight: 3}}); !errors.Is(err, ErrNoData) {
		t.Errorf("Gamma-Gamma with no repeat buyer: %v", err)
	}
	same := []Spend{{X: 1, ZBar: 10}, {X: 2, ZBar: 10}, {X: 3, ZBar: 10}, {X: 5, ZBar: 10}}
	if _, res, err := FitGammaGamma(same); err == nil || res.Converged {
		t.Errorf("Gamma-Gamma with one spend value: %v, converged %v, %+v", err, res.Converged, res)
	}
	for _, bad := range []RFM{{X: -1, T: 1}, {X: 1.5, TX: 1, T: 2}, {X: 1, TX: 3, T: 2}, {X: 0, TX: 1, T: 2}, {X: 1, TX: 1, T: 0}, {X: 1, TX: 1, T: 2, Weight: -1}, {X: math.NaN(), T: 1}} {
		if _, _, err := FitBGNBD([]RFM{{X: 1, TX: 1, T: 2}, bad}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%+v: %v, want ErrInvalidInput", bad, err)
		}
	}
	if _, _, err := FitGammaGamma([]Spend{{X: 1, ZBar: 0}}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("zero spend: %v", err)
	}
}

// BenchmarkFitOneMillion fits BG/NBD and Gamma-Gamma to 1,000,000 simulated
// customers (times in days, spends in cents), grouping included.
func BenchmarkFitOneMillion(b *testing.B) {
	rfm, spend := simulateBGNBD(1_000_000, BGNBD{0.25, 4.4, 0.8, 2.4}, GammaGamma{6, 4, 15}, 1)
	b.ResetTimer()
	for b.Loop() {
		_, r1, err := FitBGNBD(rfm)
		if err != nil {
			b.Fatal(err)
		}
		_, r2, err := FitGammaGamma(spend)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r1.Groups), "rfm-groups")
		b.ReportMetric(float64(r2.Groups), "spend-groups")
	}
}
