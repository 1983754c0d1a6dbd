package scoring

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// startQuantile is the share of the customers (by weight) whose first
// purchases mark the start of the data for the first-week share: the first
// purchase by which 1% of them had made theirs.
const startQuantile = 0.01

// DataLimits are the least the purchase models (BG/NBD, MBG/NBD) and the
// spend model (Gamma-Gamma) need of the histories they are fitted on. The
// zero value takes every default; times are in the histories' unit, and
// the defaults assume weeks.
type DataLimits struct {
	// MinCustomers is the least number of customers with a history
	// (T > 0). Default 50: the rule of thumb of ten observations or more per
	// parameter, for the four of the purchase models.
	MinCustomers float64
	// MinRepeatBuyers is the least number of customers with a repeat
	// purchase. Default 30: ten per parameter of Gamma-Gamma, which is
	// fitted on the repeat buyers alone; they also carry the purchase
	// rates and the dropout after a purchase.
	MinRepeatBuyers float64
	// MinSpan is the least calibration span, the largest T. Default 8
	// (weeks): in less than two months a customer who buys monthly is
	// barely seen to buy again, and one who stopped cannot be told apart
	// from one between purchases.
	MinSpan float64
	// MinDistinctX is the least number of distinct repeat-purchase counts.
	// Default 3 (say 0, 1 and 2 or more): with fewer, the spread of
	// purchase rates across customers (r) is not identified.
	MinDistinctX int
	// StartWindow and MaxStartShare: when more than MaxStartShare of the
	// customers made their first purchase within StartWindow of the start
	// of the data (the first purchase by which 1% of the customers had made
	// theirs, so that a few stray early rows do not move it; the earliest
	// when there are fewer than 100 customers), the data starts in the middle of their
	// histories (an export of an established base rather than of customers
	// from their first purchase): their T is the span of the data, not
	// their age, and frequent buyers look like new ones. Defaults 1 (a
	// week) and 0.25: an acquisition cohort spread over 12 weeks (CDNOW)
	// puts about 8% in its first week, steady acquisition over a year 2%.
	StartWindow   float64
	MaxStartShare float64
	// Unit names the time unit in the problems' messages, in the singular;
	// default "week".
	Unit string
}

func (l DataLimits) withDefaults() DataLimits {
	l.MinCustomers = cmp.Or(l.MinCustomers, 50)
	l.MinRepeatBuyers = cmp.Or(l.MinRepeatBuyers, 30)
	l.MinSpan = cmp.Or(l.MinSpan, 8)
	l.MinDistinctX = cmp.Or(l.MinDistinctX, 3)
	l.StartWindow = cmp.Or(l.StartWindow, 1)
	l.MaxStartShare = cmp.Or(l.MaxStartShare, 0.25)
	l.Unit = cmp.Or(l.Unit, "week")
	return l
}

// DataCheck is what CheckData measured and, in Problems, every limit the
// histories fail, each saying what was found and what is needed; none
// when the models can be fitted.
type DataCheck struct {
	Customers    float64 // customers with T > 0 (the sum of weights)
	RepeatBuyers float64 // of them, those with x > 0
	Span         float64 // the largest T
	DistinctX    int     // distinct values of x
	// StartShare is the share of customers whose first purchase lies
	// within the limits' StartWindow of the start of the data (see
	// DataLimits.StartWindow).
	StartShare float64
	Limits     DataLimits // the limits applied, defaults filled in
	Problems   []string
}

// Sufficient reports whether the histories pass every limit.
func (c DataCheck) Sufficient() bool { return len(c.Problems) == 0 }

// CheckData measures purchase histories against the limits (zero fields:
// the defaults) before the models are fitted on them. Rows with T <= 0
// carry no information for the fits and are not counted; a zero weight
// counts as one customer. Rows are not validated here; the fits do.
func CheckData(rows []RFM, lim DataLimits) DataCheck {
	lim = lim.withDefaults()
	c := DataCheck{Limits: lim}
	var xs []float64
	for _, r := range rows {
		if !(r.T > 0) {
			continue
		}
		w := weightOf(r.Weight)
		c.Customers += w
		if r.X > 0 {
			c.RepeatBuyers += w
		}
		c.Span = math.Max(c.Span, r.T)
		xs = append(xs, r.X)
	}
	slices.Sort(xs)
	c.DistinctX = len(slices.Compact(xs))
	if c.Customers > 0 {
		// The data's start is the first purchase by which startQuantile of
		// the customers had made theirs, not the earliest one: a few stray
		// rows dated before an export (a test order, a row of another
		// export) must not hide that it starts in the middle of the
		// customers' histories.
		type age struct{ t, w float64 }
		ages := make([]age, 0, len(xs))
		for _, r := range rows {
			if r.T > 0 {
				ages = append(ages, age{r.T, weightOf(r.Weight)})
			}
		}
		slices.SortFunc(ages, func(a, b age) int { return cmp.Compare(b.t, a.t) })
		start, cum := ages[0].t, 0.0
		for _, a := range ages {
			if cum += a.w; cum >= startQuantile*c.Customers {
				start = a.t
				break
			}
		}
		var in float64
		for _, a := range ages {
			if a.t >= start-lim.StartWindow {
				in += a.w
			}
		}
		c.StartShare = in / c.Customers
	}
	add := func(format string, args ...any) { c.Problems = append(c.Problems, fmt.Sprintf(format, args...)) }
	span := func(v float64) string {
		if v == 1 {
			return "1 " + lim.Unit
		}
		return fmt.Sprintf("%.3g %ss", v, lim.Unit)
	}
	if c.Customers < lim.MinCustomers {
		add("%g customers whose first purchase is before the end date (a history to fit), need %g", c.Customers, lim.MinCustomers)
	}
	if c.RepeatBuyers < lim.MinRepeatBuyers {
		add("%g repeat buyers, need %g", c.RepeatBuyers, lim.MinRepeatBuyers)
	}
	if c.Span < lim.MinSpan {
		add("a calibration span of %s, need %s", span(c.Span), span(lim.MinSpan))
	}
	if c.DistinctX < lim.MinDistinctX {
		add("%d distinct numbers of repeat purchases, need %d", c.DistinctX, lim.MinDistinctX)
	}
	if c.StartShare > lim.MaxStartShare {
		add("%.1f%% of the customers first bought within %s of the start of the data, at most %g%%: the data starts in the middle of their histories, so T is not their age",
			100*c.StartShare, span(lim.StartWindow), 100*lim.MaxStartShare)
	}
	return c
}

// CheckSpend measures the histories Gamma-Gamma is fitted on, the repeat
// buyers with a positive mean spend per repeat purchase, against the
// limits' MinRepeatBuyers, and returns their number (the sum of weights)
// and, below the limit, why the spend model cannot be fitted. CheckData
// counts the repeat buyers of the purchase models, whose purchases may be
// of no value (free goods kept as purchases): all of them can be, leaving
// Gamma-Gamma nothing, or a handful, to be fitted on.
func CheckSpend(rows []Spend, lim DataLimits) (float64, error) {
	lim = lim.withDefaults()
	var n float64
	for _, r := range rows {
		if r.X > 0 && r.ZBar > 0 {
			n += weightOf(r.Weight)
		}
	}
	if n < lim.MinRepeatBuyers {
		return n, fmt.Errorf("the data cannot carry the spend model (Gamma-Gamma): %g repeat buyers with a positive spend per repeat purchase, need %g",
			n, lim.MinRepeatBuyers)
	}
	return n, nil
}

// SpendIndependenceLimit is the largest correlation, either way, between
// repeat buyers' purchase counts and their mean spend per purchase that
// Gamma-Gamma's assumption of independence tolerates. Fader & Hardie ("The
// Gamma-Gamma Model of Monetary Value", 2013) check this correlation before
// fitting and find 0.11 on CDNOW; 0.3 is where a correlation stops being
// weak by the usual convention.
const SpendIndependenceLimit = 0.3

// SpendFrequencyCorrelation is the Pearson correlation, over the repeat
// buyers (X > 0, ZBar > 0, each counted Weight times), between the number
// of repeat purchases and the mean spend per repeat purchase, with the
// number of buyers it is taken over. It is NaN with fewer than two buyers
// or when either figure does not vary.
func SpendFrequencyCorrelation(rows []Spend) (r, n float64) {
	var sw, sx, sz float64
	for _, s := range rows {
		if s.X > 0 && s.ZBar > 0 {
			w := weightOf(s.Weight)
			sw += w
			sx += w * s.X
			sz += w * s.ZBar
		}
	}
	if sw < 2 {
		return math.NaN(), sw
	}
	mx, mz := sx/sw, sz/sw
	var cxz, cxx, czz float64
	for _, s := range rows {
		if s.X > 0 && s.ZBar > 0 {
			w := weightOf(s.Weight)
			dx, dz := s.X-mx, s.ZBar-mz
			cxz += w * dx * dz
			cxx += w * dx * dx
			czz += w * dz * dz
		}
	}
	if cxx == 0 || czz == 0 {
		return math.NaN(), sw
	}
	return cxz / math.Sqrt(cxx*czz), sw
}
