package scoring

import "math"

// This file evaluates the Gauss hypergeometric function 2F1(a, b; c; z) for
// real arguments and z < 1, in log space, for the CLV models: the Pareto/NBD
// likelihood (Fader & Hardie 2005, "A note on deriving the Pareto/NBD model
// and related expressions") and, in the tests, the published closed forms
// of the BG/NBD expectations (Fader, Hardie & Lee 2005: E[X(t)] and
// E[Y(t)|x,t_x,T]), which the models evaluate as a positive series instead
// (aliveExpectedPurchases: the closed form cancels). The formulas are Abramowitz & Stegun 15.1.1
// (series), 15.3.5 (Pfaff), 15.3.6 (connection z -> 1-z) and Gauss's
// continued fraction (Wall 1948, ch. XVIII).

const (
	hypEps       = 1e-16
	hypMaxTerms  = 20000 // budget of the plain series before the 1-z transformation takes over
	hypPoleGap   = 2e-4  // c-a-b closer than this to an integer is reached by interpolation
	hypMaxCFIter = 200000
)

// log2F1 returns log|2F1(a, b; c; z)| and the sign of 2F1 for z < 1. It
// returns NaN when z >= 1 or c is a non-positive integer.
//
//   - z in [0, 1/2]: the Maclaurin series, summed with a running scale so
//     that large parameters cannot overflow;
//   - z < 0: Pfaff's transformation 2F1(a,b;c;z) = (1-z)^(-a) 2F1(a,c-b;c;z/(z-1)),
//     which maps z to (0, 1);
//   - z in (1/2, 1): the series while it converges within a fixed budget
//     of terms (its terms are positive when a, b, c are), otherwise the
//     connection formula in 1-z; when c-a-b is (nearly) an integer the
//     two gamma-function poles cancel, and the value is found by cubic
//     interpolation in b from points at a safe distance from the pole.
func log2F1(a, b, c, z float64) (float64, float64) {
	if math.IsNaN(a+b+c+z) || z >= 1 || (c <= 0 && c == math.Floor(c)) {
		return math.NaN(), math.NaN()
	}
	if z == 0 || a == 0 || b == 0 {
		return 0, 1
	}
	if z < 0 {
		w := z / (z - 1)
		// Of the two Pfaff forms, keep the one whose new series has
		// non-negative parameters when there is one.
		if c-b >= 0 || c-a < 0 {
			l, s := log2F1Pos(a, c-b, c, w)
			return l - a*math.Log1p(-z), s
		}
		l, s := log2F1Pos(c-a, b, c, w)
		return l - b*math.Log1p(-z), s
	}
	return log2F1Pos(a, b, c, z)
}

// log2F1Pos is log2F1 for 0 <= z < 1.
func log2F1Pos(a, b, c, z float64) (float64, float64) {
	if z <= 0.5 {
		l, s, _ := hypSeries(a, b, c, z, math.MaxInt32)
		return l, s
	}
	if l, s, ok := hypSeries(a, b, c, z, hypMaxTerms); ok {
		return l, s
	}
	return hypNearOne(a, b, c, z)
}

// hypSeries sums the Maclaurin series of 2F1 with at most maxTerms terms. It
// reports false when the series has not converged within the budget.
func hypSeries(a, b, c, z float64, maxTerms int) (float64, float64, bool) {
	const rescale = 1e200
	logRescale := math.Log(rescale)
	term, sum, logScale := 1.0, 1.0, 0.0
	for k := 0; k < maxTerms; k++ {
		fk := float64(k)
		term *= (a + fk) * (b + fk) / ((c + fk) * (fk + 1)) * z
		sum += term
		// The checks run every fourth term: between two of them the terms
		// grow by far less than the headroom left by the rescaling.
		if k&3 != 3 && term != 0 {
			continue
		}
		if term == 0 {
			break
		}
		if math.Abs(sum) > rescale || math.Abs(term) > rescale {
			sum /= rescale
			term /= rescale
			logScale += logRescale
		}
		// Once k is past every sign change of the factors, each later term
		// ratio is at most |z|·max(1,(a+j)/(c+j))·max(1,(b+j)/(j+1)) at
		// j = k+1 (both fractions are monotone in j), so the tail is below
		// |term|·rho/(1-rho).
		if j := fk + 1; j > -a && j > -b && j > -c {
			rho := math.Abs(z) * math.Max(1, (a+j)/(c+j)) * math.Max(1, (b+j)/(j+1))
			if rho < 1 && math.Abs(term)*rho <= hypEps*(1-rho)*math.Abs(sum) {
				return math.Log(math.Abs(sum)) + logScale, signOf(sum), true
			}
		}
		if math.IsInf(sum, 0) || math.IsNaN(sum) {
			return math.NaN(), math.NaN(), false
		}
	}
	if term == 0 {
		return math.Log(math.Abs(sum)) + logScale, signOf(sum), true
	}
	return math.Log(math.Abs(sum)) + logScale, signOf(sum), false
}

func signOf(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

// hypNearOne evaluates 2F1 for z close to 1 by the connection formula
// (Abramowitz & Stegun 15.3.6), interpolating across a pole of Γ(c-a-b).
func hypNearOne(a, b, c, z float64) (float64, float64) {
	m := c - a - b
	n := math.Round(m)
	if math.Abs(m-n) >= hypPoleGap {
		return hypConnection(a, b, c, z)
	}
	// 2F1 is analytic in b; evaluate at b_j with c-a-b_j = n + t_j, where
	// |t_j| >= hypPoleGap, and interpolate the cubic through them at t = m-n.
	h := hypPoleGap
	ts := [4]float64{-2 * h, -h, h, 2 * h}
	var ls, ss [4]float64
	for j, tj := range ts {
		ls[j], ss[j] = hypConnection(a, c-a-(n+tj), c, z)
	}
	t := m - n
	sameSign := ss[0] == ss[1] && ss[1] == ss[2] && ss[2] == ss[3]
	if sameSign {
		return lagrange4(ts, ls, t), ss[0]
	}
	ref := math.Max(math.Max(ls[0], ls[1]), math.Max(ls[2], ls[3]))
	var vs [4]float64
	for j := range vs {
		vs[j] = ss[j] * math.Exp(ls[j]-ref)
	}
	v := lagrange4(ts, vs, t)
	return math.Log(math.Abs(v)) + ref, signOf(v)
}

func lagrange4(xs, ys [4]float64, x float64) float64 {
	var s float64
	for i := range xs {
		l := ys[i]
		for j := range xs {
			if j != i {
				l *= (x - xs[j]) / (xs[i] - xs[j])
			}
		}
		s += l
	}
	return s
}

// hypConnection is A&S 15.3.6 with c-a-b not an integer:
//
//	2F1(a,b;c;z) = Γ(c)Γ(c-a-b)/(Γ(c-a)Γ(c-b)) 2F1(a,b;a+b-c+1;1-z)
//	  + (1-z)^(c-a-b) Γ(c)Γ(a+b-c)/(Γ(a)Γ(b)) 2F1(c-a,c-b;c-a-b+1;1-z).
func hypConnection(a, b, c, z float64) (float64, float64) {
	m := c - a - b
	y := 1 - z
	lc, sc := lgammaSigned(c)
	l1, s1 := lgammaSigned(m)
	l2, s2 := lgammaSigned(c - a)
	l3, s3 := lgammaSigned(c - b)
	f1, sf1, _ := hypSeries(a, b, 1-m, y, math.MaxInt32)
	t1 := lc + l1 - l2 - l3 + f1
	st1 := sc * s1 * s2 * s3 * sf1
	if math.IsInf(l2, 1) || math.IsInf(l3, 1) {
		t1, st1 = math.Inf(-1), 1 // 1/Γ at a non-positive integer is 0
	}
	k1, r1 := lgammaSigned(-m)
	k2, r2 := lgammaSigned(a)
	k3, r3 := lgammaSigned(b)
	f2, sf2, _ := hypSeries(c-a, c-b, 1+m, y, math.MaxInt32)
	t2 := m*math.Log(y) + lc + k1 - k2 - k3 + f2
	st2 := sc * r1 * r2 * r3 * sf2
	if math.IsInf(k2, 1) || math.IsInf(k3, 1) {
		t2, st2 = math.Inf(-1), 1
	}
	return logAddSigned(t1, st1, t2, st2)
}

func lgammaSigned(x float64) (float64, float64) {
	l, s := math.Lgamma(x)
	return l, float64(s)
}

// logAddSigned returns log|s1 e^l1 + s2 e^l2| and its sign.
func logAddSigned(l1, s1, l2, s2 float64) (float64, float64) {
	if math.IsInf(l1, -1) {
		return l2, s2
	}
	if math.IsInf(l2, -1) {
		return l1, s1
	}
	if l2 > l1 {
		l1, s1, l2, s2 = l2, s2, l1, s1
	}
	d := math.Exp(l2 - l1)
	if s1 == s2 {
		return l1 + math.Log1p(d), s1
	}
	if d == 1 {
		return math.Inf(-1), 1
	}
	return l1 + math.Log1p(-d), s1
}

// log2F1IncBeta returns log 2F1(a, b; a+1; z) for a > 0, 0 < b < a+1 and
// 0 <= z < 1, the family the Pareto/NBD likelihood needs (it is
// a∫₀¹ t^(a-1) (1-zt)^(-b) dt, so it is positive): log2F1IncBetaEps with
// 1-z computed here.
func log2F1IncBeta(a, b, z float64) float64 {
	return log2F1IncBetaEps(a, b, z, 1-z)
}

const (
	// Below hypIncBetaNearOne of 1-z, for b up to hypIncBetaMaxB, the
	// continued fraction of log2F1IncBetaEps needs ever more steps (about
	// ten thousand at 1-z = 1e-6, where its argument is -1e6) and the
	// connection formula takes over, while a·(1-z) is at most
	// hypIncBetaMaxAEps: its series in 1-z then needs few terms, and its
	// two terms, which cancel near the poles at integer b by a factor that
	// grows with a, agree with the fraction within 1e-11 (against
	// 1e-15 elsewhere).
	hypIncBetaNearOne = 1e-2
	hypIncBetaMaxB    = 4
	hypIncBetaMaxAEps = 1e-2
)

// log2F1IncBetaEps is log2F1IncBeta with eps = 1-z given, which a caller
// that knows it computes without the cancellation of 1-z near z = 1. It
// applies Pfaff's transformation 2F1(a,b;a+1;z) = (1-z)^(-b) 2F1(1,b;a+1;y),
// y = z/(z-1) <= 0, and evaluates 2F1(1,b;a+1;y) by Gauss's continued
// fraction, whose partial numerators are all positive for y < 0 (a
// Stieltjes fraction): there is no cancellation however large a and b are
// or however close z is to 1, and it converges in fewer steps than the
// series even for small z (the series needs about b·z/(1-z) terms before
// its terms start to fall). Close to z = 1 with a small b, where the
// fraction is slow, it takes the connection formula instead
// (log2F1IncBetaNearOne).
func log2F1IncBetaEps(a, b, z, eps float64) float64 {
	if z == 0 {
		return 0
	}
	if eps < hypIncBetaNearOne && b <= hypIncBetaMaxB && a*eps <= hypIncBetaMaxAEps {
		return log2F1IncBetaNearOne(a, b, eps)
	}
	l := math.Log1p(-z)
	if z > 0.5 {
		l = math.Log(eps)
	}
	return -b*l + math.Log(hyp1bcCF(b, a+1, -z/eps))
}

// log2F1IncBetaNearOne is log 2F1(a, b; a+1; 1-eps) for eps close to 0,
// by the connection formula (Abramowitz & Stegun 15.3.6), which for
// c = a+1 reads
//
//	2F1(a,b;a+1;z) = Γ(a+1)Γ(1-b)/Γ(a+1-b) · z^(-a) + a/(b-1) · eps^(1-b) · 2F1(1, a+1-b; 2-b; eps),
//
// the first term's 2F1(a, b; b; eps) = z^(-a) in closed form. At b = 1, 2,
// ... the two terms have poles that cancel: there log 2F1, analytic and
// smooth in b, is the cubic through b at ±hypPoleGap and ±2·hypPoleGap
// from the pole (as in hypNearOne).
func log2F1IncBetaNearOne(a, b, eps float64) float64 {
	n := math.Round(b)
	if n < 1 || math.Abs(b-n) >= hypPoleGap {
		return incBetaConnection(a, b, eps)
	}
	h := hypPoleGap
	ts := [4]float64{-2 * h, -h, h, 2 * h}
	var ls [4]float64
	for j, tj := range ts {
		ls[j] = incBetaConnection(a, n+tj, eps)
	}
	return lagrange4(ts, ls, b-n)
}

// incBetaConnection is log2F1IncBetaNearOne's formula for b not an
// integer.
func incBetaConnection(a, b, eps float64) float64 {
	l1, _ := math.Lgamma(a + 1)
	l2, s2 := lgammaSigned(1 - b)
	l3, _ := math.Lgamma(a + 1 - b) // a+1-b > 0
	t1 := l1 + l2 - l3 - a*math.Log1p(-eps)
	f, sf, _ := hypSeries(1, a+1-b, 2-b, eps, math.MaxInt32)
	t2 := (1-b)*math.Log(eps) + math.Log(a/math.Abs(b-1)) + f
	l, _ := logAddSigned(t1, s2, t2, signOf(b-1)*sf)
	return l
}

// hyp1bcCF evaluates 2F1(1, b; c; y) for c > b > 0 and y <= 0 with Gauss's
// continued fraction
//
//	2F1(1,b;c;y) = 1/(1 - k1 y/(1 - k2 y/(1 - ...))),
//	k(2n+1) = (b+n)(c-1+n)/((c-1+2n)(c+2n)),  k(2n) = n(c-1-b+n)/((c-2+2n)(c-1+2n)),
//
// by the modified Lentz method.
func hyp1bcCF(b, c, y float64) float64 {
	const tiny = 1e-300
	// f = 1/(1 + d1/(1 + d2/(1 + ...))), d_j = -k_j y >= 0.
	f := tiny
	C, D := f, 0.0
	for j := 1; j <= hypMaxCFIter; j++ {
		var aj float64
		switch {
		case j == 1:
			aj = 1
		case j == 2:
			aj = -b / c * y // k1 = b/c
		case j%2 == 1: // k(2n), n = (j-1)/2
			n := float64((j - 1) / 2)
			aj = -n * (c - 1 - b + n) / ((c - 2 + 2*n) * (c - 1 + 2*n)) * y
		default: // k(2n+1), n = (j-2)/2
			n := float64((j - 2) / 2)
			aj = -(b + n) * (c - 1 + n) / ((c - 1 + 2*n) * (c + 2*n)) * y
		}
		D = 1 + aj*D
		if D == 0 {
			D = tiny
		}
		C = 1 + aj/C
		if C == 0 {
			C = tiny
		}
		D = 1 / D
		delta := C * D
		f *= delta
		if math.Abs(delta-1) <= hypEps && j > 2 {
			return f
		}
	}
	return f
}
