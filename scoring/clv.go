package scoring

// Customer-lifetime-value models fitted by maximum likelihood:
//
//   - BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy
//     way: an alternative to the Pareto/NBD model", Marketing Science 24(2);
//   - Pareto/NBD: Schmittlein, Morrison & Colombo (1987), "Counting your
//     customers: who are they and what will they do next?", Management
//     Science 33(1), with the likelihood and predictions of Fader & Hardie
//     (2005), "A note on deriving the Pareto/NBD model and related
//     expressions";
//   - Gamma-Gamma spend: Fader, Hardie & Lee (2005), "RFM and CLV: using
//     iso-value curves for customer base analysis", Journal of Marketing
//     Research 42(4), and Fader & Hardie (2013), "The Gamma-Gamma model of
//     monetary value".
//
// Time unit. Every time in this file and its siblings (recency t_x, age T,
// forecast horizons t, period lengths) is in one unit that the caller
// chooses, such as weeks or days, and must use throughout: the scale
// parameters alpha (BG/NBD, Pareto/NBD) and beta (Pareto/NBD) are in that
// unit, and purchase rates are per that unit. Fitting on weeks and
// forecasting with t in days gives wrong answers without any error.

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// RFM summarises the purchase history of a customer, or of a group of
// customers with the same history, over their observation window.
type RFM struct {
	// X is the frequency: the number of repeat purchases (purchases after
	// the first), a non-negative integer.
	X float64
	// TX is the recency t_x: the time from the first purchase to the last
	// one, in the caller's time unit; 0 when X is 0.
	TX float64
	// T is the age: the time from the first purchase to the end of the
	// observation window, in the same unit; T > 0 and TX <= T.
	T float64
	// Weight is the number of customers with this history; 0 counts as 1.
	Weight float64
}

// Spend summarises the repeat purchases of a customer (or of a group of
// customers with the same summary) for the Gamma-Gamma model.
type Spend struct {
	// X is the number of repeat purchases the mean is taken over.
	X float64
	// ZBar is the mean value of those repeat purchases, > 0 when X > 0.
	ZBar float64
	// Weight is the number of customers with this summary; 0 counts as 1.
	Weight float64
}

// Errors returned by the CLV fits.
var (
	// ErrNoData: no customers (or no repeat buyers for Gamma-Gamma).
	ErrNoData = errors.New("scoring: no customers to fit")
	// ErrDegenerate: the data cannot identify the model, e.g. no customer
	// made a repeat purchase, every repeat buyer has the same mean spend, or
	// the likelihood's maximum lies on the edge of the parameter space.
	ErrDegenerate = errors.New("scoring: data cannot identify the model")
	// ErrNotConverged: no starting point led the optimiser to a maximum.
	ErrNotConverged = errors.New("scoring: maximum-likelihood fit did not converge")
	// ErrInvalidInput: an input row is out of the model's domain.
	ErrInvalidInput = errors.New("scoring: invalid CLV input")
)

// FitResult describes a maximum-likelihood fit.
type FitResult struct {
	// Names and Params are the model's parameters in its natural scale, in
	// the order of the model struct's fields.
	Names  []string
	Params []float64
	// LogLik is the weighted log-likelihood at Params.
	LogLik float64
	// StdErr are asymptotic standard errors of Params: square roots of the
	// diagonal of the inverse of the numerical Hessian of the negative
	// log-likelihood with respect to the natural parameters. NaN when that
	// Hessian is singular or not positive definite.
	StdErr []float64
	// Cov is that inverse Hessian, the asymptotic covariance matrix of
	// Params (row-major, len(Params) rows); nil when StdErr is NaN.
	Cov [][]float64
	// Converged reports whether the optimiser ended at a point where the
	// gradient vanishes and the likelihood is curved in every direction (a
	// positive definite Hessian). A fit that did not converge returns
	// ErrNotConverged; one that ended where the data do not identify the
	// parameters (one running off to 0 or infinity, or a flat likelihood,
	// the edge of the parameter space) returns ErrDegenerate, with Params
	// and LogLik of the point reached.
	Converged bool
	// N is the number of customers (the sum of weights) and Groups the
	// number of distinct histories the likelihood was evaluated over.
	N      float64
	Groups int
	// Iterations and Evaluations count the optimiser's major iterations and
	// likelihood evaluations for the run that was kept; Method names it
	// ("BFGS" or "NelderMead+BFGS"), and Start is the index of the
	// deterministic starting point it began from.
	Iterations  int
	Evaluations int
	Method      string
	Start       int
}

func weightOf(w float64) float64 {
	if w == 0 {
		return 1
	}
	return w
}

func validWeight(w float64) bool {
	return w >= 0 && !math.IsInf(w, 0) && !math.IsNaN(w)
}

// checkRFM reports whether a row is in the domain of the purchase models.
func checkRFM(i int, c RFM) error {
	switch {
	case !(c.X >= 0) || math.IsInf(c.X, 0) || c.X != math.Floor(c.X):
		return fmt.Errorf("%w: row %d: frequency x=%v must be a non-negative integer", ErrInvalidInput, i, c.X)
	case !(c.T > 0) || math.IsInf(c.T, 0):
		return fmt.Errorf("%w: row %d: age T=%v must be positive and finite", ErrInvalidInput, i, c.T)
	case !(c.TX >= 0) || c.TX > c.T:
		return fmt.Errorf("%w: row %d: recency t_x=%v must be in [0, T=%v]", ErrInvalidInput, i, c.TX, c.T)
	case c.X == 0 && c.TX != 0:
		return fmt.Errorf("%w: row %d: t_x=%v with no repeat purchase (t_x must be 0 when x is 0)", ErrInvalidInput, i, c.TX)
	case !validWeight(c.Weight):
		return fmt.Errorf("%w: row %d: weight %v", ErrInvalidInput, i, c.Weight)
	}
	return nil
}

func cmpRFM(a, b RFM) int {
	if a.X != b.X {
		return cmpFloat(a.X, b.X)
	}
	if a.TX != b.TX {
		return cmpFloat(a.TX, b.TX)
	}
	return cmpFloat(a.T, b.T)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// GroupRFM merges the rows with identical (X, TX, T), summing their
// weights (a zero weight counts as one customer), and returns them sorted
// by X, then TX, then T. The input is not modified. The likelihoods cost
// one evaluation per distinct history, so summaries with times rounded to
// the data's resolution (days, say) fit in time that grows with the number
// of distinct histories, not of customers. Rows are not validated here;
// the fits validate them.
func GroupRFM(rows []RFM) []RFM {
	out := make([]RFM, len(rows))
	for i, r := range rows {
		r.Weight = weightOf(r.Weight)
		if r.TX == 0 {
			r.TX = 0 // fold -0 into +0
		}
		out[i] = r
	}
	return mergeSorted(out, cmpRFM, func(a *RFM, b RFM) { a.Weight += b.Weight })
}

// mergeSorted sorts rows by cmp and merges each run of equal rows into its
// first with add.
func mergeSorted[T any](rows []T, cmp func(a, b T) int, add func(into *T, r T)) []T {
	slices.SortFunc(rows, cmp)
	n := 0
	for i, r := range rows {
		if i > 0 && cmp(rows[n-1], r) == 0 {
			add(&rows[n-1], r)
			continue
		}
		rows[n] = r
		n++
	}
	return slices.Clip(rows[:n])
}

func cmpSpend(a, b Spend) int {
	if a.X != b.X {
		return cmpFloat(a.X, b.X)
	}
	return cmpFloat(a.ZBar, b.ZBar)
}

// GroupSpend merges the rows with identical (X, ZBar), summing their
// weights (a zero weight counts as one customer), and returns them sorted
// by X, then ZBar. The input is not modified.
func GroupSpend(rows []Spend) []Spend {
	out := make([]Spend, len(rows))
	for i, r := range rows {
		r.Weight = weightOf(r.Weight)
		out[i] = r
	}
	return mergeSorted(out, cmpSpend, func(a *Spend, b Spend) { a.Weight += b.Weight })
}

// PurchaseModel is a fitted purchase-count model (BGNBD, MBGNBD or
// ParetoNBD).
type PurchaseModel interface {
	// ConditionalExpectedPurchases returns the expected number of purchases
	// in (T, T+t] of a customer with history (x, tx, T); all times in the
	// unit the model was fitted in.
	ConditionalExpectedPurchases(t, x, tx, T float64) float64
}

// DropoutModel is a fitted purchase model in which customers buy while
// alive and drop out for good, after a purchase (BGNBD, MBGNBD) or at an
// exponential time (ParetoNBD): what the predictions per customer and the
// forecasts per segment need.
type DropoutModel interface {
	PurchaseModel
	// PAlive returns the probability that a customer with history
	// (x, t_x, T) is still active at T.
	PAlive(x, tx, T float64) float64
	// ConditionalProbPurchase returns the probability of at least one
	// purchase in (T, T+t].
	ConditionalProbPurchase(t, x, tx, T float64) float64
	// ConditionalPurchaseVariance returns Var[Y(t) | x, t_x, T], the
	// variance of the number of purchases in (T, T+t], the chance scatter
	// around ConditionalExpectedPurchases.
	ConditionalPurchaseVariance(t, x, tx, T float64) float64
	// ExpectedPurchases returns E[X(t)] for a customer who made a first
	// purchase at time 0.
	ExpectedPurchases(t float64) float64
	// Params returns the parameters in the order of the fit's Names, and
	// WithParams the model of the same kind with other values of them.
	Params() []float64
	WithParams(p []float64) DropoutModel
	// posterior returns a customer alive at T after x repeat purchases as
	// a new customer: the purchase process being memoryless, it starts
	// afresh at T with the posterior mixing distributions, and the
	// purchases in (T, T+t] are X(t) of that customer.
	posterior(x, T float64) aliveCustomer
}

// aliveCustomer is a customer alive at time 0 under one of the models, with
// the moments of X(t), the purchases in (0, t].
type aliveCustomer interface {
	expectedPurchases(t float64) float64
	moments(t float64) (m1, m2 float64)
}

// Horizon is the span and discounting of a lifetime-value forecast.
type Horizon struct {
	// Periods is the number of periods summed, e.g. 12 months.
	Periods int
	// PeriodLength is the length of one period in the purchase model's time
	// unit, e.g. 52/12 for months when the model was fitted in weeks.
	PeriodLength float64
	// DiscountRate is the discount rate per period, e.g. 0.01 per month.
	DiscountRate float64
}

// DiscountedCLV returns the discounted expected value of the purchases of a
// customer with history c (of which only X, TX and T are used) and mean
// repeat spend zbar over the horizon:
//
//	Σ_{m=1..M} (E[Y(mL)] - E[Y((m-1)L)]) · E[Z | x, zbar] / (1+d)^m,
//
// where E[Y(t)] is the model's conditional expected number of purchases in
// the next t time units, L the period length and d the discount rate per
// period (Fader, Hardie & Lee 2005, "RFM and CLV", discrete-time
// discounting of the expected purchases in each period). Purchases are
// valued at the end of their period. The value is in the currency of zbar,
// before any margin. It returns NaN for an invalid horizon.
func DiscountedCLV(m PurchaseModel, s GammaGamma, c RFM, zbar float64, h Horizon) float64 {
	return DiscountedPurchases(m, c, h) * s.ConditionalExpectedSpend(c.X, zbar)
}

// DiscountedPurchases returns the discounted expected purchases of a
// customer with history c over the horizon, the sum DiscountedCLV
// multiplies by the expected spend per purchase:
//
//	Σ_{m=1..M} (E[Y(mL)] - E[Y((m-1)L)]) / (1+d)^m.
//
// It depends on the history (X, TX, T) alone, so customers who share one
// share it. It returns NaN for an invalid horizon.
func DiscountedPurchases(m PurchaseModel, c RFM, h Horizon) float64 {
	return h.discount(func(p int) float64 {
		return m.ConditionalExpectedPurchases(float64(p)*h.PeriodLength, c.X, c.TX, c.T)
	})
}

// discount returns Σ_p (cum(p) − cum(p−1)) / (1+d)^p over the horizon's
// periods, cum(p) the expected purchases in the first p periods (cum(0) =
// 0), or NaN for a horizon that is not valid.
func (h Horizon) discount(cum func(p int) float64) float64 {
	if h.Periods < 0 || !(h.PeriodLength > 0) || !(h.DiscountRate > -1) {
		return math.NaN()
	}
	var clv, prev, disc float64
	disc = 1
	for p := 1; p <= h.Periods; p++ {
		c := cum(p)
		disc /= 1 + h.DiscountRate
		clv += (c - prev) * disc
		prev = c
	}
	return clv
}

// logAddShare returns log(e^u + e^v), computed without overflow, and the
// share of e^v in the sum: the two terms of a likelihood that sums over
// whether a customer is alive (BG/NBD, MBG/NBD).
func logAddShare(u, v float64) (lse, share float64) {
	if u >= v {
		e := math.Exp(v - u)
		return u + math.Log1p(e), e / (1 + e)
	}
	e := math.Exp(u - v)
	return v + math.Log1p(e), 1 / (1 + e)
}
