package scoring

import (
	"math"
	"math/big"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/mathext"
)

// bigHyp2F1 sums the 2F1 series in 256-bit arithmetic for |z| < 1: slow but
// free of rounding, it is the reference the float64 code is checked against.
func bigHyp2F1(a, b, c, z float64) float64 {
	const prec = 256
	nf := func(v float64) *big.Float { return new(big.Float).SetPrec(prec).SetFloat64(v) }
	term, sum := nf(1), nf(1)
	bz := nf(z)
	tol := nf(1e-30)
	for k := 0; k < 2_000_000; k++ {
		fk := float64(k)
		num := new(big.Float).SetPrec(prec).Mul(nf(a+fk), nf(b+fk))
		den := new(big.Float).SetPrec(prec).Mul(nf(c+fk), nf(fk+1))
		term.Mul(term, num).Quo(term, den).Mul(term, bz)
		sum.Add(sum, term)
		if k > 10 && fk > math.Abs(a)+math.Abs(b) {
			at := new(big.Float).Abs(term)
			as := new(big.Float).Abs(sum)
			if at.Cmp(new(big.Float).Mul(as, tol)) < 0 {
				break
			}
		}
	}
	v, _ := sum.Float64()
	return v
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-300)
}

func TestHyp2F1AgainstReferenceSeries(t *testing.T) {
	cases := []struct{ a, b, c, z float64 }{
		{0.2425945, 2.4258881, 2.2188080, 0.1429 / (4.4136 + 0.1429)},
		{0.2425945, 2.4258881, 2.2188080, 0.95},
		{0.2425945, 2.4258881, 2.2188080, 0.99},
		{0.2425945, 2.4258881, 2.2188080, 0.999},
		{2.24, 4.43, 4.22, 0.43},
		{2.24, 4.43, 4.22, 0.9},
		{30.2, 32.4, 32.2, 0.6},
		{30.2, 32.4, 32.2, 0.9},
		{1.5, 2.5, 3.0, 0.999},        // c-a-b = -1: poles in the connection formula
		{1.5, 2.5, 3.0 + 1e-6, 0.999}, // nearly so
		{0.7, 0.3, 2.0, 0.9995},       // c-a-b = 1
		{0.5, 0.5, 1.5, 0.75},
		{-2.5, 1.2, 0.7, 0.8}, // alternating signs
		{3.0, -4.0, 2.5, 0.9}, // polynomial
		{1.1, 2.2, 3.3, -0.4},
		{1.1, 2.2, 3.3, -0.9},
		{50, 0.6, 51, 0.3},
		{50, 0.6, 51, 0.7},
		{50, 60.5, 51, 0.45},
	}
	for _, tc := range cases {
		want := bigHyp2F1(tc.a, tc.b, tc.c, tc.z)
		l, s := log2F1(tc.a, tc.b, tc.c, tc.z)
		got := s * math.Exp(l)
		if e := relErr(got, want); e > 1e-10 {
			t.Errorf("2F1(%g,%g;%g;%g) = %.15g, want %.15g (rel err %.2g)", tc.a, tc.b, tc.c, tc.z, got, want, e)
		}
	}
}

func TestHyp2F1ClosedForms(t *testing.T) {
	for _, z := range []float64{-1e6, -50, -3, -0.7, 0.2, 0.6, 0.93, 0.9999, 1 - 1e-9} {
		// 2F1(1,1;2;z) = -log(1-z)/z.
		l, s := log2F1(1, 1, 2, z)
		if e := relErr(s*math.Exp(l), -math.Log1p(-z)/z); e > 1e-11 {
			t.Errorf("2F1(1,1;2;%g): rel err %.2g", z, e)
		}
		// 2F1(a,b;b;z) = (1-z)^-a.
		l, s = log2F1(0.37, 2.9, 2.9, z)
		if e := relErr(s*math.Exp(l), math.Pow(1-z, -0.37)); e > 1e-11 {
			t.Errorf("2F1(0.37,2.9;2.9;%g): rel err %.2g", z, e)
		}
		// 2F1(1,b;2;z) = ((1-z)^(1-b) - 1)/((b-1) z), b near 2 (c-a-b near -1).
		for _, b := range []float64{2, 2 + 1e-9, 2 - 3e-5, 2.7} {
			want := math.Expm1((1-b)*math.Log1p(-z)) / ((b - 1) * z)
			l, s = log2F1(1, b, 2, z)
			if e := relErr(s*math.Exp(l), want); e > 1e-10 {
				t.Errorf("2F1(1,%g;2;%g) = %.15g, want %.15g (rel err %.2g)", b, z, s*math.Exp(l), want, e)
			}
		}
	}
	for _, x := range []float64{0.3, 1, 5, 1e3} {
		// 2F1(1/2,1;3/2;-x^2) = atan(x)/x.
		l, s := log2F1(0.5, 1, 1.5, -x*x)
		if e := relErr(s*math.Exp(l), math.Atan(x)/x); e > 1e-11 {
			t.Errorf("2F1(1/2,1;3/2;%g): rel err %.2g", -x*x, e)
		}
	}
}

func TestHyp2F1IncBeta(t *testing.T) {
	// For b < 1: 2F1(a,b;a+1;z) = a z^-a B(a,1-b) I_z(a,1-b).
	for _, a := range []float64{0.8, 3.2, 27.5, 210} {
		for _, b := range []float64{0.05, 0.6, 0.97} {
			for _, z := range []float64{0.1, 0.5, 0.51, 0.9, 0.999, 1 - 1e-7} {
				want := math.Log(a) - a*math.Log(z) + mathext.Lbeta(a, 1-b) + math.Log(mathext.RegIncBeta(a, 1-b, z))
				got := log2F1IncBeta(a, b, z)
				if math.Abs(got-want) > 1e-10*math.Max(1, math.Abs(want)) {
					t.Errorf("log 2F1(%g,%g;%g;%g) = %.15g, want %.15g", a, b, a+1, z, got, want)
				}
			}
		}
	}
	// b >= 1, against the reference series and the general routine.
	for _, p := range [][3]float64{{1.7, 1.6, 0.3}, {1.7, 1.6, 0.8}, {27.5, 1.6, 0.95}, {27.5, 26.8, 0.7}, {120, 119.5, 0.9}, {3, 2, 0.99}} {
		want := math.Log(bigHyp2F1(p[0], p[1], p[0]+1, p[2]))
		got := log2F1IncBeta(p[0], p[1], p[2])
		if math.Abs(got-want) > 1e-10*math.Max(1, math.Abs(want)) {
			t.Errorf("log 2F1(%g,%g;%g;%g) = %.15g, want %.15g", p[0], p[1], p[0]+1, p[2], got, want)
		}
	}
}

// TestHyp2F1IncBetaNearOne checks log2F1IncBetaEps close to z = 1, where
// it leaves the continued fraction for the connection formula: against
// mpmath 1.3.0's hyp2f1 in 50-digit arithmetic at 1-z down to 1e-12 (b at,
// near and away from the formula's poles at integer b), and against the
// continued fraction at 1-z from 1e-2 down to 1e-4, where the fraction is
// still quick, within 1e-11.
func TestHyp2F1IncBetaNearOne(t *testing.T) {
	for _, c := range []struct{ a, b, eps, want float64 }{
		{0.83, 0.83, 1e-7, 1.570111722601204182},
		{1.83, 1.83, 1e-6, 12.257471550999166955},
		{2.83, 2.83, 1e-8, 34.14580649418647711},
		{0.7, 1, 1e-9, 2.7051293808754161129},
		{3.3, 2, 1e-5, 12.706620179056497679},
		{5, 3.9999, 1e-6, 41.956008080394413265},
		{0.6, 0.55, 1e-12, 0.59134547382195114495},
		{27.5, 1.0001, 1e-4, 4.9927784515921098283},
	} {
		if got := log2F1IncBetaEps(c.a, c.b, 1-c.eps, c.eps); !scalar.EqualWithinAbsOrRel(got, c.want, 0, 1e-11) {
			t.Errorf("log 2F1(%g,%g;%g;1-%g) = %.17g, want %.17g", c.a, c.b, c.a+1, c.eps, got, c.want)
		}
	}
	for _, eps := range []float64{9e-3, 1e-3, 1e-4} {
		for _, a := range []float64{0.7, 1.61, 3.3, 27.5, 210} {
			for _, b := range []float64{0.05, 0.5, 0.9999, 1, 1.0001, 1.3, 1.999, 2, 2.0002, 2.5, 3, 3.7, 4} {
				if b >= a+1 || a*eps > hypIncBetaMaxAEps {
					continue
				}
				z := 1 - eps
				cf := -b*math.Log(eps) + math.Log(hyp1bcCF(b, a+1, -z/eps))
				if got := log2F1IncBetaEps(a, b, z, eps); !scalar.EqualWithinAbsOrRel(got, cf, 0, 1e-11) {
					t.Errorf("log 2F1(%g,%g;%g;1-%g) = %.17g, the continued fraction %.17g", a, b, a+1, eps, got, cf)
				}
			}
		}
	}
}
