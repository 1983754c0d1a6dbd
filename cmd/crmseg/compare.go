package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/internal/cli"
	"github.com/crmseg/crmseg/internal/durable"
)

const compareUsage = `crmseg compare [--out DIR | --config FILE] [--json] [--html FILE] A B

Compares two runs: A and B are each a run ID, an experiment's name, latest (looked up in the output
root) or the path of a run's directory. Prints how far the two segmentations agree on the customers
both have (the adjusted Rand index and the customers by segment of A and segment of B), the segments'
sizes and profiles side by side, the differences of their metrics and targets, and each run's choice
of k and backtest (docs/compare.md). Nothing is written but the page --html asks for.

`

// cmdCompare compares two runs and prints the comparison.
func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("crmseg", "compare", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage of crmseg compare:\n  "+compareUsage+"Flags:\n")
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "output root the run IDs, experiment names and latest are looked up in")
	configFile := fs.String("config", "", "take the output root from this config file")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	html := fs.String("html", "", "also write the comparison as an HTML page (one self-contained file, as report.html) to this file")
	cli.Examples(fs, "crmseg compare --out crmseg-out k4 latest", "crmseg compare --out demo-out/out 20261201T013242Z-4fc5e8 latest --html compare.html", "crmseg compare --out crmseg-out --html compare.html --json 20260601T020000Z-3f9a1c latest > compare.json")
	refs, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(refs) != 2 {
		return &cli.UsageError{Msg: fmt.Sprintf("compare takes two runs (run IDs, experiment names, latest or run directories), found %d", len(refs))}
	}
	o := engine.CompareOptions{A: refs[0], B: refs[1]}
	if *out != "" || *configFile != "" {
		// Without either, A and B must be run directories.
		if o.Root, err = outputRoot("compare", *out, *configFile); err != nil {
			return err
		}
	}
	c, err := engine.Compare(ctx, o)
	if err != nil {
		return err
	}
	if *html != "" {
		// Written whole or not at all, before the text, which says where.
		if err := durable.WriteFileWith(*html, func(w io.Writer) error { return engine.WriteComparePage(w, c) }); err != nil {
			return fmt.Errorf("--html %s: %w", *html, err)
		}
	}
	if *asJSON {
		return writeJSON(stdout, c)
	}
	printComparison(stdout, c)
	if *html != "" {
		fmt.Fprintf(stdout, "\npage: %s\n", *html)
	}
	return nil
}

// printComparison prints a comparison for a terminal.
func printComparison(w io.Writer, c *engine.Comparison) {
	for _, r := range []struct {
		side string
		run  *engine.CompareRun
	}{{"A", &c.A}, {"B", &c.B}} {
		what := r.run.Kind + " " + r.run.Name
		if r.run.Ref != r.run.Name {
			what += " (" + r.run.Ref + ")"
		}
		if r.run.AsOf != "" {
			what += ", as of " + r.run.AsOf
		}
		fmt.Fprintf(w, "%s: %s: %d segments, %d customers\n", r.side, what, r.run.K, r.run.Customers)
		if len(r.run.Missing) > 0 {
			fmt.Fprintf(w, "   without %s: left out\n", strings.Join(r.run.Missing, ", "))
		}
	}
	switch {
	case c.SameInputs:
		fmt.Fprintln(w, "the same inputs (every input file's SHA-256 in the manifests)")
	case len(c.A.Inputs) == 0 || len(c.B.Inputs) == 0:
		fmt.Fprintln(w, "inputs unknown (a manifest without its input files)")
	default:
		fmt.Fprintln(w, "different inputs (the manifests' input files or their SHA-256 differ)")
	}

	fmt.Fprintf(w, "\nadjusted Rand index %s over the %d customers in both (1: the same segments; about 0: no more alike than chance); %d only in A, %d only in B\n",
		figure(float64(c.AdjustedRandIndex), 3), c.Customers.InBoth, c.Customers.OnlyInA, c.Customers.OnlyInB)
	if c.Customers.InBoth == 0 {
		fmt.Fprintln(w, engine.CompareNoCustomersInBoth)
	}
	printContingency(w, c)

	fmt.Fprintln(w, "\nsegments:")
	rows := [][]string{{"", "A segment", "customers", "share", "hist. LTV", "objective", "B segment", "customers", "share", "hist. LTV", "objective"}}
	ids := c.SegmentIDs()
	for _, id := range ids {
		row := []string{strconv.Itoa(id)}
		for _, run := range []*engine.CompareRun{&c.A, &c.B} {
			i := slices.IndexFunc(run.Segments, func(s engine.CompareSegment) bool { return s.ID == id })
			if i < 0 {
				row = append(row, "–", "", "", "", "")
				continue
			}
			s := run.Segments[i]
			row = append(row, s.Name, strconv.FormatInt(s.Customers, 10), sharePercent(float64(s.Share)), figure(float64(s.HistoricalLTV), 2), s.Objective)
		}
		rows = append(rows, row)
	}
	printTable(w, rows, "rlrrrllrrrl")

	for _, r := range []struct {
		side string
		run  *engine.CompareRun
	}{{"A", &c.A}, {"B", &c.B}} {
		if len(r.run.Features) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s's profiles (centroids, in each feature's units):\n", r.side)
		head := []string{"feature"}
		align := "l"
		for _, s := range r.run.Segments {
			head = append(head, strconv.Itoa(s.ID))
			align += "r"
		}
		rows := [][]string{head}
		for j, f := range r.run.Features {
			row := []string{f}
			for _, s := range r.run.Segments {
				row = append(row, figure(float64(s.Centroid[j]), 2))
			}
			rows = append(rows, row)
		}
		printTable(w, rows, align)
	}

	printMetricDifferences(w, c)
	printTargetDifferences(w, c)
	for _, r := range []struct {
		side string
		run  *engine.CompareRun
	}{{"A", &c.A}, {"B", &c.B}} {
		printCompareK(w, r.side, r.run)
	}
	for _, r := range []struct {
		side string
		run  *engine.CompareRun
	}{{"A", &c.A}, {"B", &c.B}} {
		printCompareBacktest(w, r.side, r.run)
	}
}

// printContingency prints the customers by segment of A (rows) and of B
// (columns), with the customers of one run only, and the B segment that
// holds most of each A segment.
func printContingency(w io.Writer, c *engine.Comparison) {
	aIDs, bIDs, cells := c.ContingencyIDs()
	names := func(run *engine.CompareRun) map[int]string {
		m := map[int]string{}
		for _, s := range run.Segments {
			m[s.ID] = s.Name
		}
		return m
	}
	aNames, bNames := names(&c.A), names(&c.B)
	fmt.Fprintln(w, "\ncustomers by segment of A (rows) and of B (columns):")
	head := []string{"A \\ B"}
	align := "l"
	for _, b := range bIDs {
		head = append(head, strconv.Itoa(b))
		align += "r"
	}
	head = append(head, "not in B", "most in B")
	align += "rl"
	rows := [][]string{head}
	for _, a := range append(aIDs, 0) {
		label := fmt.Sprintf("%d %s", a, aNames[a])
		if a == 0 {
			label = "not in A"
		}
		row := []string{label}
		var total, best int64
		bestID := 0
		for _, b := range append(slices.Clone(bIDs), 0) {
			n := cells[[2]int{a, b}]
			row = append(row, strconv.FormatInt(n, 10))
			total += n
			if b != 0 && n > best {
				best, bestID = n, b
			}
		}
		if a != 0 && bestID != 0 {
			row = append(row, fmt.Sprintf("%d %s (%.1f%%)", bestID, bNames[bestID], 100*float64(best)/float64(total)))
		} else {
			row = append(row, "")
		}
		if a == 0 && total == 0 {
			continue // every customer of B is in A
		}
		rows = append(rows, row)
	}
	printTable(w, rows, align)
	if len(bIDs) > 0 {
		var legend []string
		for _, b := range bIDs {
			legend = append(legend, fmt.Sprintf("%d %s", b, bNames[b]))
		}
		fmt.Fprintf(w, "B's segments: %s\n", strings.Join(legend, "; "))
	}
}

// printMetricDifferences prints the headline metrics of every segment
// ID in A and B and their difference, and those of all customers that
// differ.
func printMetricDifferences(w io.Writer, c *engine.Comparison) {
	if len(c.Metrics) == 0 {
		return
	}
	fmt.Fprintln(w, "\nmetrics (segment_metrics; segments by ID, which mean the same segment where the names agree; --json has every metric):")
	rows := [][]string{{"segment", "metric", "A", "B", "B - A"}}
	var sameAll int
	for _, m := range c.Metrics {
		if m.SegmentID == 0 && m.Difference == 0 {
			sameAll++
			continue
		}
		if m.SegmentID != 0 && (!slices.Contains(engine.CompareHeadlineMetrics, m.Metric) || m.Dimension != "") {
			continue
		}
		metric := m.Metric
		if m.Dimension != "" {
			metric += " " + m.Dimension
		}
		rows = append(rows, []string{engine.CompareSegmentLabel(m.SegmentID, m.ASegmentName, m.BSegmentName), metric,
			engine.CompareFigure(float64(m.A), m.Unit), engine.CompareFigure(float64(m.B), m.Unit), engine.CompareDifference(float64(m.Difference), m.Unit)})
	}
	if sameAll > 0 {
		fmt.Fprintf(w, "  all customers: %d metrics the same in both", sameAll)
		if len(rows) > 1 && rows[1][0] == "0 all customers" {
			fmt.Fprint(w, ", these differ:")
		}
		fmt.Fprintln(w)
	}
	printTable(w, rows, "llrrr")
}

// printTargetDifferences prints the headline targets of both runs.
func printTargetDifferences(w io.Writer, c *engine.Comparison) {
	if len(c.Targets) == 0 {
		return
	}
	fmt.Fprintln(w, "\ntargets for the 12 months after as_of (segment_targets; --json has every metric, with the bands):")
	rows := [][]string{{"segment", "metric", "A baseline", "B baseline", "B - A", "A target", "B target", "B - A"}}
	for _, t := range c.Targets {
		if !slices.Contains(engine.CompareHeadlineTargets, t.Metric) {
			continue
		}
		f := func(v float64) string { return engine.CompareFigure(v, t.Unit) }
		rows = append(rows, []string{engine.CompareSegmentLabel(t.SegmentID, t.ASegmentName, t.BSegmentName), t.Metric,
			f(float64(t.ABaseline)), f(float64(t.BBaseline)), engine.CompareDifference(float64(t.BaselineDifference), t.Unit),
			f(float64(t.ATarget)), f(float64(t.BTarget)), engine.CompareDifference(float64(t.TargetDifference), t.Unit)})
	}
	printTable(w, rows, "llrrrrrr")
}

// printCompareK prints a run's choice of k: the figures of every k tried,
// the chosen one marked.
func printCompareK(w io.Writer, side string, run *engine.CompareRun) {
	if len(run.KSelection) == 0 {
		return
	}
	how := "k given"
	if len(run.KSelection) > 1 {
		how = "k chosen"
	}
	fmt.Fprintf(w, "\n%s's choice of k (%s; silhouette and Calinski-Harabasz: higher is better; Davies-Bouldin: lower):\n", side, how)
	rows := [][]string{{"", "k", "inertia", "silhouette", "Calinski-Harabasz", "Davies-Bouldin", "stability", "smallest share"}}
	for _, k := range run.KSelection {
		mark := ""
		if k.Chosen {
			mark = "*"
		}
		rows = append(rows, []string{mark, strconv.Itoa(k.K), figure(float64(k.Inertia), 1), figure(float64(k.Silhouette), 3),
			figure(float64(k.CalinskiHarabasz), 1), figure(float64(k.DaviesBouldin), 3), figure(float64(k.Stability), 3),
			sharePercent(float64(k.SmallestShare))})
	}
	printTable(w, rows, "lrrrrrrr")
	if run.KReason != "" {
		fmt.Fprintf(w, "  %s\n", run.KReason)
	}
}

// printCompareBacktest prints a run's backtest: all calibration customers
// and each segment.
func printCompareBacktest(w io.Writer, side string, run *engine.CompareRun) {
	if len(run.Backtest) == 0 {
		fmt.Fprintf(w, "\n%s has no backtest (value.backtest_holdout not set)\n", side)
		return
	}
	b := run.Backtest[0]
	fmt.Fprintf(w, "\n%s's backtest (model_backtest), models fitted to %s, holdout to %s:\n", side, b.CalibrationEnd, b.HoldoutEnd)
	rows := [][]string{{"group", "customers", "actual purchases", "predicted", "error", "actual revenue", "predicted", "error"}}
	for _, b := range run.Backtest {
		if b.Grouping == "frequency" {
			continue
		}
		label := b.GroupLabel
		if b.Grouping == "segment" {
			label = fmt.Sprintf("%d %s", b.GroupValue, b.GroupLabel)
		}
		rows = append(rows, []string{label, strconv.FormatInt(b.Customers, 10), figure(float64(b.ActualPurchases), 0),
			figure(float64(b.PredictedPurchases), 0), percent(100 * float64(b.PurchasesError)), figure(float64(b.ActualRevenue), 0),
			figure(float64(b.PredictedRevenue), 0), percent(100 * float64(b.RevenueError))})
	}
	printTable(w, rows, "lrrrrrrr")
}

// sharePercent formats a share as a percentage with one decimal.
func sharePercent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

// printTable prints rows as columns as wide as their widest cell, each
// aligned left ('l') or right ('r') as align says, two spaces apart.
func printTable(w io.Writer, rows [][]string, align string) {
	var widths []int
	for _, row := range rows {
		for j, cell := range row {
			if j >= len(widths) {
				widths = append(widths, 0)
			}
			widths[j] = max(widths[j], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		cells := make([]string, len(row))
		for j, cell := range row {
			if j < len(align) && align[j] == 'r' {
				cells[j] = pad(cell, widths[j])
			} else {
				cells[j] = pad(cell, -widths[j])
			}
		}
		fmt.Fprintln(w, "  "+strings.TrimRight(strings.Join(cells, "  "), " "))
	}
}
