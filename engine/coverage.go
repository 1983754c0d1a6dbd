package engine

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/scoring"
)

// minWindowCoverage is the share of a window the data must cover for the
// metrics of that window to be published: below it, a figure would describe
// the few days the data holds as if they were the whole window.
const minWindowCoverage = 0.5

// windowMetrics are the metrics that need each window. The previous 12
// months count for new customers too: a customer is new when not seen
// before the last 12 months, which only data from before them can tell.
var windowMetrics = []struct {
	window  string
	metrics []string
}{
	{"last_12m", []string{"revenue_12m", "orders_12m", "avg_order_value_12m", "aov_change", "aov_increase_share",
		"purchase_frequency_12m", "active_customers_12m", "retention_12m", "churn_rate", "new_customers_12m",
		"digital_share", "channel_share"}},
	{"previous_12m", []string{"avg_order_value_prev_12m", "aov_change", "aov_increase_share", "retention_12m",
		"churn_rate", "new_customers_12m"}},
}

// columnMetrics are the metrics that need an input column, filled on some
// accepted purchase line: without it they would read as 0 ("no cross-sell",
// "no digital spend") rather than unknown.
var columnMetrics = []struct {
	column  string
	metrics []string
}{
	{"category", []string{"categories_per_customer", "multi_category_share"}},
	{"channel", []string{"digital_share", "channel_share"}},
}

// windowCoverage reads how much of each window the data covers, the data
// running from dataStart to dataEnd (the first and the last accepted
// order's dates; null when there is none).
func (s *session) windowCoverage(ctx context.Context, dataStart, dataEnd sql.NullTime) ([]manifest.WindowCoverage, error) {
	q, err := modelSQL("reads/window_coverage")
	if err != nil {
		return nil, err
	}
	var start, end any
	if dataStart.Valid {
		start = dataStart.Time
	}
	if dataEnd.Valid {
		end = dataEnd.Time
	}
	rows, err := s.conn.QueryContext(ctx, q, start, end)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []manifest.WindowCoverage
	for rows.Next() {
		var w manifest.WindowCoverage
		if err := rows.Scan(&w.Window, &w.Start, &w.End, &w.Days, &w.CoveredDays); err != nil {
			return nil, err
		}
		if w.Days > 0 {
			w.Coverage = round(float64(w.CoveredDays)/float64(w.Days), 4)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// metricsLeftOut lists the metrics a run leaves out, in a fixed order: those
// that need an input column the data does not fill (missing says why, ""
// when it does), then those whose window the data covers less than
// minWindowCoverage of. A metric is listed once, with its first reason.
func metricsLeftOut(windows []manifest.WindowCoverage, missing func(column string) string) []manifest.MetricLeftOut {
	out := []manifest.MetricLeftOut{}
	add := func(metrics []string, reason string) {
		for _, m := range metrics {
			if !slices.ContainsFunc(out, func(l manifest.MetricLeftOut) bool { return l.Metric == m }) {
				out = append(out, manifest.MetricLeftOut{Metric: m, Reason: reason})
			}
		}
	}
	for _, c := range columnMetrics {
		if why := missing(c.column); why != "" {
			add(c.metrics, why)
		}
	}
	for _, wm := range windowMetrics {
		for _, w := range windows {
			if w.Window == wm.window && w.Coverage < minWindowCoverage {
				add(wm.metrics, fmt.Sprintf("the data covers %d of the %d days of %s (%s to %s)",
					w.CoveredDays, w.Days, w.Window, w.Start, w.End))
			}
		}
	}
	return out
}

// coverage records how much of each window the data covers and the metrics
// the run leaves out, in the manifest and the log, and returns what the
// data supplies: the inputs' columns, and which optional ones the accepted
// lines fill.
func (r *run) coverage(ctx context.Context, inputs map[string]*input) (supply, error) {
	data := supply{inputs: inputs}
	q, err := modelSQL("reads/data_extent")
	if err != nil {
		return data, err
	}
	var start, end sql.NullTime
	var filled dataFilled
	if err := r.s.conn.QueryRowContext(ctx, q).Scan(&start, &end, &filled.category, &filled.channel); err != nil {
		return data, err
	}
	data.filled = &filled
	windows, err := r.s.windowCoverage(ctx, start, end)
	if err != nil {
		return data, err
	}
	r.man.Windows = windows
	r.man.MetricsLeftOut = metricsLeftOut(windows, data.missingData)
	r.warnCoverage(windows)
	for _, l := range r.man.MetricsLeftOut {
		r.log.Info("metric left out", "metric", l.Metric, "reason", l.Reason)
	}
	return data, nil
}

// warnCoverage logs the windows the data mostly does not cover.
func (r *run) warnCoverage(windows []manifest.WindowCoverage) {
	for _, w := range windows {
		if w.Coverage < minWindowCoverage {
			r.log.Warn("metric window mostly outside the data (before its first order or after its last): its metrics are left out",
				"window", w.Window, "start", w.Start, "end", w.End, "covered_days", w.CoveredDays, "days", w.Days)
		}
	}
}

// supply is what the run's data supplies: the columns of its inputs and,
// once the features are built (or validate has read the lines), which
// optional transaction columns some accepted purchase line fills.
type supply struct {
	inputs map[string]*input
	filled *dataFilled // nil until the lines are read
}

// dataFilled says which optional transaction columns some accepted purchase
// line fills.
type dataFilled struct {
	category, channel bool
}

// hasColumn reports whether any input supplies a logical column.
func (d supply) hasColumn(col string) bool {
	switch col {
	case "category":
		return d.inputs["transactions"].has("category") || d.inputs["products"].has("category")
	case "cost", "channel":
		return d.inputs["transactions"].has(col)
	}
	return d.inputs["customers"].has(col)
}

// hasData reports whether the data supplies a logical column: the inputs
// have it and, for category and channel once the lines are read, some
// accepted purchase line fills it.
func (d supply) hasData(col string) bool {
	return d.missingData(col) == ""
}

// missingData says why the data does not supply a logical column, "" when
// it does.
func (d supply) missingData(col string) string {
	if !d.hasColumn(col) {
		return "the inputs have no " + col
	}
	if f := d.filled; f != nil && ((col == "category" && !f.category) || (col == "channel" && !f.channel)) {
		return "no accepted purchase line has a " + col
	}
	return ""
}

// leftOut reports whether the run leaves a metric out.
func (r *run) leftOut(metric string) bool {
	return slices.ContainsFunc(r.man.MetricsLeftOut, func(l manifest.MetricLeftOut) bool { return l.Metric == metric })
}

// leftOutList is the metrics left out, comma-separated, for the SQL models
// that drop them (segment_metrics).
func (r *run) leftOutList() string {
	names := make([]string, len(r.man.MetricsLeftOut))
	for i, l := range r.man.MetricsLeftOut {
		names[i] = l.Metric
	}
	return strings.Join(names, ",")
}

// withoutLeftOut sets the figures of the metrics the run leaves out to NaN
// (unknown), so the objective rules pass over them and no target is set.
func (r *run) withoutLeftOut(s scoring.SegmentSummary) scoring.SegmentSummary {
	fields := map[string]*float64{
		scoring.MetricRevenue:            &s.Revenue12m,
		scoring.MetricOrders:             &s.Orders12m,
		scoring.MetricActiveCustomers:    &s.Active12m,
		scoring.MetricRetention:          &s.Retention12m,
		scoring.MetricMultiCategoryShare: &s.MultiCategoryShare,
		scoring.MetricDigitalShare:       &s.DigitalShare,
		scoring.MetricNewCustomers:       &s.NewCustomers12m,
	}
	for m, f := range fields {
		if r.leftOut(m) {
			*f = math.NaN()
		}
	}
	// What explains a baseline (scoring.ExplainBaseline) rests on the same
	// windows: the year before, as retention does; who is new, as
	// new_customers_12m does.
	if r.leftOut(scoring.MetricRetention) {
		s.RevenuePrev12m = math.NaN()
	}
	if r.leftOut(scoring.MetricNewCustomers) {
		s.Revenue12mNew, s.NewDays12m = math.NaN(), math.NaN()
	}
	return s
}
