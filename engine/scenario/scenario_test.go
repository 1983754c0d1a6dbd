package scenario

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/scoring"
)

// handRun is a run of two segments whose baselines are the models' own
// sums (as the run's are, before rounding): segment 1 of 400 customers, 300
// of them active in the last 12 months, segment 2 of 200 customers. Every
// customer has a prediction drawn from seed.
func handRun(seed uint64) *Run {
	rng := rand.New(rand.NewPCG(seed, 1))
	run := &Run{ID: "r1", AsOf: "2026-06-30", PurchaseModel: "bg_nbd", MonthlyDiscountRate: 0.01,
		Segments: []Segment{{1, "High", 400}, {2, "Low", 200}}}
	for s, n := range map[int]int{1: 400, 2: 200} {
		for i := range n {
			pi := 0.2 + 0.8*rng.Float64()
			if i%10 == 0 {
				pi = 1 // a one-time buyer: certainly alive under BG/NBD
			}
			q := 0.3 + 0.7*rng.Float64() // P(purchase | alive)
			m := 1 + 5*rng.Float64()     // purchases | alive
			spend := 20 + 80*rng.Float64()
			c := Customer{Segment: s, Active12m: i < n*3/4, New12m: i%7 == 0, Buyer: true, Categories: 1 + i%3,
				Revenue12m: 50 + float64(i%11)*10, Orders12m: float64(1 + i%4),
				PAlive: pi, PPurchase: pi * q, Purchases: pi * m, Spend: spend}
			c.CLV = c.Purchases * c.Spend * 0.94
			run.Customers = append(run.Customers, c)
		}
	}
	for _, sg := range run.Segments {
		var a, e, r float64
		for _, c := range run.Customers {
			if c.Segment == sg.ID {
				a, e, r = a+c.PPurchase, e+c.Purchases, r+c.Purchases*c.Spend
			}
		}
		t := func(metric, method string, base, relSD float64) {
			sd := relSD * base
			run.Targets = append(run.Targets, Target{Segment: sg.ID, Metric: metric, Unit: scoring.MetricUnit(metric), Method: method,
				Baseline: base, Low: math.Max(base-zP90*sd, 0), High: base + zP90*sd, HorizonStart: "2026-07-01", HorizonEnd: "2027-06-30"})
		}
		// Orders are 1.2 per purchase day and revenue 0.9 of the models'
		// spend: the run's conversions.
		t(scoring.MetricActiveCustomers, "bg_nbd", a, 0.2)
		t(scoring.MetricOrders, "bg_nbd", 1.2*e, 0.2)
		t(scoring.MetricRevenue, "bg_nbd_gamma_gamma", 0.9*r, 0.25)
		t(scoring.MetricRetention, scoring.MethodLastYear, 0.6, 0.05)
		t(scoring.MetricMultiCategoryShare, scoring.MethodLastYear, 0.66, 0.05)
		t(scoring.MetricDigitalShare, scoring.MethodLastYear, 0.4, 0.05)
		t(scoring.MetricNewCustomers, scoring.MethodLastYear, 50, 0.1)
	}
	return run
}

func mustParse(t *testing.T, sets ...string) []Change {
	t.Helper()
	var out []Change
	for _, s := range sets {
		c, err := ParseSet(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c...)
	}
	return out
}

func rowOf(t *testing.T, res *Result, segment int, metric string) Row {
	t.Helper()
	for _, r := range res.Rows {
		if r.Segment == segment && r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row of segment %d, %s", segment, metric)
	return Row{}
}

// same reports whether two figures are the same, NaN included.
func same(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// TestNoChangeIsBaseline: a scenario without changes, and one whose
// changes are all 0, reproduces every baseline and band exactly, the
// totals included.
func TestNoChangeIsBaseline(t *testing.T) {
	run := handRun(1)
	for _, changes := range [][]Change{nil, mustParse(t,
		"segment=* retention_12m=+0 multi_category_share=+0 avg_order_value=+0 digital_share=-0 new_customers=0")} {
		res, err := Compute(run, Request{Changes: changes})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 2*8+5 {
			t.Errorf("%d rows, want 21", len(res.Rows))
		}
		for _, r := range res.Rows {
			if !same(r.Scenario, r.Baseline) || !same(r.ScenarioLow, r.BaselineLow) || !same(r.ScenarioHigh, r.BaselineHigh) {
				t.Errorf("%v: segment %d %s: scenario %v [%v, %v], baseline %v [%v, %v]", changes != nil, r.Segment, r.Metric,
					r.Scenario, r.ScenarioLow, r.ScenarioHigh, r.Baseline, r.BaselineLow, r.BaselineHigh)
			}
		}
		for _, tg := range run.Targets {
			if r := rowOf(t, res, tg.Segment, tg.Metric); r.Baseline != tg.Baseline || r.BaselineLow != tg.Low || r.BaselineHigh != tg.High {
				t.Errorf("segment %d %s: baseline %v [%v, %v], the run's %v [%v, %v]", tg.Segment, tg.Metric, r.Baseline, r.BaselineLow,
					r.BaselineHigh, tg.Baseline, tg.Low, tg.High)
			}
		}
	}
}

// TestRetentionMovesActiveCustomers: retention_12m=+x raises the segment's
// projected active customers by x times its customers active in the last 12
// months. The baseline here is the models' own sum, so the only error is the
// solver's: bisection to the last bit of the factor, far below 1e-9
// customers. The other segment does not move; the purchases and value rise
// with the customers kept, by the same factor each, so relatively more than
// the active customers when the kept buy more than the average.
func TestRetentionMovesActiveCustomers(t *testing.T) {
	run := handRun(2)
	for _, x := range []float64{0.05, 0.01, -0.1} {
		res, err := Compute(run, Request{Changes: []Change{{Segment: 1, Metric: Retention, Value: x, Set: "test"}}})
		if err != nil {
			t.Fatal(err)
		}
		r := rowOf(t, res, 1, scoring.MetricActiveCustomers)
		if got, want := r.Scenario-r.Baseline, x*300; math.Abs(got-want) > 1e-9 {
			t.Errorf("retention %+v: active customers moved by %.12f, want %.12f", x, got, want)
		}
		if a := res.Applied[0]; a.Retained != 300 || (x > 0) != (a.DropoutFactor < 1) {
			t.Errorf("retention %+v: %d retained, dropout factor %v", x, a.Retained, a.DropoutFactor)
		}
		if rel := (r.ScenarioHigh - r.Scenario) / (r.BaselineHigh - r.Baseline); math.Abs(rel-r.Scenario/r.Baseline) > 1e-12 {
			t.Errorf("retention %+v: band scaled by %v, baseline by %v", x, rel, r.Scenario/r.Baseline)
		}
		for _, m := range []string{scoring.MetricRevenue, scoring.MetricOrders, MetricCLV} {
			if o := rowOf(t, res, 1, m); (o.Scenario > o.Baseline) != (x > 0) {
				t.Errorf("retention %+v: %s %v from %v", x, m, o.Scenario, o.Baseline)
			}
			if o := rowOf(t, res, 2, m); o.Scenario != o.Baseline {
				t.Errorf("retention %+v: segment 2's %s moved", x, m)
			}
		}
		if o := rowOf(t, res, 1, scoring.MetricRetention); math.Abs(o.Scenario-(0.6+x)) > 1e-15 {
			t.Errorf("retention %+v: retention_12m %v", x, o.Scenario)
		}
		tot, s1, s2 := rowOf(t, res, 0, scoring.MetricActiveCustomers), r, rowOf(t, res, 2, scoring.MetricActiveCustomers)
		if math.Abs(tot.Scenario-s1.Scenario-s2.Scenario) > 1e-9 {
			t.Errorf("total %v is not the segments' %v + %v", tot.Scenario, s1.Scenario, s2.Scenario)
		}
	}
}

// TestDropoutFactor checks the solver against a case worked by hand: two
// customers with P(alive) 0.5 and 1 and a purchase probability of 0.4 and
// 0.6. Halving the odds of having dropped out (k = 0.5) takes the first
// one's P(alive) to 0.5/(0.5 + 0.25) = 2/3, its purchase probability to
// 0.4/0.75: a gain of 0.4/0.75 − 0.4 = 2/15.
func TestDropoutFactor(t *testing.T) {
	alive, active := []float64{0.5, 1}, []float64{0.4, 0.6}
	k, err := DropoutFactor(alive, active, 2.0/15)
	if err != nil || math.Abs(k-0.5) > 1e-12 {
		t.Errorf("k = %v, %v; want 0.5", k, err)
	}
	// Doubling them (k = 2) takes it to 0.4/1.5: a loss of 0.4 − 0.4/1.5.
	if k, err := DropoutFactor(alive, active, 0.4/1.5-0.4); err != nil || math.Abs(k-2) > 1e-9 {
		t.Errorf("k = %v, %v; want 2", k, err)
	}
	// At most 0.4/0.5 − 0.4 = 0.4 more (the first customer kept for
	// certain); at most 0.4 fewer (the second is certain to be alive).
	for _, gain := range []float64{0.4, 0.5, -0.4, -1} {
		var le *LimitError
		if _, err := DropoutFactor(alive, active, gain); !errors.As(err, &le) || !strings.Contains(err.Error(), "at most 0.4 ") {
			t.Errorf("gain %v: %v", gain, err)
		}
	}
}

// TestChanges checks the mapping of each change on the hand-made run.
func TestChanges(t *testing.T) {
	run := handRun(3)
	compute := func(sets ...string) *Result {
		t.Helper()
		res, err := Compute(run, Request{Changes: mustParse(t, sets...)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// An order value change scales revenue and value, nothing else.
	res := compute("segment=2 avg_order_value=+10%")
	for m, want := range map[string]float64{scoring.MetricRevenue: 1.1, MetricCLV: 1.1, scoring.MetricOrders: 1, scoring.MetricActiveCustomers: 1} {
		if r := rowOf(t, res, 2, m); math.Abs(r.Scenario/r.Baseline-want) > 1e-12 || math.Abs(r.ScenarioLow/r.BaselineLow-want) > 1e-12 {
			t.Errorf("avg_order_value: %s scaled by %v, want %v", m, r.Scenario/r.Baseline, want)
		}
	}

	// A digital share change moves the share and its band only.
	res = compute("segment=1 digital_share=+0.1")
	if r := rowOf(t, res, 1, scoring.MetricDigitalShare); math.Abs(r.Scenario-0.5) > 1e-15 || math.Abs(r.ScenarioLow-r.BaselineLow-0.1) > 1e-15 {
		t.Errorf("digital_share: %+v", r)
	}
	if r := rowOf(t, res, 0, scoring.MetricRevenue); r.Scenario != r.Baseline {
		t.Errorf("digital_share moved revenue: %+v", r)
	}

	// Cross-sell: 0.1 of segment 1's 400 buyers, 40, take a second
	// category; the share moves, the value does not.
	res = compute("segment=1 multi_category_share=+0.1")
	if a := res.Applied[0]; a.Converted != 40 || a.Contacted != 400 {
		t.Errorf("cross-sell: %+v", a)
	}
	if r := rowOf(t, res, 1, scoring.MetricMultiCategoryShare); math.Abs(r.Scenario-0.76) > 1e-15 {
		t.Errorf("cross-sell: share %v", r.Scenario)
	}
	for _, m := range []string{scoring.MetricRevenue, scoring.MetricOrders, scoring.MetricActiveCustomers, MetricCLV} {
		if r := rowOf(t, res, 1, m); r.Scenario != r.Baseline {
			t.Errorf("cross-sell moved %s", m)
		}
	}

	// New customers add the mean figures of the segment's new customers, one
	// active customer each, and widen the band by their variance.
	res = compute("segment=2 new_customers=+30")
	var n, rev, ord float64
	for _, c := range run.Customers {
		if c.Segment == 2 && c.New12m {
			n, rev, ord = n+1, rev+c.Revenue12m, ord+c.Orders12m
		}
	}
	for m, want := range map[string]float64{scoring.MetricRevenue: 30 * rev / n, scoring.MetricOrders: 30 * ord / n,
		scoring.MetricActiveCustomers: 30, scoring.MetricNewCustomers: 30} {
		if r := rowOf(t, res, 2, m); math.Abs(r.Scenario-r.Baseline-want) > 1e-9 {
			t.Errorf("new customers: %s moved by %v, want %v", m, r.Scenario-r.Baseline, want)
		}
	}
	if r := rowOf(t, res, 2, scoring.MetricRevenue); !(r.ScenarioHigh-r.Scenario > r.BaselineHigh-r.Baseline) {
		t.Errorf("new customers: revenue band not widened: %+v", r)
	}
}

// TestProgramme checks cost, ROI and payback on hand-made figures: an
// order value change of +10% on a segment with a revenue baseline of
// 120,000 brings 12,000 more, evenly over the year: 1,000 a month.
func TestProgramme(t *testing.T) {
	run := &Run{ID: "r", Segments: []Segment{{1, "A", 1000}, {2, "B", 500}}, PurchaseModel: "bg_nbd", PurchaseModelError: "not used"}
	for _, s := range []int{1, 2} {
		run.Targets = append(run.Targets, Target{Segment: s, Metric: scoring.MetricRevenue, Unit: "currency", Method: scoring.MethodLastYear,
			Baseline: 120000, Low: 100000, High: 140000},
			Target{Segment: s, Metric: scoring.MetricNewCustomers, Unit: "customers", Method: scoring.MethodLastYear, Baseline: 10, Low: 6, High: 14})
	}
	// Segment 2's new customers brought 120 each in the last 12 months.
	for range 4 {
		run.Customers = append(run.Customers, Customer{Segment: 2, New12m: true, Revenue12m: 120, Orders12m: 2})
	}
	cases := []struct {
		name       string
		req        Request
		cost, inc  float64
		roi, month float64
	}{
		// 2,500 + 2.5 × the 1,000 contacted customers: 5,000, paid back
		// after 5 months of 1,000; ROI (12,000 − 5,000) / 5,000.
		{"fixed and per customer", Request{Changes: mustParse(t, "segment=1 avg_order_value=+0.1"), Cost: 2500, CostPerCustomer: 2.5},
			5000, 12000, 1.4, 5},
		// At a margin of 0.5, 500 a month: 10 months, ROI 0.2.
		{"margin", Request{Changes: mustParse(t, "segment=1 avg_order_value=+0.1"), Cost: 5000, Margin: 0.5}, 5000, 6000, 0.2, 10},
		// 7,000 is not reached within the year at 500 a month.
		{"not within the year", Request{Changes: mustParse(t, "segment=1 avg_order_value=+0.1"), Cost: 7000, Margin: 0.5},
			7000, 6000, -1.0 / 7, math.NaN()},
		// 12 new customers of 120 arrive evenly and then buy evenly: month
		// m brings 1,440 × (2m − 1)/144 = 10(2m − 1), 10m² by the end of
		// month m; 250 is reached at m = 5.
		{"new customers", Request{Changes: mustParse(t, "segment=2 new_customers=12"), Cost: 250}, 250, 1440, (1440 - 250) / 250.0, 5},
		// 160 is reached within month 4 (90 by month 3, 70 in month 4):
		// 3 + 70/70.
		{"new customers, within a month", Request{Changes: mustParse(t, "segment=2 new_customers=12"), Cost: 160}, 160, 1440, (1440 - 160) / 160.0, 4},
	}
	for _, c := range cases {
		res, err := Compute(run, c.req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p := res.Programme
		if p == nil || math.Abs(p.Cost-c.cost) > 1e-9 || math.Abs(p.IncrementalValue-c.inc) > 1e-9 || math.Abs(p.ROI-c.roi) > 1e-12 ||
			!(same(p.PaybackMonths, c.month) || math.Abs(p.PaybackMonths-c.month) < 1e-12) {
			t.Errorf("%s: %+v", c.name, p)
			continue
		}
		if r := rowOf(t, res, 0, MetricPayback); !same(r.Scenario, c.month) && math.Abs(r.Scenario-c.month) > 1e-12 {
			t.Errorf("%s: payback row %v", c.name, r.Scenario)
		}
	}
	// With the value models not used, a retention change says so and what
	// can still be computed.
	_, err := Compute(run, Request{Changes: mustParse(t, "segment=1 retention_12m=+0.05")})
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Problem, "expected the run's customer-value predictions, found none: a retention change acts "+
		"through the purchase model's dropout (bg_nbd not used: not used); without them run r can still take multi_category_share, digital_share, avg_order_value and new_customers changes") {
		t.Errorf("retention without models: %v", err)
	}
}

// TestRefused checks that requests the run cannot carry out are refused
// with a message naming the --set value.
func TestRefused(t *testing.T) {
	run := handRun(4)
	cases := []struct {
		sets []string
		req  Request
		want string
	}{
		{[]string{"segment=9 retention_12m=+0.05"}, Request{}, `--set "segment=9 retention_12m=+0.05": expected a segment of run r1 (1, 2), found segment 9`},
		{[]string{"segment=1 retention_12m=+0.45"}, Request{}, "expected retention_12m to stay within 0 to 1, found segment 1's 0.6000 +0.45 = 1.0500"},
		{[]string{"segment=1 digital_share=-0.5"}, Request{}, "expected digital_share to stay within 0 to 1"},
		{[]string{"segment=1 retention_12m=+0.39"}, Request{}, "expected a change of retention_12m the purchase model can make in segment 1, at most +0."},
		{[]string{"segment=1 retention_12m=-0.59"}, Request{}, "expected a change of retention_12m the purchase model can make in segment 1, at most -0."},
		{[]string{"segment=1 avg_order_value=-1"}, Request{}, "expected an order value change above -100%, found -100%"},
		{[]string{"segment=* retention_12m=+0.01", "segment=2 retention_12m=+0.02"}, Request{},
			`"segment=2 retention_12m=+0.02": expected retention_12m of segment 2 changed once, found it changed by --set "segment=* retention_12m=+0.01" too`},
		{[]string{"segment=1 new_customers=5"}, Request{CostPerCustomer: 1}, "--cost-per-customer 1: expected changes that contact customers"},
		{[]string{"segment=1 digital_share=+0.01"}, Request{Margin: 1.5}, "--margin 1.5: expected the share of incremental revenue that is value"},
		{[]string{"segment=1 digital_share=+0.01"}, Request{Cost: -1}, "--cost -1: expected a cost of 0 or more"},
	}
	for _, c := range cases {
		c.req.Changes = mustParse(t, c.sets...)
		_, err := Compute(run, c.req)
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.sets, err, c.want)
		}
	}
	// A share the run leaves out cannot be changed.
	noDigital := handRun(4)
	noDigital.Targets = noDigital.Targets[:0]
	for _, tg := range handRun(4).Targets {
		if tg.Metric != scoring.MetricDigitalShare {
			noDigital.Targets = append(noDigital.Targets, tg)
		}
	}
	if _, err := Compute(noDigital, Request{Changes: mustParse(t, "segment=2 digital_share=+0.1")}); err == nil ||
		!strings.Contains(err.Error(), "expected a digital_share baseline of segment 2 in run r1, found none (the run leaves it out: the inputs have no channel") {
		t.Errorf("digital share left out: %v", err)
	}
}

func TestParseSet(t *testing.T) {
	good := map[string][]Change{
		"segment=3 retention_12m=+0.05": {{Segment: 3, Metric: Retention, Value: 0.05}},
		"  segment=*   digital_share=+10%  avg_order_value=-0.02 ": {{Segment: AllSegments, Metric: DigitalShare, Value: 0.1},
			{Segment: AllSegments, Metric: AvgOrderValue, Value: -0.02}},
		"new_customers=+500 segment=2":            {{Segment: 2, Metric: NewCustomers, Value: 500}},
		"segment=1 multi_category_share=-1.5e-2 ": {{Segment: 1, Metric: CrossSell, Value: -0.015}},
	}
	for in, want := range good {
		got, err := ParseSet(in)
		if err != nil || len(got) != len(want) {
			t.Errorf("%q: %v, %v", in, got, err)
			continue
		}
		for i := range got {
			if got[i].Segment != want[i].Segment || got[i].Metric != want[i].Metric || math.Abs(got[i].Value-want[i].Value) > 1e-15 || got[i].Set != in {
				t.Errorf("%q: %+v, want %+v", in, got[i], want[i])
			}
		}
	}
	bad := map[string]string{
		"":                                            `--set "": expected "segment=ID" and one or more changes`,
		"retention_12m=+0.05":                         `expected "segment=ID" or "segment=*" naming the segment`,
		"segment=1":                                   "expected one or more changes",
		"segment=one retention_12m=+0.05":             `expected segment=ID (a segment ID, 1 or more) or segment=*, found "segment=one"`,
		"segment=1 segment=2 churn=+0.1":              `expected one segment, found a second: "segment=2"`,
		"segment=1 churn_rate=+0.1":                   `expected a change of retention_12m, multi_category_share, avg_order_value, digital_share, new_customers, found "churn_rate"`,
		"segment=1 retention_12m=0.7":                 `retention_12m: expected a signed change in share points, such as +0.05 or -2%, found "0.7"`,
		"segment=1 retention_12m=+x":                  `retention_12m: expected a signed number such as +0.05 or -2%, found "+x"`,
		"segment=1 retention_12m=+Inf":                `expected a signed number`,
		"segment=1 new_customers=-5":                  `new_customers: expected a whole number of customers to add (0 or more), found "-5"`,
		"segment=1 new_customers=2.5":                 `expected a whole number`,
		"segment=1 retention_12m":                     `expected key=value, found "retention_12m"`,
		"segment=1 digital_share=+1 digital_share=+2": "expected each metric once, found digital_share twice",
	}
	for in, want := range bad {
		_, err := ParseSet(in)
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
