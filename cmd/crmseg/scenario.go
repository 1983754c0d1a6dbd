package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/engine/scenario"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/cli"
	"github.com/crmseg/crmseg/scoring"
)

// setFlags collects the values of a repeated --set.
type setFlags []string

func (s *setFlags) String() string { return strings.Join(*s, "; ") }

func (s *setFlags) Set(v string) error {
	*s = append(*s, v)
	return nil
}

const scenarioUsage = `crmseg scenario (--out DIR | --config FILE) --set "segment=ID CHANGE..." [--set ...] [--cost AMOUNT]
       [--cost-per-customer AMOUNT] [--margin SHARE] [--name NAME] [--json] [RUN_ID|latest]

Projects the run's segments (latest's by default) over its 12-month horizon under the changes, against
the run's baselines, with P10-P90 bands, and with a cost the programme's incremental value, ROI and
payback; writes runs/RUN_ID/scenarios/NAME/ and records it in the run history. The run is only read.

Changes (--set "segment=ID|* metric=VALUE ..."; docs/definitions.md, "Scenarios"):
  retention_12m=+0.05         share points of the customers active in the last 12 months kept buying
  multi_category_share=+0.05  share points of the buyers taken from one category to several (no value effect)
  avg_order_value=+0.03       relative change of the spend per purchase (+3%)
  digital_share=+0.10         share points of spend moved to web and app (no value effect)
  new_customers=500           customers added, valued as the segment's new customers of the last 12 months
A trailing % divides by 100 (+5% is +0.05).

`

// cmdScenario computes a scenario on a published run and prints it.
func cmdScenario(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) error {
	fs := cli.NewFlagSet("crmseg", "scenario", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage of crmseg scenario:\n  "+scenarioUsage+"Flags:\n")
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "output root (the directory holding latest, runs/ and history.duckdb)")
	configFile := fs.String("config", "", "take the output root from this config file")
	var sets setFlags
	fs.Var(&sets, "set", `a segment and its changes, e.g. "segment=3 retention_12m=+0.05" (repeatable)`)
	cost := fs.Float64("cost", 0, "the programme's fixed cost")
	perCustomer := fs.Float64("cost-per-customer", 0, "the programme's cost per customer of the segments the changes touch")
	margin := fs.Float64("margin", 1, "the share of incremental revenue that counts as value (gross margin); 1: the revenue itself")
	name := fs.String("name", "", "the scenario's name (default: its start time, UTC)")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	cli.Examples(fs, `crmseg scenario --config crmseg.yaml --set "segment=3 retention_12m=+0.05" --cost 20000 --cost-per-customer 1.5`)
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) > 1 {
		return &cli.UsageError{Msg: fmt.Sprintf("scenario takes one run ID (or latest, the default), found %s", strings.Join(ids, ", "))}
	}
	root, err := outputRoot("scenario", *out, *configFile)
	if err != nil {
		return err
	}
	if !(*margin > 0) {
		// The request reads 0 as unset (1); a margin asked for must be one.
		return &scenario.Error{What: fmt.Sprintf("--margin %g", *margin),
			Problem: "expected the share of incremental revenue that is value, above 0 and at most 1 (1: the revenue itself)"}
	}
	req := scenario.Request{Cost: *cost, CostPerCustomer: *perCustomer, Margin: *margin}
	for _, s := range sets {
		changes, err := scenario.ParseSet(s)
		if err != nil {
			return err
		}
		req.Changes = append(req.Changes, changes...)
	}
	runID := "latest"
	if len(ids) == 1 {
		runID = ids[0]
	}
	res, err := engine.Scenario(ctx, engine.ScenarioOptions{Root: root, RunID: runID, Name: *name, Request: req, Now: now, Version: version()})
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(stdout, scenarioJSON(res)); err != nil {
			return err
		}
	} else {
		printScenario(stdout, res, root)
	}
	return res.HistoryErr
}

// scenarioOutput is the JSON crmseg scenario --json prints: where the
// scenario went, its scenario.json and the rows of its scenario_results.
type scenarioOutput struct {
	Scenario     string          `json:"scenario"`
	RunID        string          `json:"run_id"`
	AsOf         string          `json:"as_of"`
	HorizonStart string          `json:"horizon_start"`
	HorizonEnd   string          `json:"horizon_end"`
	Directory    string          `json:"directory"`
	Recorded     bool            `json:"recorded"` // in the run history
	Changes      string          `json:"changes"`
	Record       json.RawMessage `json:"record"` // scenario.json
	Rows         []scenarioRowJS `json:"rows"`
}

// scenarioRowJS is one row of scenario_results; nil for an empty figure.
type scenarioRowJS struct {
	SegmentID    int      `json:"segment_id"`
	SegmentName  string   `json:"segment_name"`
	Metric       string   `json:"metric"`
	Unit         string   `json:"unit"`
	Baseline     *float64 `json:"baseline"`
	BaselineLow  *float64 `json:"baseline_low"`
	BaselineHigh *float64 `json:"baseline_high"`
	Scenario     *float64 `json:"scenario"`
	ScenarioLow  *float64 `json:"scenario_low"`
	ScenarioHigh *float64 `json:"scenario_high"`
	Change       *float64 `json:"change"`
	Method       string   `json:"method,omitempty"`
}

func scenarioJSON(res *engine.ScenarioResult) scenarioOutput {
	o := scenarioOutput{Scenario: res.Name, RunID: res.RunID, AsOf: res.AsOf, HorizonStart: res.HorizonStart, HorizonEnd: res.HorizonEnd,
		Directory: res.Dir, Recorded: res.HistoryErr == nil, Changes: res.Changes(), Record: json.RawMessage("null"), Rows: []scenarioRowJS{}}
	if b, err := os.ReadFile(filepath.Join(res.Dir, "scenario.json")); err == nil && json.Valid(b) {
		o.Record = b
	}
	// As scenario_results holds them: 4 decimals, empty figures null.
	ptr := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		v = math.Round(v*1e4) / 1e4
		return &v
	}
	for _, r := range res.Rows {
		o.Rows = append(o.Rows, scenarioRowJS{SegmentID: r.Segment, SegmentName: r.SegmentName, Metric: r.Metric, Unit: r.Unit,
			Baseline: ptr(r.Baseline), BaselineLow: ptr(r.BaselineLow), BaselineHigh: ptr(r.BaselineHigh), Scenario: ptr(r.Scenario),
			ScenarioLow: ptr(r.ScenarioLow), ScenarioHigh: ptr(r.ScenarioHigh), Change: ptr(r.Scenario - r.Baseline), Method: r.Method})
	}
	return o
}

// printScenario prints the scenario: its changes and what they came to, the
// total and every changed segment against the baseline, the programme.
func printScenario(w io.Writer, res *engine.ScenarioResult, root string) {
	fmt.Fprintf(w, "scenario %s of run %s (as of %s), horizon %s to %s\n", res.Name, res.RunID, res.AsOf, res.HorizonStart, res.HorizonEnd)
	if res.PurchaseModelError != "" {
		fmt.Fprintf(w, "  the run's value models were not used (%s: %s): its baselines are the last 12 months projected, "+
			"no retention_12m change applies and there is no predicted_clv_12m\n", res.PurchaseModel, res.PurchaseModelError)
	}
	changed := map[int]bool{}
	for _, a := range res.Applied {
		changed[a.Segment] = true
		var how []string
		for _, c := range a.Changes {
			switch c.Metric {
			case scenario.Retention:
				how = append(how, fmt.Sprintf("%s (%d customers active in the last 12 months, their odds of having dropped out × %.3f)",
					c, a.Retained, a.DropoutFactor))
			case scenario.CrossSell:
				how = append(how, fmt.Sprintf("%s (%.1f buyers %s; no value effect of its own)", c, math.Abs(a.Converted),
					map[bool]string{true: "to several categories", false: "back to one category"}[a.Converted >= 0]))
			case scenario.NewCustomers:
				how = append(how, fmt.Sprintf("%s (each %.2f revenue and %.2f orders, as the segment's new customers of the last 12 months)",
					c, a.NewCustomerRevenue, a.NewCustomerOrders))
			default:
				how = append(how, c.String())
			}
		}
		fmt.Fprintf(w, "  segment %d %s: %s\n", a.Segment, a.Name, strings.Join(how, "; "))
	}
	if len(res.Applied) == 0 {
		fmt.Fprintln(w, "  no change: the scenario is the baseline")
	}
	order := []string{scoring.MetricRevenue, scoring.MetricOrders, scoring.MetricActiveCustomers, scenario.MetricCLV,
		scoring.MetricRetention, scoring.MetricMultiCategoryShare, scoring.MetricDigitalShare, scoring.MetricNewCustomers}
	segs := []int{0}
	for _, a := range res.Applied {
		segs = append(segs, a.Segment)
	}
	// The total and each changed segment, a metric a line: the cells first,
	// then the columns as wide as their widest cell.
	table := [][]string{{"segment", "metric", "baseline", "P10 - P90", "scenario", "P10 - P90", "change", ""}}
	for _, sg := range segs {
		for _, m := range order {
			for _, r := range res.Rows {
				if r.Segment != sg || r.Metric != m {
					continue
				}
				d := 0
				switch r.Unit {
				case "share":
					d = 4
				case "customers", "orders":
					d = 1
				}
				band := func(lo, hi float64) string {
					if math.IsNaN(lo) && math.IsNaN(hi) {
						return "–"
					}
					return figure(lo, d) + " - " + figure(hi, d)
				}
				change := r.Scenario - r.Baseline
				rel := ""
				if r.Unit != "share" && r.Baseline != 0 && !math.IsNaN(change) {
					rel = percent(100 * change / r.Baseline)
				}
				sign := figure(change, d)
				if change >= 0 {
					sign = "+" + sign
				}
				table = append(table, []string{fmt.Sprintf("%d %s", r.Segment, r.SegmentName), r.Metric, figure(r.Baseline, d),
					band(r.BaselineLow, r.BaselineHigh), figure(r.Scenario, d), band(r.ScenarioLow, r.ScenarioHigh), sign, rel})
			}
		}
	}
	widths := make([]int, len(table[0]))
	for _, row := range table {
		for j, cell := range row {
			widths[j] = max(widths[j], utf8.RuneCountInString(cell))
		}
	}
	fmt.Fprintln(w)
	for _, row := range table {
		// Names and bands to the left, figures to the right.
		line := []string{pad(row[0], -widths[0]), pad(row[1], -widths[1]), pad(row[2], widths[2]), pad(row[3], -widths[3]),
			pad(row[4], widths[4]), pad(row[5], -widths[5]), pad(row[6], widths[6]), pad(row[7], widths[7])}
		fmt.Fprintln(w, strings.TrimRight(strings.Join(line, "  "), " "))
	}
	if len(res.Applied) < len(segmentsOf(res)) {
		fmt.Fprintln(w, "(the segments without a change keep their baselines; scenario_results holds every segment)")
	}
	if p := res.Programme; p != nil {
		payback := "not within the 12 months"
		if !math.IsNaN(p.PaybackMonths) {
			payback = fmt.Sprintf("%.1f months", p.PaybackMonths)
		}
		value := "net revenue"
		if p.Margin != 1 {
			value = fmt.Sprintf("net revenue × margin %g", p.Margin)
		}
		cost := fmt.Sprintf("%.2f", p.Cost)
		if p.CostPerCustomer > 0 {
			cost += fmt.Sprintf(" (%.2f fixed + %.2f × %d customers contacted)", p.FixedCost, p.CostPerCustomer, p.Contacted)
		}
		fmt.Fprintf(w, "\nprogramme: cost %s; incremental value %.2f (%s); ROI %s; payback %s\n",
			cost, p.IncrementalValue, value, figure(p.ROI, 2), payback)
	}
	rel, err := filepath.Rel(root, res.Dir)
	if err != nil {
		rel = res.Dir
	}
	fmt.Fprintf(w, "\nwritten to %s (scenario_results.parquet, scenario_results.csv, scenario.json)", filepath.Join(root, rel))
	if res.HistoryErr == nil {
		fmt.Fprintf(w, "; recorded in %s", filepath.Join(root, store.HistoryFile))
	}
	fmt.Fprintln(w)
}

// segmentsOf is the segments of the scenario's rows, the total left out.
func segmentsOf(res *engine.ScenarioResult) map[int]bool {
	segs := map[int]bool{}
	for _, r := range res.Rows {
		if r.Segment != 0 {
			segs[r.Segment] = true
		}
	}
	return segs
}
