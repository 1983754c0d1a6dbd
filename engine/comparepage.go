package engine

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot/vg"

	"github.com/crmseg/crmseg/engine/report"
	"github.com/crmseg/crmseg/scoring"
)

// The ids of compare.html's charts and tables, which its tests look for.
const (
	CompareChartContingency = "contingency"
	CompareChartKSelection  = "k-selection"
	CompareTableRuns        = "runs"
	CompareTableContingency = "contingency"
	CompareTableSegments    = "segments"
	CompareTableProfilesA   = "profiles-a"
	CompareTableProfilesB   = "profiles-b"
	CompareTableMetrics     = "metrics"
	CompareTableTargets     = "targets"
	CompareTableKSelection  = "k-selection"
	CompareTableBacktest    = "backtest"
)

// CompareHeadlineMetrics are the segment_metrics the text and the page show
// per segment (the JSON has them all); CompareHeadlineTargets the targets.
var (
	CompareHeadlineMetrics = []string{"customers", scoring.MetricRevenue, scoring.MetricOrders, "historical_ltv",
		scoring.MetricRetention, "predicted_clv_12m_mean", "share_alive"}
	CompareHeadlineTargets = []string{scoring.MetricRevenue, scoring.MetricActiveCustomers, scoring.MetricRetention}
)

// WriteComparePage writes the comparison as one self-contained HTML page
// (compare.html), drawn with the run report's pieces.
func WriteComparePage(w io.Writer, c *Comparison) error {
	p, err := ComparePage(c)
	if err != nil {
		return err
	}
	return p.Render(w)
}

// ComparePage lays out a comparison: the two runs, how far their
// segmentations agree (the adjusted Rand index, the contingency table and
// its heatmap), the segments and profiles side by side, the metrics and
// targets, the choice of k and the backtests.
func ComparePage(c *Comparison) (*report.Page, error) {
	p := &report.Page{
		Title:    "crmseg compare: " + c.A.Name + " and " + c.B.Name,
		Subtitle: "Two segmentations of customers side by side: A is " + c.A.Kind + " " + c.A.Name + ", B is " + c.B.Kind + " " + c.B.Name + ".",
		Facts: []report.Fact{{Label: "A", Value: c.A.Name}, {Label: "B", Value: c.B.Name},
			{Label: "Adjusted Rand index", Value: report.Number(float64(c.AdjustedRandIndex), 3)},
			{Label: "Customers in both", Value: report.Count(c.Customers.InBoth)}},
	}
	inputs := "different inputs"
	switch {
	case c.SameInputs:
		inputs = "the same inputs"
	case len(c.A.Inputs) == 0 || len(c.B.Inputs) == 0:
		inputs = "inputs unknown"
	}
	p.Facts = append(p.Facts, report.Fact{Label: "Inputs", Value: inputs})
	agreement, err := compareAgreement(c)
	if err != nil {
		return nil, err
	}
	kChoice, err := compareKChoice(c)
	if err != nil {
		return nil, err
	}
	p.Sections = []report.Section{compareRuns(c), agreement, compareSegmentsSection(c), compareMetricsSection(c), kChoice, compareBacktests(c)}
	return p, nil
}

// compareSides are the two runs with their letter.
func compareSides(c *Comparison) []struct {
	letter string
	run    *CompareRun
} {
	return []struct {
		letter string
		run    *CompareRun
	}{{"A", &c.A}, {"B", &c.B}}
}

func compareRuns(c *Comparison) report.Section {
	s := report.Section{ID: "runs", Title: "The two runs"}
	t := report.Table{ID: CompareTableRuns, Columns: []report.Column{{Title: ""}, {Title: "Kind"}, {Title: "Name"}, {Title: "As of"},
		{Title: "Segments", Numeric: true}, {Title: "Customers", Numeric: true}, {Title: "Tables missing"}}}
	for _, sd := range compareSides(c) {
		missing := "none"
		if len(sd.run.Missing) > 0 {
			missing = fmt.Sprint(sd.run.Missing)
		}
		t.Rows = append(t.Rows, []string{sd.letter, sd.run.Kind, sd.run.Name, sd.run.AsOf, strconv.Itoa(sd.run.K), report.Count(sd.run.Customers), missing})
	}
	s.Blocks = append(s.Blocks, t)
	return s
}

// CompareNoCustomersInBoth says why a comparison of runs that share no
// customer has no adjusted Rand index.
const CompareNoCustomersInBoth = "No customer is in both runs, so their segmentations cannot be compared customer by customer: " +
	"the runs read different customers, or their inputs write the IDs of the same customers differently."

func compareAgreement(c *Comparison) (report.Section, error) {
	s := report.Section{ID: "agreement", Title: "How far the segmentations agree",
		Intro: fmt.Sprintf("Adjusted Rand index %s over the %s customers in both runs: 1 is the same segmentation whatever the segment IDs, about 0 no more alike than chance. %s customers are only in A, %s only in B.",
			report.Number(float64(c.AdjustedRandIndex), 3), report.Count(c.Customers.InBoth), report.Count(c.Customers.OnlyInA), report.Count(c.Customers.OnlyInB))}
	if c.Customers.InBoth == 0 {
		s.Intro += " " + CompareNoCustomersInBoth
	}
	aIDs, bIDs, cells := c.ContingencyIDs()
	t := report.Table{ID: CompareTableContingency, Caption: "Customers by their segment in A (rows) and in B (columns).",
		Columns: []report.Column{{Title: "A \\ B"}}}
	var colLabels []string
	for _, b := range bIDs {
		t.Columns = append(t.Columns, report.Column{Title: compareLabel(&c.B, b), Numeric: true})
		colLabels = append(colLabels, "B "+compareLabel(&c.B, b))
	}
	t.Columns = append(t.Columns, report.Column{Title: "not in B", Numeric: true})
	var rowLabels []string
	var shares [][]float64
	for _, a := range append(slices.Clone(aIDs), 0) {
		label := "not in A"
		if a != 0 {
			label = compareLabel(&c.A, a)
		}
		row := []string{label}
		var total int64
		for _, b := range append(slices.Clone(bIDs), 0) {
			row = append(row, report.Count(cells[[2]int{a, b}]))
			total += cells[[2]int{a, b}]
		}
		if a == 0 && total == 0 {
			continue
		}
		t.Rows = append(t.Rows, row)
		if a != 0 {
			rowLabels = append(rowLabels, "A "+label)
			share := make([]float64, len(bIDs))
			for j, b := range bIDs {
				share[j] = float64(cells[[2]int{a, b}]) / float64(total)
			}
			shares = append(shares, share)
		}
	}
	s.Blocks = append(s.Blocks, t)
	if len(rowLabels) == 0 || len(colLabels) == 0 {
		return s, nil
	}
	h := compareChartHeight(len(rowLabels))
	svg, err := report.Heatmap(report.ChartSpec{Height: h, Label: "Share of each segment of A in each segment of B"}, rowLabels, colLabels, shares, report.Sequential(1),
		func(v float64) string { return report.Percent(v, 0) })
	if err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, report.Figure{ID: CompareChartContingency, Title: "Where A's segments went", SVG: svg,
		Caption: "For each segment of A, the share of its customers (in both runs) in each segment of B, the figure in each cell: a segment kept whole has one full cell in its row, a segment split in two has two."})
	return s, nil
}

// ContingencyIDs are the segment IDs of the contingency table's rows (A)
// and columns (B), 0 left out, and its cells by (A, B).
func (c *Comparison) ContingencyIDs() (aIDs, bIDs []int, cells map[[2]int]int64) {
	cells = map[[2]int]int64{}
	for _, cell := range c.Contingency {
		cells[[2]int{cell.A, cell.B}] = cell.Customers
		if cell.A != 0 && !slices.Contains(aIDs, cell.A) {
			aIDs = append(aIDs, cell.A)
		}
		if cell.B != 0 && !slices.Contains(bIDs, cell.B) {
			bIDs = append(bIDs, cell.B)
		}
	}
	slices.Sort(aIDs)
	slices.Sort(bIDs)
	return aIDs, bIDs, cells
}

// compareLabel is a segment's ID and name in a run.
func compareLabel(run *CompareRun, id int) string {
	for _, s := range run.Segments {
		if s.ID == id {
			return strconv.Itoa(id) + " " + s.Name
		}
	}
	return strconv.Itoa(id)
}

// compareChartHeight is the height of a chart of rows rows.
func compareChartHeight(rows int) vg.Length {
	return vg.Length(math.Max(6, 3+1.1*float64(rows))) * vg.Centimeter
}

func compareSegmentsSection(c *Comparison) report.Section {
	s := report.Section{ID: "segments", Title: "Segments side by side",
		Intro: "Each run's segments by ID. An ID names the same segment in both runs only where the later run's segmentation was matched to the earlier's (the same features in one output root); compare the names."}
	t := report.Table{ID: CompareTableSegments, Columns: []report.Column{{Title: "ID", Numeric: true}, {Title: "A segment"}, {Title: "Customers", Numeric: true},
		{Title: "Share", Numeric: true}, {Title: "Historical value", Numeric: true}, {Title: "B segment"}, {Title: "Customers", Numeric: true},
		{Title: "Share", Numeric: true}, {Title: "Historical value", Numeric: true}}}
	for _, id := range c.SegmentIDs() {
		row := []string{strconv.Itoa(id)}
		for _, sd := range compareSides(c) {
			i := slices.IndexFunc(sd.run.Segments, func(s CompareSegment) bool { return s.ID == id })
			if i < 0 {
				row = append(row, "–", "", "", "")
				continue
			}
			sg := sd.run.Segments[i]
			row = append(row, sg.Name, report.Count(sg.Customers), report.Percent(float64(sg.Share), 1), report.Number(float64(sg.HistoricalLTV), 2))
		}
		t.Rows = append(t.Rows, row)
	}
	s.Blocks = append(s.Blocks, t)
	for _, sd := range compareSides(c) {
		if len(sd.run.Features) == 0 {
			continue
		}
		id := CompareTableProfilesA
		if sd.letter == "B" {
			id = CompareTableProfilesB
		}
		pt := report.Table{ID: id, Caption: sd.letter + "'s profiles: each segment's centre in each feature's own units.",
			Columns: []report.Column{{Title: "Segment"}}}
		for _, f := range sd.run.Features {
			pt.Columns = append(pt.Columns, report.Column{Title: f, Numeric: true})
		}
		for _, sg := range sd.run.Segments {
			row := []string{strconv.Itoa(sg.ID) + " " + sg.Name}
			for _, v := range sg.Centroid {
				row = append(row, report.Number(float64(v), 2))
			}
			pt.Rows = append(pt.Rows, row)
		}
		s.Blocks = append(s.Blocks, pt)
	}
	return s
}

// SegmentIDs are the segment IDs of either run, in order.
func (c *Comparison) SegmentIDs() []int {
	var ids []int
	for _, sd := range compareSides(c) {
		for _, s := range sd.run.Segments {
			if !slices.Contains(ids, s.ID) {
				ids = append(ids, s.ID)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

func compareMetricsSection(c *Comparison) report.Section {
	s := report.Section{ID: "metrics", Title: "Metrics and targets",
		Intro: "The headline metrics of each segment ID and of all customers (0), and the baselines and targets for the 12 months after as_of, in A and in B, with B − A (shares in percentage points). crmseg compare --json has every metric and target."}
	t := report.Table{ID: CompareTableMetrics, Caption: "segment_metrics", Columns: []report.Column{{Title: "Segment"}, {Title: "Metric"},
		{Title: "A", Numeric: true}, {Title: "B", Numeric: true}, {Title: "B − A", Numeric: true}}}
	for _, m := range c.Metrics {
		if !slices.Contains(CompareHeadlineMetrics, m.Metric) || m.Dimension != "" {
			continue
		}
		t.Rows = append(t.Rows, []string{CompareSegmentLabel(m.SegmentID, m.ASegmentName, m.BSegmentName), m.Metric,
			CompareFigure(float64(m.A), m.Unit), CompareFigure(float64(m.B), m.Unit), CompareDifference(float64(m.Difference), m.Unit)})
	}
	tt := report.Table{ID: CompareTableTargets, Caption: "segment_targets", Columns: []report.Column{{Title: "Segment"}, {Title: "Metric"},
		{Title: "A baseline", Numeric: true}, {Title: "B baseline", Numeric: true}, {Title: "B − A", Numeric: true},
		{Title: "A target", Numeric: true}, {Title: "B target", Numeric: true}, {Title: "B − A", Numeric: true}}}
	for _, x := range c.Targets {
		if !slices.Contains(CompareHeadlineTargets, x.Metric) {
			continue
		}
		f := func(v float64) string { return CompareFigure(v, x.Unit) }
		tt.Rows = append(tt.Rows, []string{CompareSegmentLabel(x.SegmentID, x.ASegmentName, x.BSegmentName), x.Metric,
			f(float64(x.ABaseline)), f(float64(x.BBaseline)), CompareDifference(float64(x.BaselineDifference), x.Unit),
			f(float64(x.ATarget)), f(float64(x.BTarget)), CompareDifference(float64(x.TargetDifference), x.Unit)})
	}
	if len(t.Rows) == 0 && len(tt.Rows) == 0 {
		s.Blocks = append(s.Blocks, report.Paragraph("Neither run has segment_metrics or segment_targets."))
		return s
	}
	s.Blocks = append(s.Blocks, t, tt)
	return s
}

func compareKChoice(c *Comparison) (report.Section, error) {
	s := report.Section{ID: "k-selection", Title: "Choice of k",
		Intro: "Each run's figures for the numbers of segments it tried (one row for a given k): silhouette, Calinski-Harabasz and stability higher is better, Davies-Bouldin lower."}
	t := report.Table{ID: CompareTableKSelection, Columns: []report.Column{{Title: "Run"}, {Title: "k", Numeric: true}, {Title: "Silhouette", Numeric: true},
		{Title: "Calinski-Harabasz", Numeric: true}, {Title: "Davies-Bouldin", Numeric: true}, {Title: "Stability", Numeric: true},
		{Title: "Smallest share", Numeric: true}, {Title: "Chosen"}}}
	var series []report.Series
	var ks []int
	for _, sd := range compareSides(c) {
		for _, k := range sd.run.KSelection {
			if !slices.Contains(ks, k.K) {
				ks = append(ks, k.K)
			}
		}
	}
	slices.Sort(ks)
	for _, sd := range compareSides(c) {
		sil := report.Series{Name: sd.letter + " silhouette"}
		for _, k := range sd.run.KSelection {
			mark := ""
			if k.Chosen {
				mark = "chosen"
			}
			t.Rows = append(t.Rows, []string{sd.letter, strconv.Itoa(k.K), report.Number(float64(k.Silhouette), 3), report.Number(float64(k.CalinskiHarabasz), 1),
				report.Number(float64(k.DaviesBouldin), 3), report.Number(float64(k.Stability), 3), report.Percent(float64(k.SmallestShare), 1), mark})
			sil.X, sil.Y = append(sil.X, float64(slices.Index(ks, k.K))), append(sil.Y, float64(k.Silhouette))
		}
		series = append(series, sil)
		if sd.run.KReason != "" {
			s.Blocks = append(s.Blocks, report.Paragraph(sd.letter+": "+sd.run.KReason))
		}
	}
	if len(t.Rows) == 0 {
		s.Blocks = append(s.Blocks, report.Paragraph("Neither run has k_selection."))
		return s, nil
	}
	s.Blocks = append(s.Blocks, t)
	if len(ks) > 1 {
		var ticks []string
		for _, k := range ks {
			ticks = append(ticks, strconv.Itoa(k))
		}
		svg, err := report.LineChart(report.ChartSpec{XLabel: "k (number of segments)", YLabel: "silhouette (higher is better)", XTicks: ticks,
			Label: "Silhouette per k of both runs"}, series)
		if err != nil {
			return s, err
		}
		s.Blocks = append(s.Blocks, report.Figure{ID: CompareChartKSelection, Title: "Silhouette per k", SVG: svg,
			Caption: "How well customers sit in their own segment rather than the next, for each k each run tried or was given: A and B each with their own marker and line pattern."})
	}
	return s, nil
}

func compareBacktests(c *Comparison) report.Section {
	s := report.Section{ID: "backtest", Title: "Backtests",
		Intro: "Each run's value models fitted on the data up to its calibration end and their forecast of the holdout compared with what the customers did: error is predicted / actual − 1."}
	t := report.Table{ID: CompareTableBacktest, Columns: []report.Column{{Title: "Run"}, {Title: "Group"}, {Title: "Customers", Numeric: true},
		{Title: "Actual purchases", Numeric: true}, {Title: "Predicted", Numeric: true}, {Title: "Error", Numeric: true},
		{Title: "Actual revenue", Numeric: true}, {Title: "Predicted", Numeric: true}, {Title: "Error", Numeric: true}}}
	for _, sd := range compareSides(c) {
		if len(sd.run.Backtest) == 0 {
			s.Blocks = append(s.Blocks, report.Paragraph(sd.letter+" has no backtest (value.backtest_holdout is not set)."))
			continue
		}
		for _, b := range sd.run.Backtest {
			if b.Grouping == "frequency" {
				continue
			}
			label := "all customers"
			if b.Grouping == "segment" {
				label = strconv.Itoa(b.GroupValue) + " " + b.GroupLabel
			}
			t.Rows = append(t.Rows, []string{sd.letter, label, report.Count(b.Customers), report.Number(float64(b.ActualPurchases), 0),
				report.Number(float64(b.PredictedPurchases), 0), report.Percent(float64(b.PurchasesError), 1), report.Number(float64(b.ActualRevenue), 0),
				report.Number(float64(b.PredictedRevenue), 0), report.Percent(float64(b.RevenueError), 1)})
		}
	}
	if len(t.Rows) > 0 {
		s.Blocks = append(s.Blocks, t)
	}
	return s
}

// CompareSegmentLabel names a segment ID with its names in A and B, once
// when they agree; 0 is all customers.
func CompareSegmentLabel(id int, a, b string) string {
	switch {
	case id == 0:
		return "0 all customers"
	case a == b || b == "":
		return fmt.Sprintf("%d %s", id, a)
	case a == "":
		return fmt.Sprintf("%d %s", id, b)
	}
	return fmt.Sprintf("%d %s / %s", id, a, b)
}

// CompareFigure formats a metric's figure by its unit: shares as
// percentages, counts whole, the rest with two decimals; "–" when
// undefined.
func CompareFigure(v float64, unit string) string {
	switch unit {
	case "share":
		return report.Percent(v, 2)
	case "customers", "orders":
		return report.Number(v, 0)
	}
	return report.Number(v, 2)
}

// CompareDifference formats B − A by its unit, signed, with the digits
// grouped as CompareFigure groups A's and B's: shares in percentage points.
func CompareDifference(v float64, unit string) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case unit == "share":
		return fmt.Sprintf("%+.2f pp", 100*v)
	}
	s := CompareFigure(v, unit)
	if v >= 0 {
		s = "+" + s
	}
	return s
}
