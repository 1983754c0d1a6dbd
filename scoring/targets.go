package scoring

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Objective is what a segment's targets aim at for the coming year.
type Objective string

// The objectives a segment can have.
const (
	ObjectiveRetention        Objective = "retention"         // keep and deepen valuable customers
	ObjectiveCrossSell        Objective = "cross_sell"        // broaden the categories customers buy
	ObjectiveChannelMigration Objective = "channel_migration" // serve low-value customers through cheaper (digital) channels
	ObjectiveWinBack          Objective = "win_back"          // bring back lapsing customers worth it
	ObjectiveOnboarding       Objective = "onboarding"        // bring new customers to their next purchase
	ObjectiveAcquisition      Objective = "acquisition"       // win more customers like these (set in the configuration only)
)

// Objectives lists every objective.
var Objectives = []Objective{ObjectiveRetention, ObjectiveCrossSell, ObjectiveChannelMigration,
	ObjectiveWinBack, ObjectiveOnboarding, ObjectiveAcquisition}

// Target metrics, their units and how an uplift applies to them.
const (
	MetricRevenue            = "revenue_12m"
	MetricOrders             = "orders_12m"
	MetricActiveCustomers    = "active_customers_12m"
	MetricRetention          = "retention_12m"
	MetricMultiCategoryShare = "multi_category_share"
	MetricDigitalShare       = "digital_share"
	MetricNewCustomers       = "new_customers_12m"
)

// TargetMetrics lists the metrics that get targets.
var TargetMetrics = []string{MetricRevenue, MetricOrders, MetricActiveCustomers, MetricRetention,
	MetricMultiCategoryShare, MetricDigitalShare, MetricNewCustomers}

// isRate reports whether a metric is a share in [0, 1]; uplifts to rates are
// absolute (share points), uplifts to counts and money are relative.
func isRate(metric string) bool {
	return metric == MetricRetention || metric == MetricMultiCategoryShare || metric == MetricDigitalShare
}

// MetricUnit is the unit a target metric is expressed in.
func MetricUnit(metric string) string {
	switch metric {
	case MetricRevenue:
		return "currency"
	case MetricOrders:
		return "orders"
	case MetricActiveCustomers, MetricNewCustomers:
		return "customers"
	}
	return "share"
}

// DefaultUplift is the uplift per objective and metric used when the
// configuration sets none. Metrics not listed for an objective get no uplift
// (target = baseline).
func DefaultUplift() map[string]map[string]float64 {
	return map[string]map[string]float64{
		string(ObjectiveRetention): {
			MetricRetention: 0.05, MetricActiveCustomers: 0.05, MetricRevenue: 0.03, MetricOrders: 0.03,
		},
		string(ObjectiveCrossSell): {
			MetricMultiCategoryShare: 0.05, MetricRevenue: 0.05, MetricOrders: 0.03,
		},
		string(ObjectiveChannelMigration): {
			MetricDigitalShare: 0.10, MetricRevenue: 0.01,
		},
		string(ObjectiveWinBack): {
			MetricActiveCustomers: 0.10, MetricRetention: 0.05, MetricRevenue: 0.05, MetricOrders: 0.05,
		},
		string(ObjectiveOnboarding): {
			MetricActiveCustomers: 0.10, MetricOrders: 0.10, MetricRevenue: 0.05,
		},
		string(ObjectiveAcquisition): {
			MetricNewCustomers: 0.10, MetricActiveCustomers: 0.05, MetricRevenue: 0.05,
		},
	}
}

// SegmentSummary holds the figures of one segment (or of the whole
// population) that the objective rule and the baselines use. All "12m"
// figures cover the 12 months up to the as-of date.
type SegmentSummary struct {
	Customers          float64 // customers in the segment
	Revenue12m         float64 // net revenue
	RevenueSD12m       float64 // standard deviation of net revenue per customer
	Orders12m          float64
	OrdersSD12m        float64 // standard deviation of orders per customer
	Active12m          float64 // customers with an order
	ActivePrev12m      float64 // customers with an order in the 12 months before
	Retention12m       float64 // share of ActivePrev12m with an order in the last 12 months; NaN when ActivePrev12m is 0
	HistoricalLTV      float64 // mean net revenue per customer since the first purchase
	MultiCategoryShare float64 // share of customers who bought 2+ categories; NaN when the inputs have no categories
	DigitalShare       float64 // share of gross revenue through web and app; NaN when the inputs have no channels
	NewCustomers12m    float64 // customers whose first order falls in the window
	// Revenue12mNew is the last 12 months' revenue of the NewCustomers12m
	// new customers, NewDays12m the days they were customers in the window
	// summed (first order to the window's end, both counted); NaN when who
	// is new is unknown. RevenuePrev12m is the 12 months before; NaN when
	// the data does not cover them.
	Revenue12mNew, NewDays12m, RevenuePrev12m float64
	// ValueTier and Status are the segment's value tier (High-value,
	// Mid-value, Low-value) and lifecycle status (new, active, lapsing,
	// lapsed), as its generated name says them; empty for the population.
	ValueTier, Status string
}

// The value tiers and lifecycle statuses of a segment: the two halves of
// its generated name, which the objective rule reads.
const (
	TierHigh = "High-value"
	TierMid  = "Mid-value"
	TierLow  = "Low-value"

	StatusNew     = "new"
	StatusActive  = "active"
	StatusLapsing = "lapsing"
	StatusLapsed  = "lapsed"
)

// ChooseObjective applies the documented objective rule, which weighs a
// segment's lifecycle status and value together; the first that holds of
//
//  1. onboarding: the segment is new (most of its customers first bought
//     recently): bring them to their next purchase;
//  2. win_back: lapsing or lapsed, with historical LTV at or above the
//     population's: worth winning back;
//  3. retention: high-value (and active): keep and deepen them;
//  4. retention: historical LTV at or above the population's with
//     12-month retention below it: valuable customers slipping away;
//  5. channel_migration: lapsing or lapsed (below the population's
//     historical LTV, since rule 2 did not hold: not worth a win-back),
//     or low-value where the data has channels: serve them through
//     cheaper channels;
//  6. cross_sell: multi-category share below the population's: grow the
//     relationship;
//  7. channel_migration: less than half of revenue through digital
//     channels;
//  8. retention otherwise.
//
// A rule whose figure is unknown (NaN: no channel or category data) does
// not apply. acquisition is never chosen: a segment is made of customers
// already won; the configuration may set it.
// It returns the objective and the reason in words.
func ChooseObjective(s, pop SegmentSummary) (Objective, string) {
	switch {
	case s.Status == StatusNew:
		return ObjectiveOnboarding, "new customers: bring them to their next purchase"
	case (s.Status == StatusLapsing || s.Status == StatusLapsed) && s.HistoricalLTV >= pop.HistoricalLTV:
		return ObjectiveWinBack, s.Status + " customers with historical LTV at or above average: worth winning back"
	case s.ValueTier == TierHigh:
		return ObjectiveRetention, "high-value customers: keep and deepen them"
	case s.HistoricalLTV >= pop.HistoricalLTV && s.Retention12m < pop.Retention12m:
		return ObjectiveRetention, "historical LTV at or above average with retention below average"
	case s.ValueTier == TierLow && (s.Status == StatusLapsing || s.Status == StatusLapsed):
		return ObjectiveChannelMigration, "low-value " + s.Status + " customers, not worth a win-back: serve them through cheaper channels"
	case s.Status == StatusLapsing || s.Status == StatusLapsed:
		// Mid-value, below the population's LTV: neither retention nor
		// cross-selling reads right for customers who stopped buying.
		return ObjectiveChannelMigration, s.Status + " customers with historical LTV below average, not worth a win-back: " +
			"serve them through cheaper channels"
	case s.ValueTier == TierLow && !math.IsNaN(s.DigitalShare):
		return ObjectiveChannelMigration, "low-value customers: serve them through cheaper channels"
	case s.MultiCategoryShare < pop.MultiCategoryShare: // false for NaN
		return ObjectiveCrossSell, "multi-category share below average: grow the relationship"
	case s.DigitalShare < 0.5: // false for NaN
		return ObjectiveChannelMigration, "less than half of revenue through digital channels"
	}
	return ObjectiveRetention, "no other rule applies"
}

// Target is the baseline and target of one metric of one segment for the 12
// months after the as-of date.
type Target struct {
	Metric    string
	Unit      string
	Baseline  float64
	Low, High float64 // P10 and P90 of the baseline
	Target    float64
	Uplift    float64 // as applied: relative for counts and money, absolute for rates
	Objective Objective
	Method    string
	// Last12m is the metric over the last 12 months (counts and money);
	// Ratio the baseline over it, Flagged when that is beyond
	// BaselineFlagFactor either way, Reason why the baseline differs from
	// it (ExplainBaseline). NaN, false and "" for rates and where the last
	// 12 months are not positive.
	Last12m, Ratio float64
	Flagged        bool
	Reason         string
}

// zP90 is the standard normal quantile at 0.9; baseline ± zP90·sd spans P10 to P90.
const zP90 = 1.2815515655446004

// MethodLastYear names the baseline method of ProjectLastYear.
const MethodLastYear = "last_12m_projection"

// ProjectLastYear returns targets for every metric of TargetMetrics whose
// figure is known (not NaN), revenue only when the last 12 months' is
// positive (a segment whose returns outweigh its sales has none): the
// baseline repeats the last 12 months, and the band treats next year's
// figure as a sum over the segment's customers drawn like this year's:
// revenue and orders ± zP90·sd·√n from their per-customer standard
// deviations, counts of customers and shares ± zP90 times their binomial
// standard deviation. The target moves the baseline by the uplift configured
// for the objective (relative for counts and money, absolute and capped to
// [0, 1] for shares).
func ProjectLastYear(s SegmentSummary, obj Objective, uplift map[string]map[string]float64) []Target {
	n := s.Customers
	binomSD := func(p, m float64) float64 {
		if m <= 0 {
			return 0
		}
		return math.Sqrt(math.Max(p*(1-p), 0) / m)
	}
	out := make([]Target, 0, len(TargetMetrics))
	for _, m := range TargetMetrics {
		var base, sd float64
		switch m {
		case MetricRevenue:
			if !(s.Revenue12m > 0) {
				// Returns outweigh sales (of purchases before the data,
				// mostly): no revenue to project or grow.
				continue
			}
			base, sd = s.Revenue12m, s.RevenueSD12m*math.Sqrt(n)
		case MetricOrders:
			base, sd = s.Orders12m, s.OrdersSD12m*math.Sqrt(n)
		case MetricActiveCustomers:
			if n > 0 {
				p := s.Active12m / n
				base, sd = s.Active12m, n*binomSD(p, n)
			}
		case MetricNewCustomers:
			base, sd = s.NewCustomers12m, math.Sqrt(s.NewCustomers12m) // Poisson
		case MetricRetention:
			base, sd = s.Retention12m, binomSD(s.Retention12m, s.ActivePrev12m)
		case MetricMultiCategoryShare:
			base, sd = s.MultiCategoryShare, binomSD(s.MultiCategoryShare, n)
		case MetricDigitalShare:
			base, sd = s.DigitalShare, binomSD(s.DigitalShare, s.Active12m)
		}
		if math.IsNaN(base) {
			continue
		}
		t := Target{Metric: m, Unit: MetricUnit(m), Baseline: base, Objective: obj, Method: MethodLastYear}
		t.Low, t.High = math.Max(base-zP90*sd, 0), base+zP90*sd
		t.Uplift = uplift[string(obj)][m]
		if isRate(m) {
			t.High = math.Min(t.High, 1)
			t.Target = math.Min(math.Max(base+t.Uplift, 0), 1)
		} else {
			t.Target = base * (1 + t.Uplift)
		}
		out = append(out, t)
	}
	return out
}

// Baseline methods of the model-based targets.
const (
	MethodPurchaseModel = "bg_nbd"             // orders and active customers
	MethodValueModel    = "bg_nbd_gamma_gamma" // revenue
)

// Conversions turn the purchase models' units into those of the targets:
// the models count purchase days and predict the spend of a purchase day
// net of what was returned of it, the targets count orders and net revenue
// (which also carries returns of purchases the models cannot place). Both
// ratios are the segment's own over the last 12 months, 1 when it has none.
type Conversions struct {
	OrdersPerPurchase float64 // orders per purchase day
	NetPerSpend       float64 // net revenue per unit of the models' spend, in [0, 1]
}

// ModelError is the relative standard deviation of a model forecast's error
// beyond chance and parameter uncertainty, per forecast total: how far a
// segment's actual total strays from the model's expectation because the
// model does not describe the customers exactly (CalibrateModelError). Zero
// when unknown.
type ModelError struct {
	Purchases, Active, Spend float64
}

// FromForecast sets the baselines of revenue, orders and active customers
// in targets from a model forecast of the segment's customers over the
// horizon (ForecastSegments), and moves each target with the baseline. The
// band P10 to P90 is the baseline ± zP90 standard deviations (the low end
// held at 0), the variance being the sum of the parameter uncertainty's,
// chance's and the model error's (e relative to the baseline):
//
//	sd² = sd_parameters² + sd_chance² + (e · baseline)².
//
// The band is NaN when the parameters' uncertainty is unknown; its high end
// is +Inf when chance's is unbounded. Revenue needs the spend forecast and
// keeps its last-year baseline without one. The other metrics are left as
// they are.
func FromForecast(targets []Target, f Forecast, c Conversions, e ModelError) []Target {
	out := slices.Clone(targets)
	for i := range out {
		t := &out[i]
		var base, scale, sdParam, sdChance, rel float64
		switch t.Metric {
		case MetricRevenue:
			if math.IsNaN(f.Spend) {
				continue
			}
			scale, t.Method = c.NetPerSpend, MethodValueModel
			base, sdParam, sdChance, rel = f.Spend, f.SpendSD, f.SpendChanceSD, e.Spend
		case MetricOrders:
			scale, t.Method = c.OrdersPerPurchase, MethodPurchaseModel
			base, sdParam, sdChance, rel = f.Purchases, f.PurchasesSD, f.PurchasesChanceSD, e.Purchases
		case MetricActiveCustomers:
			scale, t.Method = 1, MethodPurchaseModel
			base, sdParam, sdChance, rel = f.Active, f.ActiveSD, f.ActiveChanceSD, e.Active
		default:
			continue
		}
		base *= scale
		sd := math.Abs(scale) * math.Sqrt(sdParam*sdParam+sdChance*sdChance)
		sd = math.Sqrt(sd*sd + rel*rel*base*base)
		t.Baseline = base
		t.Low, t.High = math.Max(base-zP90*sd, 0), base+zP90*sd
		if math.IsNaN(sd) {
			t.Low, t.High = math.NaN(), math.NaN()
		}
		t.Target = base * (1 + t.Uplift)
	}
	return out
}

// ValidObjective reports whether name is a known objective.
func ValidObjective(name string) bool {
	return slices.Contains(Objectives, Objective(name))
}

// BaselineFlagFactor is how far a baseline may move from the last 12
// months, up or down, before it is flagged for a planner to look at: a
// baseline 1.5 times last year's, or two thirds of it, needs a reason a
// planner accepts.
const BaselineFlagFactor = 1.5

// RetentionBasisShare is the least share of a segment's customers active
// in the last 12 months that must also have been active in the 12 months
// before for its retention_12m baseline to stand unflagged: retention is
// a share of those earlier customers, and in a segment of mostly new
// customers it rests on a few of them (the demo's data at k 6 as of
// 2025-12-31: "Low-value new", 100% on 69 of its 3,074 customers active
// in the last 12 months), a figure no planner should take for the
// segment's.
const RetentionBasisShare = 0.25

// ExplainBaseline sets each count and money target's Last12m, Ratio,
// Flagged and Reason from the segment's figures, and the retention
// target's (explainRetention). The reason names what
// the figures can account for, in this order:
//
//   - the last 12 months repeated (method last_12m_projection): no change;
//   - customers acquired part-way through the year (revenue_12m only): the
//     new customers were customers for NewDays12m/NewCustomers12m days on
//     average; a full year of their repeat purchases (their revenue beyond
//     one order each at the segment's average order value, as a first
//     order happens once) at the same pace adds
//     repeat × (365·NewCustomers12m/NewDays12m − 1);
//   - the trend: revenue against the 12 months before, when known;
//   - the rest is the models' own view of the customers (P(alive), repeat
//     rates, spend): how well that held in the past is model_backtest's.
func ExplainBaseline(targets []Target, s SegmentSummary) []Target {
	out := slices.Clone(targets)
	for i := range out {
		t := &out[i]
		t.Last12m, t.Ratio = math.NaN(), math.NaN()
		switch t.Metric {
		case MetricRevenue:
			t.Last12m = s.Revenue12m
		case MetricOrders:
			t.Last12m = s.Orders12m
		case MetricActiveCustomers:
			t.Last12m = s.Active12m
		case MetricRetention:
			explainRetention(t, s)
			continue
		default:
			continue
		}
		if !(t.Last12m > 0) || math.IsNaN(t.Baseline) {
			continue
		}
		t.Ratio = t.Baseline / t.Last12m
		t.Flagged = t.Ratio > BaselineFlagFactor || t.Ratio < 1/BaselineFlagFactor
		if t.Method == MethodLastYear {
			t.Reason = "the last 12 months repeated"
			continue
		}
		parts := []string{fmt.Sprintf("%.2f× the last 12 months (%s)", t.Ratio, formatAmount(t.Last12m))}
		rest := t.Baseline - t.Last12m
		if t.Metric == MetricRevenue && s.NewCustomers12m > 0 && s.NewDays12m > 0 && s.Orders12m > 0 && !math.IsNaN(s.Revenue12mNew) {
			days := s.NewDays12m / s.NewCustomers12m
			repeat := max(s.Revenue12mNew-s.NewCustomers12m*s.Revenue12m/s.Orders12m, 0)
			if add := repeat * (365/days - 1); add > 0 {
				parts = append(parts, fmt.Sprintf("%s customers acquired in the last 12 months were customers for %.0f days on average: a full year of them adds about %s",
					formatAmount(s.NewCustomers12m), days, formatAmount(add)))
				rest -= add
			}
		}
		if t.Metric == MetricRevenue && s.RevenuePrev12m > 0 {
			parts = append(parts, fmt.Sprintf("revenue %+.0f%% on the 12 months before", 100*(s.Revenue12m/s.RevenuePrev12m-1)))
		}
		parts = append(parts, fmt.Sprintf("the models' own view of these customers accounts for %s (see model_backtest)", formatSigned(rest)))
		t.Reason = strings.Join(parts, "; ")
	}
	return out
}

// explainRetention sets a retention_12m target's Last12m and Ratio, and
// flags it when the customers it is a share of (those active in the 12
// months before the last 12) are fewer than RetentionBasisShare of the
// segment's customers active in the last 12 months, saying so in Reason.
func explainRetention(t *Target, s SegmentSummary) {
	t.Last12m = s.Retention12m
	if t.Last12m > 0 && !math.IsNaN(t.Baseline) {
		t.Ratio = t.Baseline / t.Last12m
	}
	if s.Active12m > 0 && s.ActivePrev12m < RetentionBasisShare*s.Active12m {
		t.Flagged = true
		t.Reason = fmt.Sprintf("retention is a share of the %s customers active in the 12 months before the last 12, %.1f%% of the segment's %s active in the last 12: too few to stand for the segment",
			formatAmount(s.ActivePrev12m), 100*s.ActivePrev12m/s.Active12m, formatAmount(s.Active12m))
	}
}

// formatAmount writes a count or an amount rounded to a whole number with
// thousands separators: 1234567.8 as 1,234,568.
func formatAmount(v float64) string {
	s := strconv.FormatFloat(math.Abs(math.Round(v)), 'f', 0, 64)
	var b strings.Builder
	if v < 0 && math.Round(v) != 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatSigned is formatAmount with a sign: +1,234 or -1,234.
func formatSigned(v float64) string {
	if math.Round(v) > 0 {
		return "+" + formatAmount(v)
	}
	return formatAmount(v)
}
