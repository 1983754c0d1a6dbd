package scenario

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/crmseg/crmseg/scoring"
)

// zP90 is the standard normal quantile at 0.9: baseline ± zP90 standard
// deviations spans P10 to P90, as in the run's segment_targets.
const zP90 = 1.2815515655446004

// MetricCLV is the scenario's row of the segment's predicted 12-month
// value: the sum of its customers' predicted_clv_12m.
const MetricCLV = "predicted_clv_12m"

// Rows of the programme's figures, on segment 0, when the scenario has a
// cost.
const (
	MetricCost             = "programme_cost"
	MetricIncrementalValue = "incremental_value"
	MetricROI              = "roi"
	MetricPayback          = "payback_months"
)

// Segment is a segment of the run (its segments table).
type Segment struct {
	ID        int
	Name      string
	Customers int64
}

// Target is a row of the run's segment_targets: a baseline and its P10-P90
// band for the 12 months after as_of. An empty figure is NaN; a High of
// +Inf is a band without an upper bound (the run left it empty while Low is
// set).
type Target struct {
	Segment             int
	Metric, Unit        string
	Method              string
	Baseline, Low, High float64
	// HorizonStart and HorizonEnd are the horizon's dates (YYYY-MM-DD).
	HorizonStart, HorizonEnd string
}

// Customer is a customer of the run's customer_segments, with what the
// scenario needs of it.
type Customer struct {
	Segment int
	// Active12m: an order in the last 12 months (the customers retention_12m
	// is a share of next year). New12m: the first order in the last 12
	// months. Buyer: an order at all.
	Active12m, New12m, Buyer bool
	// Categories is the number of distinct categories bought; -1 when the
	// run has no categories.
	Categories int
	// Revenue12m and Orders12m are the last 12 months' net revenue and
	// orders.
	Revenue12m, Orders12m float64
	// The value models' predictions for the 12 months after as_of
	// (p_alive, p_purchase_12m, expected_purchases_12m, expected_spend,
	// predicted_clv_12m); NaN when the customer has none.
	PAlive, PPurchase, Purchases, Spend, CLV float64
}

// Run is what a scenario reads of a published run.
type Run struct {
	ID   string
	AsOf string
	// Segments in ID order, Targets as published, Customers in any order.
	Segments  []Segment
	Targets   []Target
	Customers []Customer
	// PurchaseModel names the purchase model (value.model: bg_nbd,
	// mbg_nbd); PurchaseModelError and SpendModelError say why it, or
	// Gamma-Gamma, was not used ("" when it was).
	PurchaseModel                       string
	PurchaseModelError, SpendModelError string
	// MonthlyDiscountRate discounts the predicted 12-month value
	// (value.monthly_discount_rate).
	MonthlyDiscountRate float64
}

// Request is a scenario: its changes and the programme's cost.
type Request struct {
	Changes []Change
	// Cost is the programme's fixed cost, CostPerCustomer its cost per
	// customer of the segments a change other than NewCustomers names.
	// Without either the scenario has no programme figures.
	Cost, CostPerCustomer float64
	// Margin is the share of incremental revenue that counts as value
	// (gross margin), in (0, 1]; 0 means 1: the value is the revenue.
	Margin float64
}

// Row is one figure of one segment (0: every segment) in the baseline and
// in the scenario: a row of scenario_results. Empty figures are NaN.
type Row struct {
	Segment      int
	SegmentName  string
	Metric, Unit string
	// Baseline, BaselineLow and BaselineHigh are the run's (segment_targets,
	// or the sum of predicted_clv_12m), Scenario, ScenarioLow and
	// ScenarioHigh the scenario's.
	Baseline, BaselineLow, BaselineHigh float64
	Scenario, ScenarioLow, ScenarioHigh float64
	Method                              string
	// Changes are the changes applied to the segment, as --set writes them.
	Changes string
}

// Applied is what the changes of one segment came to.
type Applied struct {
	Segment int
	Name    string
	Changes []Change
	// Contacted is the segment's customers when a change other than
	// NewCustomers names it, 0 otherwise.
	Contacted int64
	// Retained is the customers active in the last 12 months a retention
	// change acts on, and DropoutFactor the factor their odds of having
	// dropped out are multiplied by (NaN without one).
	Retained      int64
	DropoutFactor float64
	// Converted is how many buyers a cross-sell change takes from one
	// category to several (negative: the other way). It moves the share
	// only: the run's figures give no value to a broader basket that a
	// programme could count on (docs/definitions.md, "Scenarios"); an
	// avg_order_value change states one.
	Converted float64
	// NewCustomerRevenue and NewCustomerOrders are what each added customer
	// brings in the horizon: the means of the segment's customers whose
	// first order fell in the last 12 months (NaN without new customers).
	NewCustomerRevenue, NewCustomerOrders float64
}

// Programme is the cost and return of the scenario's changes.
type Programme struct {
	FixedCost, CostPerCustomer float64
	Contacted                  int64
	Cost                       float64
	// IncrementalRevenue is the scenario's net revenue in the horizon less
	// the baseline's, over every segment; IncrementalValue is it times
	// Margin.
	IncrementalRevenue, Margin, IncrementalValue float64
	// ROI is (IncrementalValue − Cost) / Cost.
	ROI float64
	// PaybackMonths is when the cumulative incremental value reaches the
	// cost, in months from the start of the horizon (interpolated within
	// the month); NaN when it does not within the 12 months.
	PaybackMonths float64
	// Monthly is the incremental value of each month of the horizon.
	Monthly [12]float64
}

// Result is a computed scenario.
type Result struct {
	// Rows are by segment (0, the total, first) and metric.
	Rows    []Row
	Applied []Applied
	// Programme is nil when the request has no cost.
	Programme *Programme
	// HorizonStart and HorizonEnd are the run's horizon.
	HorizonStart, HorizonEnd string
}

// figure is a baseline or scenario figure with its P10-P90 band.
type figure struct{ value, low, high float64 }

func nanFigure() figure { return figure{math.NaN(), math.NaN(), math.NaN()} }

// sd is the standard deviation behind the band, from its high end (the
// low end may be held at 0): NaN without a band, +Inf without an upper
// bound.
func (f figure) sd() float64 { return (f.high - f.value) / zP90 }

// scaled is the figure times r, its band scaled with it.
func (f figure) scaled(r float64) figure {
	if r == 1 {
		return f
	}
	return figure{f.value * r, f.low * r, f.high * r}
}

// plus adds an independent amount of mean add and variance v to the
// figure, widening its band.
func (f figure) plus(add, v float64) figure {
	if add == 0 && v == 0 {
		return f
	}
	sd := math.Sqrt(sq(f.sd()) + v)
	out := figure{value: f.value + add}
	out.low, out.high = math.Max(out.value-zP90*sd, 0), out.value+zP90*sd
	return out
}

// shifted is a share moved by d points, its band with it, held to [0, 1].
func (f figure) shifted(d float64) figure {
	if d == 0 {
		return f
	}
	clip := func(x float64) float64 { return math.Min(math.Max(x, 0), 1) }
	return figure{f.value + d, clip(f.low + d), clip(f.high + d)}
}

func sq(x float64) float64 { return x * x }

// moneyMetrics are the rows of counts and money, summed over segments in
// the total; shareMetrics are shares, which have no total.
var (
	moneyMetrics = []string{scoring.MetricRevenue, scoring.MetricOrders, scoring.MetricActiveCustomers, MetricCLV, scoring.MetricNewCustomers}
	shareMetrics = []string{scoring.MetricRetention, scoring.MetricMultiCategoryShare, scoring.MetricDigitalShare}
)

// Compute projects the run's segments under the request's changes over
// the run's horizon (docs/definitions.md, "Scenarios"). Each segment's
// revenue, orders and active customers start from the run's baselines; a
// change moves them by the relative change it makes to the value models'
// sums over the segment's customers (p_purchase_12m for active customers,
// expected_purchases_12m for orders, expected purchases times
// expected_spend for revenue, predicted_clv_12m for the value), which
// converts the models' units to the baselines' as the run did, and scales
// the band with the baseline. New customers add the segment's new
// customers' mean figures and their variance. A segment without a change,
// or whose changes are all 0, keeps its baseline exactly, and so does the
// total of segments that all do (a request without changes is the
// baseline). Shares move by the points asked, their bands with them. A
// request the run cannot carry out is an *Error.
func Compute(run *Run, req Request) (*Result, error) {
	if err := req.Check(); err != nil {
		return nil, err
	}
	c := &computation{run: run, targets: map[targetKey]Target{}}
	for _, t := range run.Targets {
		c.targets[targetKey{t.Segment, t.Metric}] = t
	}
	res := &Result{}
	if len(run.Targets) > 0 {
		res.HorizonStart, res.HorizonEnd = run.Targets[0].HorizonStart, run.Targets[0].HorizonEnd
	}
	changes, err := c.resolve(req.Changes)
	if err != nil {
		return nil, err
	}
	bySegment := map[int][]int{}
	for i, cu := range run.Customers {
		bySegment[cu.Segment] = append(bySegment[cu.Segment], i)
	}
	c.bySegment = bySegment

	type total struct {
		base, scen figure
		baseVar    float64
		scenVar    float64
		methods    []string
	}
	totals := map[string]*total{}
	var segRows []Row
	var incExisting, incNew float64
	var contacted int64
	for _, sg := range run.Segments {
		out, err := c.segment(sg, changes[sg.ID])
		if err != nil {
			return nil, err
		}
		if out.applied != nil {
			res.Applied = append(res.Applied, *out.applied)
			contacted += out.applied.Contacted
		}
		incExisting += out.revenueExisting
		incNew += out.revenueNew
		for _, r := range out.rows {
			segRows = append(segRows, r)
			if !slices.Contains(moneyMetrics, r.Metric) {
				continue
			}
			t := totals[r.Metric]
			if t == nil {
				t = &total{}
				totals[r.Metric] = t
			}
			b := figure{r.Baseline, r.BaselineLow, r.BaselineHigh}
			s := figure{r.Scenario, r.ScenarioLow, r.ScenarioHigh}
			t.base.value += b.value
			t.scen.value += s.value
			t.baseVar += sq(b.sd())
			t.scenVar += sq(s.sd())
			if !slices.Contains(t.methods, r.Method) {
				t.methods = append(t.methods, r.Method)
			}
		}
	}
	// The total: segments' figures added, their deviations taken as
	// independent (the model error, which dominates the bands with a
	// backtest, is measured per group as an independent draw).
	var totalRows []Row
	for _, m := range moneyMetrics {
		t := totals[m]
		if t == nil {
			continue
		}
		band := func(f figure, v float64) figure {
			sd := math.Sqrt(v)
			f.low, f.high = math.Max(f.value-zP90*sd, 0), f.value+zP90*sd
			return f
		}
		b, s := band(t.base, t.baseVar), band(t.scen, t.scenVar)
		method := "" // the segments' method, when they share one
		if len(t.methods) == 1 {
			method = t.methods[0]
		}
		totalRows = append(totalRows, Row{Segment: 0, SegmentName: "all", Metric: m, Unit: unitOf(m), Method: method,
			Baseline: b.value, BaselineLow: b.low, BaselineHigh: b.high, Scenario: s.value, ScenarioLow: s.low, ScenarioHigh: s.high,
			Changes: describeAll(res.Applied)})
	}
	if req.Cost > 0 || req.CostPerCustomer > 0 {
		if contacted == 0 && req.CostPerCustomer > 0 {
			return nil, &Error{What: "--cost-per-customer " + strconv.FormatFloat(req.CostPerCustomer, 'f', -1, 64),
				Problem: "expected changes that contact customers (every change but new_customers does), found none: the cost of new customers goes in --cost"}
		}
		p := programme(req, contacted, incExisting, incNew)
		res.Programme = p
		for _, r := range []struct {
			metric, unit string
			v            float64
		}{{MetricCost, "currency", p.Cost}, {MetricIncrementalValue, "currency", p.IncrementalValue}, {MetricROI, "ratio", p.ROI},
			{MetricPayback, "months", p.PaybackMonths}} {
			totalRows = append(totalRows, Row{Segment: 0, SegmentName: "all", Metric: r.metric, Unit: r.unit,
				Baseline: math.NaN(), BaselineLow: math.NaN(), BaselineHigh: math.NaN(), Scenario: r.v,
				ScenarioLow: math.NaN(), ScenarioHigh: math.NaN(), Changes: describeAll(res.Applied)})
		}
	}
	res.Rows = append(totalRows, segRows...)
	return res, nil
}

// Check validates the request's cost and margin, which need no run.
func (r Request) Check() error {
	for _, f := range []struct {
		flag string
		v    float64
	}{{"--cost", r.Cost}, {"--cost-per-customer", r.CostPerCustomer}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return &Error{What: f.flag + " " + strconv.FormatFloat(f.v, 'f', -1, 64), Problem: "expected a cost of 0 or more"}
		}
	}
	if !(r.Margin >= 0 && r.Margin <= 1) {
		return &Error{What: "--margin " + strconv.FormatFloat(r.Margin, 'f', -1, 64),
			Problem: "expected the share of incremental revenue that is value, above 0 and at most 1 (1: the revenue itself)"}
	}
	return nil
}

type targetKey struct {
	segment int
	metric  string
}

// computation is one Compute's state.
type computation struct {
	run       *Run
	targets   map[targetKey]Target
	bySegment map[int][]int
}

// resolve expands segment=* and checks that every change names a segment
// of the run, once per metric.
func (c *computation) resolve(changes []Change) (map[int]map[string]Change, error) {
	var ids []string
	known := map[int]bool{}
	for _, s := range c.run.Segments {
		ids = append(ids, strconv.Itoa(s.ID))
		known[s.ID] = true
	}
	out := map[int]map[string]Change{}
	for _, ch := range changes {
		segs := []int{ch.Segment}
		if ch.Segment == AllSegments {
			segs = nil
			for _, s := range c.run.Segments {
				segs = append(segs, s.ID)
			}
		} else if !known[ch.Segment] {
			return nil, &Error{What: "--set " + strconv.Quote(ch.Set),
				Problem: fmt.Sprintf("expected a segment of run %s (%s), found segment %d", c.run.ID, strings.Join(ids, ", "), ch.Segment)}
		}
		for _, id := range segs {
			if out[id] == nil {
				out[id] = map[string]Change{}
			}
			if prev, ok := out[id][ch.Metric]; ok {
				return nil, &Error{What: "--set " + strconv.Quote(ch.Set),
					Problem: fmt.Sprintf("expected %s of segment %d changed once, found it changed by --set %q too", ch.Metric, id, prev.Set)}
			}
			c1 := ch
			c1.Segment = id
			out[id][ch.Metric] = c1
		}
	}
	return out, nil
}

// segmentOutcome is one segment's rows and what its changes came to.
type segmentOutcome struct {
	rows    []Row
	applied *Applied
	// revenueExisting is the change of the revenue of the customers on
	// file, revenueNew that of the added customers.
	revenueExisting, revenueNew float64
}

// sums are the value models' sums over customers: expected active
// customers, purchases, revenue (purchases times spend per purchase, or
// purchases alone without the spend model) and predicted value.
type sums struct{ active, purchases, revenue, clv float64 }

// segment projects one segment under its changes (nil: none).
func (c *computation) segment(sg Segment, changes map[string]Change) (*segmentOutcome, error) {
	run := c.run
	custs := c.bySegment[sg.ID]
	target := func(metric string) (Target, bool) {
		t, ok := c.targets[targetKey{sg.ID, metric}]
		return t, ok
	}
	baseFig := func(t Target) figure { return figure{t.Baseline, t.Low, t.High} }

	// The baseline of the predicted value: the sum of predicted_clv_12m,
	// with the revenue baseline's relative band when that comes from the
	// models.
	clv, nPred := 0.0, 0
	for _, i := range custs {
		cu := &run.Customers[i]
		if !math.IsNaN(cu.CLV) {
			clv += cu.CLV
			nPred++
		}
	}
	clvBase := nanFigure()
	if nPred > 0 {
		clvBase = figure{clv, math.NaN(), math.NaN()}
		if rt, ok := target(scoring.MetricRevenue); ok && rt.Baseline > 0 && modelMethod(rt.Method) {
			clvBase.low, clvBase.high = clv*rt.Low/rt.Baseline, clv*rt.High/rt.Baseline
		}
	}

	out := &segmentOutcome{}
	ratio := sums{1, 1, 1, 1}
	var addN, addRev, addOrd, varRev, varOrd float64
	shares := map[string]float64{}
	if len(changes) > 0 {
		a := &Applied{Segment: sg.ID, Name: sg.Name, DropoutFactor: math.NaN(),
			NewCustomerRevenue: math.NaN(), NewCustomerOrders: math.NaN()}
		for _, m := range Metrics {
			if ch, ok := changes[m]; ok {
				a.Changes = append(a.Changes, ch)
				if m != NewCustomers {
					a.Contacted = sg.Customers
				}
			}
		}
		out.applied = a
		// Per-customer factors of the retention change on the probability
		// of a purchase, the purchases and the value.
		kept := map[int]float64{}
		for _, ch := range a.Changes {
			if err := c.needsModels(ch); err != nil {
				return nil, err
			}
			if err := c.checkShare(sg, ch); err != nil {
				return nil, err
			}
			switch ch.Metric {
			case Retention:
				if err := c.retention(sg, ch, custs, a, kept); err != nil {
					return nil, err
				}
			case CrossSell:
				// The share moves; the value does not (see Applied.Converted).
				var buyers float64
				for _, i := range custs {
					if run.Customers[i].Buyer {
						buyers++
					}
				}
				a.Converted = ch.Value * buyers
			case AvgOrderValue:
				if _, ok := target(scoring.MetricRevenue); !ok {
					return nil, c.cannot(ch, fmt.Sprintf("expected a revenue_12m baseline of segment %d to change the order value of, found none "+
						"(its last 12 months' revenue is not positive, or the run leaves revenue_12m out)", sg.ID))
				}
				if !(1+ch.Value > 0) {
					return nil, c.cannot(ch, fmt.Sprintf("expected an order value change above -100%%, found %+.4g%%", 100*ch.Value))
				}
			case NewCustomers:
				mr, mo, vr, vo, err := c.newCustomers(sg, ch, custs)
				if err != nil {
					return nil, err
				}
				addN, addRev, addOrd, varRev, varOrd = ch.Value, ch.Value*mr, ch.Value*mo, ch.Value*vr, ch.Value*vo
				a.NewCustomerRevenue, a.NewCustomerOrders = mr, mo
			}
			if ch.Metric == Retention || ch.Metric == CrossSell || ch.Metric == DigitalShare {
				shares[ch.Metric] = ch.Value
			}
		}
		if len(kept) > 0 {
			ratio = c.ratios(custs, kept)
		}
		if ch, ok := changes[AvgOrderValue]; ok {
			ratio.revenue *= 1 + ch.Value
			ratio.clv *= 1 + ch.Value
		}
	}

	// The rows: the run's baselines of counts and money, scaled by the
	// models' ratios, plus the added customers; the shares moved.
	discount := newCustomerDiscount(run.MonthlyDiscountRate)
	desc := ""
	if out.applied != nil {
		desc = describe(out.applied.Changes)
	}
	row := func(metric, unit, method string, b, s figure) {
		out.rows = append(out.rows, Row{Segment: sg.ID, SegmentName: sg.Name, Metric: metric, Unit: unit,
			Baseline: b.value, BaselineLow: b.low, BaselineHigh: b.high, Scenario: s.value, ScenarioLow: s.low, ScenarioHigh: s.high,
			Method: method, Changes: desc})
	}
	for _, m := range moneyMetrics {
		if m == MetricCLV {
			if nPred == 0 {
				continue
			}
			s := clvBase.scaled(ratio.clv).plus(addRev*discount, varRev*discount*discount)
			row(m, unitOf(m), run.PurchaseModel+"_gamma_gamma", clvBase, s)
			continue
		}
		t, ok := target(m)
		if !ok {
			continue
		}
		b := baseFig(t)
		s := b
		switch m {
		case scoring.MetricRevenue:
			s = b.scaled(ratio.revenue).plus(addRev, varRev)
			out.revenueExisting = b.value*ratio.revenue - b.value
			out.revenueNew = addRev
		case scoring.MetricOrders:
			s = b.scaled(ratio.purchases).plus(addOrd, varOrd)
		case scoring.MetricActiveCustomers:
			s = b.scaled(ratio.active).plus(addN, 0)
		case scoring.MetricNewCustomers:
			if addN != 0 {
				s = figure{b.value + addN, b.low + addN, b.high + addN}
			}
		}
		row(m, t.Unit, t.Method, b, s)
	}
	for _, m := range shareMetrics {
		t, ok := target(m)
		if !ok {
			continue
		}
		b := baseFig(t)
		row(m, t.Unit, t.Method, b, b.shifted(shares[m]))
	}
	return out, nil
}

// unitOf is a row's unit: the target metric's, currency for the predicted
// value.
func unitOf(metric string) string {
	if metric == MetricCLV {
		return "currency"
	}
	return scoring.MetricUnit(metric)
}

// modelMethod reports whether a target's baseline comes from the value
// models (its method names one), not from the last 12 months.
func modelMethod(m string) bool { return m != "" && m != scoring.MethodLastYear }

// checkShare refuses a change that takes a share out of [0, 1], or a share
// the run has no baseline of.
func (c *computation) checkShare(sg Segment, ch Change) error {
	if ch.Metric != Retention && ch.Metric != CrossSell && ch.Metric != DigitalShare {
		return nil
	}
	t, ok := c.targets[targetKey{sg.ID, ch.Metric}]
	if !ok || math.IsNaN(t.Baseline) {
		why := map[string]string{
			Retention:    "no customer was active in the previous 12 months, or the data do not cover the window",
			CrossSell:    "the inputs have no category, or the segment no buyer",
			DigitalShare: "the inputs have no channel, or the segment no spend in the last 12 months",
		}[ch.Metric]
		return c.cannot(ch, fmt.Sprintf("expected a %s baseline of segment %d in run %s, found none (the run leaves it out: %s)", ch.Metric, sg.ID, c.run.ID, why))
	}
	if v := t.Baseline + ch.Value; v < 0 || v > 1 {
		return c.cannot(ch, fmt.Sprintf("expected %s to stay within 0 to 1, found segment %d's %.4f %s = %.4f", ch.Metric, sg.ID, t.Baseline, signed(ch.Value), v))
	}
	return nil
}

// cannot is the error of a change the run cannot carry out.
func (c *computation) cannot(ch Change, problem string) error {
	return &Error{What: "--set " + strconv.Quote(ch.Set), Problem: problem}
}

// needsModels refuses a change that acts through value models the run did
// not use: retention, through the purchase model.
func (c *computation) needsModels(ch Change) error {
	run := c.run
	switch ch.Metric {
	case Retention:
		if run.PurchaseModelError != "" {
			return c.withoutModels(ch, "a retention change acts through the purchase model's dropout", run.PurchaseModel, run.PurchaseModelError)
		}
	}
	return nil
}

// withoutModels is the error of a change that needs the value models a run
// did not use, saying what the run can still take.
func (c *computation) withoutModels(ch Change, what, model, why string) error {
	return c.cannot(ch, fmt.Sprintf("expected the run's customer-value predictions, found none: %s (%s not used: %s); "+
		"without them run %s can still take %s, %s, %s and %s changes, on its baselines", what, model, why, c.run.ID,
		CrossSell, DigitalShare, AvgOrderValue, NewCustomers))
}

// retention solves the dropout factor of the segment's customers active in
// the last 12 months so that their expected share with a purchase in the
// horizon rises by the change, and records each one's factor in kept.
func (c *computation) retention(sg Segment, ch Change, custs []int, a *Applied, kept map[int]float64) error {
	run := c.run
	var idx []int
	var alive, active []float64
	for _, i := range custs {
		cu := &run.Customers[i]
		if !cu.Active12m {
			continue
		}
		a.Retained++
		if math.IsNaN(cu.PAlive) || math.IsNaN(cu.PPurchase) {
			continue // no purchase kept: the models do not forecast the customer
		}
		idx = append(idx, i)
		alive, active = append(alive, cu.PAlive), append(active, cu.PPurchase)
	}
	if len(idx) == 0 {
		return c.cannot(ch, fmt.Sprintf("expected customers of segment %d active in the last 12 months with a prediction, found none", sg.ID))
	}
	k, err := DropoutFactor(alive, active, ch.Value*float64(a.Retained))
	var le *LimitError
	if errors.As(err, &le) {
		n := float64(a.Retained)
		what := "every customer the model holds as lost kept"
		if ch.Value < 0 {
			what = "every customer not certain to be alive lost"
		}
		return c.cannot(ch, fmt.Sprintf("expected a change of retention_12m the purchase model can make in segment %d, at most %+.4f "+
			"(%s: %.1f of its %d customers active in the last 12 months buying in the next 12, against %.1f expected), found %s",
			sg.ID, (le.Bound-le.Expected)/n, what, le.Bound, a.Retained, le.Expected, signed(ch.Value)))
	}
	if err != nil {
		return err
	}
	a.DropoutFactor = k
	if k == 1 {
		return nil // no change: the customers keep their figures exactly
	}
	for j, i := range idx {
		kept[i] = keptFactor(alive[j], k)
	}
	return nil
}

// newCustomers checks a new-customers change and returns the means and
// variances of the last 12 months' revenue and orders of the segment's
// customers whose first order fell in them.
func (c *computation) newCustomers(sg Segment, ch Change, custs []int) (meanRev, meanOrd, varRev, varOrd float64, err error) {
	if _, ok := c.targets[targetKey{sg.ID, scoring.MetricNewCustomers}]; !ok {
		return 0, 0, 0, 0, c.cannot(ch, fmt.Sprintf("expected a new_customers_12m baseline of segment %d, found none: "+
			"the run leaves it out (the data do not cover the last 12 months and the year before), so who is new is not known", sg.ID))
	}
	var n, sr, so, sr2, so2 float64
	for _, i := range custs {
		cu := &c.run.Customers[i]
		if !cu.New12m {
			continue
		}
		n++
		sr, so = sr+cu.Revenue12m, so+cu.Orders12m
		sr2, so2 = sr2+cu.Revenue12m*cu.Revenue12m, so2+cu.Orders12m*cu.Orders12m
	}
	if n == 0 {
		return 0, 0, 0, 0, c.cannot(ch, fmt.Sprintf("expected customers of segment %d whose first order fell in the last 12 months, "+
			"to value the added customers by, found none", sg.ID))
	}
	meanRev, meanOrd = sr/n, so/n
	if n > 1 {
		varRev = math.Max((sr2-n*meanRev*meanRev)/(n-1), 0)
		varOrd = math.Max((so2-n*meanOrd*meanOrd)/(n-1), 0)
	}
	return meanRev, meanOrd, varRev, varOrd, nil
}

// ratios returns the scenario's sums over the baseline's of the segment's
// customers with a prediction, each customer's probability of a purchase,
// purchases, revenue and value times its kept factor.
func (c *computation) ratios(custs []int, kept map[int]float64) sums {
	var base, scen sums
	withSpend := c.run.SpendModelError == ""
	for _, i := range custs {
		cu := &c.run.Customers[i]
		if math.IsNaN(cu.PPurchase) || math.IsNaN(cu.Purchases) {
			continue
		}
		k, ok := kept[i]
		if !ok {
			k = 1
		}
		rev := cu.Purchases
		if withSpend && !math.IsNaN(cu.Spend) {
			rev *= cu.Spend
		}
		base.active += cu.PPurchase
		base.purchases += cu.Purchases
		base.revenue += rev
		scen.active += cu.PPurchase * k
		scen.purchases += cu.Purchases * k
		scen.revenue += rev * k
		if !math.IsNaN(cu.CLV) {
			base.clv += cu.CLV
			scen.clv += cu.CLV * k
		}
	}
	r := func(s, b float64) float64 {
		if b == 0 {
			return 1
		}
		return s / b
	}
	return sums{r(scen.active, base.active), r(scen.purchases, base.purchases), r(scen.revenue, base.revenue), r(scen.clv, base.clv)}
}

// newCustomerDiscount is the mean discount factor of an added customer's
// value: customers arrive evenly over the 12 months and then buy at an even
// rate, so month m holds (2m − 1)/144 of their value, discounted by
// (1 + d)^m as predicted_clv_12m discounts.
func newCustomerDiscount(d float64) float64 {
	var s, disc float64
	disc = 1
	for m := 1; m <= 12; m++ {
		disc /= 1 + d
		s += float64(2*m-1) / 144 * disc
	}
	return s
}

// programme is the cost and return of the changes: the existing
// customers' incremental revenue accrues evenly over the 12 months (the
// run keeps each customer's 12-month figures, not their months), the added
// customers' as they arrive, evenly, and then buy at an even rate.
func programme(req Request, contacted int64, incExisting, incNew float64) *Programme {
	margin := req.Margin
	if margin == 0 {
		margin = 1
	}
	p := &Programme{FixedCost: req.Cost, CostPerCustomer: req.CostPerCustomer, Contacted: contacted, Margin: margin,
		Cost: req.Cost + req.CostPerCustomer*float64(contacted), IncrementalRevenue: incExisting + incNew}
	p.IncrementalValue = margin * p.IncrementalRevenue
	p.ROI = (p.IncrementalValue - p.Cost) / p.Cost
	p.PaybackMonths = math.NaN()
	var cum float64
	for m := 1; m <= 12; m++ {
		v := margin * (incExisting/12 + incNew*float64(2*m-1)/144)
		p.Monthly[m-1] = v
		if math.IsNaN(p.PaybackMonths) && v > 0 && cum+v >= p.Cost {
			p.PaybackMonths = float64(m-1) + (p.Cost-cum)/v
		}
		cum += v
	}
	return p
}

// describe writes a segment's changes as --set does.
func describe(changes []Change) string {
	var parts []string
	for _, c := range changes {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, " ")
}

// Changes are the scenario's changes, segment by segment, as --set writes
// them: "1: retention_12m=+0.05; 3: avg_order_value=+0.03".
func (r *Result) Changes() string { return describeAll(r.Applied) }

// describeAll writes every segment's changes: "1: retention_12m=+0.05; 3: ...".
func describeAll(applied []Applied) string {
	var parts []string
	for _, a := range applied {
		parts = append(parts, strconv.Itoa(a.Segment)+": "+describe(a.Changes))
	}
	return strings.Join(parts, "; ")
}
