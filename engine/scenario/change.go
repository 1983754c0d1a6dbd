// Package scenario projects what a published run's segments would do over
// its 12-month horizon if a programme changed them: a retention, cross-sell,
// order value or channel change per segment, or new customers, acting
// through the run's fitted customer-value models, against the run's own
// baselines and P10-P90 bands, with the programme's cost, incremental value,
// ROI and payback (crmseg scenario; docs/definitions.md, "Scenarios").
//
// It works on Go values only: the engine reads the run's published tables
// and hands them over, so the package's tests build without DuckDB.
package scenario

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/crmseg/crmseg/scoring"
)

// The changes a scenario can make to a segment, by the name --set gives
// them.
const (
	// Retention raises (or lowers) the segment's 12-month retention by
	// share points: of its customers active in the last 12 months, the
	// share the purchase model expects to buy again in the next 12.
	Retention = scoring.MetricRetention
	// CrossSell raises the share of the segment's buyers who bought two
	// categories or more, by share points.
	CrossSell = scoring.MetricMultiCategoryShare
	// DigitalShare moves the share of the segment's spend through web and
	// app, by share points.
	DigitalShare = scoring.MetricDigitalShare
	// AvgOrderValue changes the segment's spend per purchase, relative:
	// +0.05 is 5% more.
	AvgOrderValue = "avg_order_value"
	// NewCustomers adds that many customers to the segment.
	NewCustomers = "new_customers"
)

// Metrics lists the changes, in the order a segment applies them.
var Metrics = []string{Retention, CrossSell, AvgOrderValue, DigitalShare, NewCustomers}

// AllSegments is the segment a change of segment=* names: every segment of
// the run.
const AllSegments = 0

// Change is one change of a scenario to one segment, or to every segment.
type Change struct {
	// Segment is the segment's ID, or AllSegments.
	Segment int
	// Metric is one of Metrics.
	Metric string
	// Value is the change: share points for Retention, CrossSell and
	// DigitalShare, relative for AvgOrderValue, a number of customers for
	// NewCustomers.
	Value float64
	// Set is the --set value the change came from, for messages.
	Set string
}

// String is the change as --set writes it, without its segment:
// retention_12m=+0.05, new_customers=500.
func (c Change) String() string {
	if c.Metric == NewCustomers {
		return c.Metric + "=" + strconv.FormatFloat(c.Value, 'f', -1, 64)
	}
	return c.Metric + "=" + signed(c.Value)
}

func signed(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if v >= 0 {
		s = "+" + s
	}
	return s
}

// ParseSet parses one --set value: a segment and one or more changes to it,
// separated by spaces, each key=value:
//
//	segment=3 retention_12m=+0.05
//	segment=* digital_share=+0.10 avg_order_value=+3%
//
// segment is a segment ID or * (every segment). A share or an order value
// is changed by a signed number (a trailing % divides it by 100); an
// unsigned one is refused, since it would read as the level the metric
// should reach. new_customers takes a whole number of customers. Which
// segments exist is checked against the run later (Compute). A malformed
// value is an *Error naming it.
func ParseSet(value string) ([]Change, error) {
	bad := func(format string, args ...any) error {
		return &Error{What: "--set " + strconv.Quote(value), Problem: fmt.Sprintf(format, args...)}
	}
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return nil, bad(`expected "segment=ID" and one or more changes such as retention_12m=+0.05, found nothing`)
	}
	segment := -1
	var changes []Change
	for _, f := range fields {
		key, v, ok := strings.Cut(f, "=")
		if !ok || key == "" || v == "" {
			return nil, bad("expected key=value, found %q", f)
		}
		if key == "segment" {
			if segment >= 0 {
				return nil, bad("expected one segment, found a second: %q", f)
			}
			if v == "*" {
				segment = AllSegments
				continue
			}
			id, err := strconv.Atoi(v)
			if err != nil || id < 1 {
				return nil, bad("expected segment=ID (a segment ID, 1 or more) or segment=*, found %q", f)
			}
			segment = id
			continue
		}
		if !slices.Contains(Metrics, key) {
			return nil, bad("expected a change of %s, found %q", strings.Join(Metrics, ", "), key)
		}
		if slices.ContainsFunc(changes, func(c Change) bool { return c.Metric == key }) {
			return nil, bad("expected each metric once, found %s twice", key)
		}
		x, err := parseValue(key, v)
		if err != nil {
			return nil, bad("%s: %v", key, err)
		}
		changes = append(changes, Change{Metric: key, Value: x, Set: value})
	}
	if segment < 0 {
		return nil, bad(`expected "segment=ID" or "segment=*" naming the segment the changes apply to, found none`)
	}
	if len(changes) == 0 {
		return nil, bad("expected one or more changes (%s) besides the segment, found none", strings.Join(Metrics, ", "))
	}
	for i := range changes {
		changes[i].Segment = segment
	}
	return changes, nil
}

// parseValue reads the value of a change to metric.
func parseValue(metric, v string) (float64, error) {
	if metric == NewCustomers {
		n, err := strconv.ParseInt(strings.TrimPrefix(v, "+"), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("expected a whole number of customers to add (0 or more), found %q", v)
		}
		return float64(n), nil
	}
	if v[0] != '+' && v[0] != '-' {
		what := "share points"
		if metric == AvgOrderValue {
			what = "a relative change"
		}
		return 0, fmt.Errorf("expected a signed change in %s, such as +0.05 or -2%%, found %q (a level to reach is not taken: write the change from the baseline)", what, v)
	}
	num, pct := strings.CutSuffix(v, "%")
	x, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("expected a signed number such as +0.05 or -2%%, found %q", v)
	}
	if pct {
		x /= 100
	}
	return x, nil
}
