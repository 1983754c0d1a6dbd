package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot/vg"
)

// Run is the figures of one run that its report shows, gathered from the
// run's published tables and manifest (engine.GatherReport). A figure that
// is undefined or left out is NaN; a list that is empty draws a sentence
// saying why in place of its chart or table.
type Run struct {
	RunID, AsOf, StartedAt string
	// PreviousRunID is the run the segments are compared with; "" for the
	// output root's first run.
	PreviousRunID string
	Version       string // crmseg's version that made the run
	PurchaseModel string // the purchase model in use, "" when none was

	Segments []Segment
	// Profile is the segments' centroids as z-scores: one row per segment
	// of Segments, in their order, one column per feature of Features.
	Profile         [][]float64
	ProfileFeatures []string

	// Value is the distributions of customer value per segment, in the
	// order of Segments.
	Value []SegmentValue
	// Retention is the mean retention curve of each segment's cohorts.
	Retention []RetentionCurve
	// Pairs is the cross-sell pairs kept for the report: each segment's
	// best, by lift.
	Pairs []Pair
	// Targets is every segment's targets (segment_targets).
	Targets []Target
	// Scorecard is the rows of segment_scorecard; empty when no plan of
	// record covers the run.
	Scorecard []ScorecardRow
	// Migration is segment_migration: customers from each segment of the
	// previous run to each of this run.
	Migration []Flow
	// KSelection is k_selection, and KReason why k was chosen (empty when k
	// was configured).
	KSelection []KFigures
	KReason    string
	// Backtest is model_backtest's rows; empty without a backtest.
	Backtest []BacktestRow
	// Inputs and Rejects are the data quality: rows read per input and
	// rejected per table and reason.
	Inputs  []Input
	Rejects []Reject
}

// Segment is one segment as the segments table has it.
type Segment struct {
	ID              int
	Name            string
	Customers       int64
	Share           float64
	HistoricalLTV   float64
	Objective       string
	ObjectiveReason string
	Traits          string
}

// Quantiles is a distribution's 5th, 25th, 50th, 75th and 95th
// percentiles and its mean; all NaN when no customer has the figure.
type Quantiles struct {
	P05, P25, P50, P75, P95, Mean float64
}

// SegmentValue is the value figures of one segment's customers.
type SegmentValue struct {
	SegmentID             int
	Historical, Predicted Quantiles
	PAlive                Quantiles
	PredictedCustomers    int64 // customers with a predicted 12-month value
	PredictedTotal        float64
	HistoricalTotal       float64
}

// RetentionCurve is a segment's share of cohort customers active each
// month after their first order, over its complete cohort months.
type RetentionCurve struct {
	SegmentID   int
	MonthsSince []float64
	Retention   []float64
}

// Pair is one cross-sell pair of a segment: buyers of A also buy B.
type Pair struct {
	SegmentID     int
	Rank          int
	A, B          string
	CustomersBoth int64
	Confidence    float64
	Lift          float64
}

// Target is one segment's target for a metric over the 12 months after
// as_of: its baseline with the band around it, the target and the uplift.
type Target struct {
	SegmentID                   int
	Metric, Unit                string
	Baseline, Low, High, Target float64
	Uplift                      float64
	Last12m                     float64
}

// ScorecardRow is one row of segment_scorecard.
type ScorecardRow struct {
	PlanID                           int64
	SegmentID                        int
	SegmentName, Metric              string
	ActualToDate, ExpectedToDate     float64
	TargetFullYear, ProjectedYearEnd float64
	Gap                              float64
	Comparison, Status               string
}

// Flow is the customers who went from segment From of the previous run to
// segment To of this one; From 0: new customers; To 0: customers gone.
type Flow struct {
	From, To  int
	FromName  string // the previous run's name of segment From; "" for none
	Customers int64
}

// KFigures is one k tried, as k_selection has it.
type KFigures struct {
	K                                       int
	Inertia, Silhouette, CalinskiHarabasz   float64
	DaviesBouldin, Stability, SmallestShare float64
	Eligible, Chosen                        bool
}

// BacktestRow is one row of model_backtest.
type BacktestRow struct {
	Grouping, Label                     string
	Value                               int
	Customers                           int64
	ActualPurchases, PredictedPurchases float64
	ActualRevenue, PredictedRevenue     float64
	CalibrationEnd, HoldoutEnd          string
}

// Input is one input table as read.
type Input struct {
	Table    string
	Path     string
	Rows     int64
	Rejected int64 // the rows of the table (all its files) rejected
}

// Reject is the rows of one table rejected for one reason.
type Reject struct {
	Table, Reason string
	Rows          int64
}

// Write renders the run's report page.
func Write(w io.Writer, r *Run) error {
	p, err := RunPage(r)
	if err != nil {
		return err
	}
	return p.Render(w)
}

// The ids of the report's charts and tables, which its tests look for.
const (
	ChartProfile      = "profile"
	ChartHistorical   = "historical-value"
	ChartPredicted    = "predicted-value"
	ChartPAlive       = "p-alive"
	ChartRetention    = "retention"
	ChartTargets      = "revenue-targets"
	ChartKSelection   = "k-selection"
	ChartBacktest     = "backtest"
	ChartMigration    = "migration"
	TableSegments     = "segments"
	TableValue        = "value"
	TablePairs        = "pairs"
	TableTargets      = "targets"
	TableScorecard    = "scorecard"
	TableMigration    = "migration"
	TableKSelection   = "k-selection"
	TableBacktest     = "backtest"
	TableInputs       = "inputs"
	TableRejects      = "rejects"
	pairsPerSegment   = 5
	retentionMonthMax = 24
)

// RunPage lays out a run's report: the segments, value, retention,
// cross-sell, targets, movement since the previous run, model quality and
// data quality, in that order.
func RunPage(r *Run) (*Page, error) {
	names := map[int]string{}
	index := map[int]int{}
	for i, s := range r.Segments {
		names[s.ID] = s.Name
		index[s.ID] = i
	}
	label := func(id int) string {
		if n, ok := names[id]; ok {
			return strconv.Itoa(id) + " " + n
		}
		return strconv.Itoa(id)
	}
	b := &builder{r: r, label: label, index: index}
	sections := []func() (Section, error){b.segments, b.value, b.retention, b.crossSell, b.targets, b.movement, b.modelQuality, b.dataQuality}
	p := &Page{
		Title:    "crmseg run " + r.RunID,
		Subtitle: "Customer segments, their value and their targets, as of " + r.AsOf + ".",
		Facts: []Fact{{"Run", r.RunID}, {"As of", r.AsOf}, {"Started", r.StartedAt},
			{"Segments", strconv.Itoa(len(r.Segments))}, {"Customers", Count(b.customers())}},
	}
	if r.PreviousRunID != "" {
		p.Facts = append(p.Facts, Fact{"Previous run", r.PreviousRunID})
	}
	if r.Version != "" {
		p.Facts = append(p.Facts, Fact{"crmseg", r.Version})
	}
	for _, f := range sections {
		s, err := f()
		if err != nil {
			return nil, fmt.Errorf("report section: %w", err)
		}
		p.Sections = append(p.Sections, s)
	}
	return p, nil
}

type builder struct {
	r     *Run
	label func(id int) string
	index map[int]int // segment ID -> its position in r.Segments (its colour)
}

func (b *builder) customers() int64 {
	var n int64
	for _, s := range b.r.Segments {
		n += s.Customers
	}
	return n
}

func (b *builder) segments() (Section, error) {
	r := b.r
	s := Section{ID: "segments", Title: "Segments",
		Intro: "Each customer belongs to one segment. Its name says what sets it apart; its objective is what the targets below aim at."}
	t := Table{ID: TableSegments, Caption: "One row per segment.", Columns: []Column{{"Segment", false}, {"Customers", true},
		{"Share", true}, {"Historical value per customer", true}, {"Objective", false}, {"Why", false}, {"Traits", false}}}
	for _, sg := range r.Segments {
		t.Rows = append(t.Rows, []string{b.label(sg.ID), Count(sg.Customers), Percent(sg.Share, 1), Number(sg.HistoricalLTV, 2),
			sg.Objective, sg.ObjectiveReason, sg.Traits})
	}
	s.Blocks = append(s.Blocks, t)
	if len(r.Profile) == 0 || len(r.ProfileFeatures) == 0 {
		s.Blocks = append(s.Blocks, Paragraph("The run's model file is not there, so the segments' profiles cannot be drawn."))
		return s, nil
	}
	rows := make([]string, len(r.Segments))
	for i, sg := range r.Segments {
		rows[i] = b.label(sg.ID)
	}
	h := vgHeight(len(rows), 1.1, 6)
	svg, err := Heatmap(ChartSpec{Height: h, Label: "Heatmap of feature z-scores per segment"}, rows, r.ProfileFeatures, r.Profile, Diverging(2),
		func(v float64) string { return Number(v, 1) })
	if err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, Figure{ID: ChartProfile, Title: "Profiles", SVG: svg,
		Caption: "How far each segment's centre lies from the average customer on each feature, in standard deviations " +
			"(after the feature's transform): vermillion above the average, blue below, the figure in each cell."})
	return s, nil
}

// vgHeight is a chart's height for n rows: per row cm per row, at least
// min cm, plus room for the axes.
func vgHeight(n int, per, least float64) vg.Length {
	return vg.Length(math.Max(least, 3+per*float64(n))) * vg.Centimeter
}

func (b *builder) value() (Section, error) {
	r := b.r
	s := Section{ID: "value", Title: "Value",
		Intro: "What each segment's customers have spent so far, what the value models expect them to spend in the next 12 months, and how likely they are still active."}
	if len(r.Value) == 0 {
		s.Blocks = append(s.Blocks, Paragraph("No customer has a value figure in this run."))
		return s, nil
	}
	t := Table{ID: TableValue, Caption: "One row per segment: medians, with the totals over the segment.", Columns: []Column{{"Segment", false},
		{"Historical value, median", true}, {"Historical value, total", true}, {"Predicted 12-month value, median", true},
		{"Predicted 12-month value, total", true}, {"P(alive), mean", true}}}
	var hist, pred, alive []Range
	anyPred := false
	for _, v := range r.Value {
		l := b.label(v.SegmentID)
		// No customer with a prediction: the total is no figure, not 0.
		predTotal := Number(v.PredictedTotal, 0)
		if v.PredictedCustomers == 0 {
			predTotal = "–"
		}
		t.Rows = append(t.Rows, []string{l, Number(v.Historical.P50, 2), Number(v.HistoricalTotal, 0), Number(v.Predicted.P50, 2),
			predTotal, Percent(v.PAlive.Mean, 1)})
		hist = append(hist, quantRange(l, v.Historical))
		pred = append(pred, quantRange(l, v.Predicted))
		alive = append(alive, quantRange(l, v.PAlive))
		if !math.IsNaN(v.Predicted.P50) {
			anyPred = true
		}
	}
	s.Blocks = append(s.Blocks, t)
	h := vgHeight(len(hist), 0.9, 5)
	svg, err := RangeChart(ChartSpec{XLabel: "historical value per customer", Height: h, Label: "Historical value per customer by segment"},
		hist, "median", "25th–75th pct.", "5th–95th pct.", "mean")
	if err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, Figure{ID: ChartHistorical, Title: "Historical value", SVG: svg,
		Caption: "The spread of net revenue per customer since their first purchase, per segment: the box holds the middle half of the customers, the whisker runs from the 5th to the 95th percentile, the bar is the median and the diamond the mean."})
	if !anyPred {
		s.Blocks = append(s.Blocks, Paragraph("The value models gave no prediction in this run (see the model quality section), so there is no predicted value or P(alive)."))
		return s, nil
	}
	if svg, err = RangeChart(ChartSpec{XLabel: "predicted value per customer, next 12 months", Height: h, Label: "Predicted 12-month value per customer by segment"},
		pred, "median", "25th–75th pct.", "5th–95th pct.", "mean"); err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, Figure{ID: ChartPredicted, Title: "Predicted value, next 12 months", SVG: svg,
		Caption: "The spread of what each customer is expected to spend in the 12 months after the as-of date (discounted), per segment, drawn as the historical value above."})
	if svg, err = RangeChart(ChartSpec{XLabel: "P(alive): probability the customer is still active", Height: h, Label: "P(alive) by segment"},
		alive, "median", "25th–75th pct.", "5th–95th pct.", "mean"); err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, Figure{ID: ChartPAlive, Title: "Still active?", SVG: svg,
		Caption: "The purchase model's probability that each customer is still active at the as-of date, per segment: a segment far to the left is mostly lapsed."})
	return s, nil
}

func quantRange(label string, q Quantiles) Range {
	return Range{Label: label, Low: q.P05, Q1: q.P25, Mid: q.P50, Q3: q.P75, High: q.P95, Mark: q.Mean}
}

func (b *builder) retention() (Section, error) {
	r := b.r
	s := Section{ID: "retention", Title: "Retention",
		Intro: "A cohort is the customers whose first order fell in the same month. Each curve is the share of a segment's cohort customers who ordered again in each month after their first, over all its cohorts."}
	if len(r.Retention) == 0 {
		s.Blocks = append(s.Blocks, Paragraph("The run has no cohort figures (no customer with an order)."))
		return s, nil
	}
	series := make([]Series, len(r.Retention))
	for i, c := range r.Retention {
		series[i] = Series{Name: b.label(c.SegmentID), X: c.MonthsSince, Y: c.Retention}
	}
	svg, err := LineChart(ChartSpec{XLabel: "months since the first order", YLabel: "share active in the month", YMin: 0, YMax: 1,
		Label: "Cohort retention curves per segment"}, b.colourOrder(series, r.Retention))
	if err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, Figure{ID: ChartRetention, Title: "Cohort retention", SVG: svg,
		Caption: fmt.Sprintf("The share of customers active each month after the month of their first order (month 0, where all are), per segment, up to %d months; each segment has its own marker and line pattern.", retentionMonthMax)})
	return s, nil
}

// colourOrder returns the series so that each segment's series sits at
// its segment's index (its colour and glyph), padding with empty series.
func (b *builder) colourOrder(series []Series, curves []RetentionCurve) []Series {
	out := make([]Series, len(b.r.Segments))
	for i := range out {
		out[i] = Series{Name: b.label(b.r.Segments[i].ID)}
	}
	var extra []Series
	for i, c := range curves {
		if j, ok := b.index[c.SegmentID]; ok {
			out[j] = series[i]
		} else {
			extra = append(extra, series[i])
		}
	}
	return append(out, extra...)
}

func (b *builder) crossSell() (Section, error) {
	r := b.r
	s := Section{ID: "cross-sell", Title: "Cross-sell",
		Intro: fmt.Sprintf("Pairs of categories the same customers buy: of the segment's buyers of the first category, the share who bought the second too (confidence), and how much likelier that is than for any of the segment's buyers (lift). The %d pairs with the highest lift per segment.", pairsPerSegment)}
	if len(r.Pairs) == 0 {
		s.Blocks = append(s.Blocks, Paragraph("No pair of categories qualifies in this run (too few customers bought both, or the purchase lines have no category)."))
		return s, nil
	}
	t := Table{ID: TablePairs, Caption: "Top pairs per segment, by lift.", Columns: []Column{{"Segment", false}, {"Rank", true},
		{"Bought", false}, {"Also bought", false}, {"Customers who bought both", true}, {"Confidence", true}, {"Lift", true}}}
	for _, p := range r.Pairs {
		t.Rows = append(t.Rows, []string{b.label(p.SegmentID), strconv.Itoa(p.Rank), p.A, p.B, Count(p.CustomersBoth), Percent(p.Confidence, 1), Number(p.Lift, 2)})
	}
	s.Blocks = append(s.Blocks, t)
	return s, nil
}

func (b *builder) targets() (Section, error) {
	r := b.r
	s := Section{ID: "targets", Title: "Targets",
		Intro: "Each segment's baseline for the 12 months after the as-of date (what happens if nothing changes), the band it falls in with 80% probability, and the target: the baseline moved by the uplift its objective asks for."}
	if len(r.Targets) == 0 {
		s.Blocks = append(s.Blocks, Paragraph("The run set no targets."))
	} else {
		t := Table{ID: TableTargets, Caption: "One row per segment and metric.", Columns: []Column{{"Segment", false}, {"Metric", false},
			{"Last 12 months", true}, {"Baseline", true}, {"Low", true}, {"High", true}, {"Target", true}, {"Uplift", true}}}
		var rev []Range
		for _, tg := range r.Targets {
			d := 0
			if tg.Unit == "share" {
				d = 3
			} else if tg.Unit != "currency" && tg.Unit != "customers" && tg.Unit != "orders" {
				d = 2
			}
			t.Rows = append(t.Rows, []string{b.label(tg.SegmentID), tg.Metric, Number(tg.Last12m, d), Number(tg.Baseline, d), Number(tg.Low, d),
				Number(tg.High, d), Number(tg.Target, d), Percent(tg.Uplift, 1)})
			if tg.Metric == "revenue_12m" {
				rev = append(rev, Range{Label: b.label(tg.SegmentID), Low: tg.Low, Q1: math.NaN(), Mid: tg.Baseline, Q3: math.NaN(), High: tg.High, Mark: tg.Target})
			}
		}
		s.Blocks = append(s.Blocks, t)
		if len(rev) > 0 {
			svg, err := RangeChart(ChartSpec{XLabel: "net revenue, next 12 months", Height: vgHeight(len(rev), 0.9, 5), Label: "Revenue baseline, band and target per segment"},
				rev, "baseline", "", "80% band", "target")
			if err != nil {
				return s, err
			}
			s.Blocks = append(s.Blocks, Figure{ID: ChartTargets, Title: "Revenue targets", SVG: svg,
				Caption: "Each segment's revenue baseline for the next 12 months (bar) with its 80% band (whisker) and its target (diamond): a target outside the band asks for more than chance would bring."})
		}
	}
	if len(r.Scorecard) == 0 {
		s.Blocks = append(s.Blocks, Paragraph("No plan of record covers this run's as-of date, so there is no scorecard."))
		return s, nil
	}
	t := Table{ID: TableScorecard, Caption: fmt.Sprintf("The scorecard against plan %d: one row per target of the plan.", r.Scorecard[0].PlanID),
		Columns: []Column{{"Segment", false}, {"Metric", false}, {"Actual to date", true}, {"Expected to date", true}, {"Gap", true},
			{"Full-year target", true}, {"Projected year end", true}, {"Status", false}}}
	for _, sc := range r.Scorecard {
		gap := Percent(sc.Gap, 1)
		if sc.Comparison == "points" {
			gap = Number(sc.Gap*100, 1) + " pts"
		}
		status := strings.ReplaceAll(sc.Status, "_", " ")
		if status == "" {
			status = "–"
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(sc.SegmentID) + " " + sc.SegmentName, sc.Metric, Number(sc.ActualToDate, 2),
			Number(sc.ExpectedToDate, 2), gap, Number(sc.TargetFullYear, 2), Number(sc.ProjectedYearEnd, 2), status})
	}
	s.Blocks = append(s.Blocks, t)
	return s, nil
}

func (b *builder) movement() (Section, error) {
	r := b.r
	s := Section{ID: "movement", Title: "Movement since the previous run",
		Intro: "How many customers went from each segment of the previous run (rows) to each segment of this run (columns). Segments keep their number from run to run when they match."}
	if r.PreviousRunID == "" {
		s.Blocks = append(s.Blocks, Paragraph("This is the output root's first run: there is no previous run to compare with."))
		return s, nil
	}
	if len(r.Migration) == 0 {
		s.Blocks = append(s.Blocks, Paragraph("No customer moved: neither run has customers."))
		return s, nil
	}
	var from, to []int
	seenF, seenT := map[int]bool{}, map[int]bool{}
	cells := map[[2]int]int64{}
	fromNames := map[int]string{}
	for _, f := range r.Migration {
		if f.FromName != "" {
			fromNames[f.From] = f.FromName
		}
		if !seenF[f.From] {
			seenF[f.From] = true
			from = append(from, f.From)
		}
		if !seenT[f.To] {
			seenT[f.To] = true
			to = append(to, f.To)
		}
		cells[[2]int{f.From, f.To}] += f.Customers
	}
	// Rows: new customers first, then the previous segments; columns:
	// this run's segments, then the customers gone.
	sortIDs(from, true)
	sortIDs(to, false)
	t := Table{ID: TableMigration, Caption: "One row per segment of the previous run, and one for new customers.", Columns: []Column{{"From \\ to", false}}}
	for _, id := range to {
		name := "gone"
		if id != 0 {
			name = b.label(id)
		}
		t.Columns = append(t.Columns, Column{name, true})
	}
	for _, f := range from {
		name := "new customers"
		if f != 0 {
			// The previous run's name: the segment may be gone from
			// this run, or renamed.
			name = strings.TrimSpace("previous " + strconv.Itoa(f) + " " + fromNames[f])
		}
		row := []string{name}
		for _, id := range to {
			row = append(row, Count(cells[[2]int{f, id}]))
		}
		t.Rows = append(t.Rows, row)
	}
	// The chart: of each previous segment's customers, the share that went
	// to each segment of this run (new customers have no previous segment).
	var rowLabels, colLabels []string
	var shares [][]float64
	for _, c := range t.Columns[1:] {
		colLabels = append(colLabels, c.Title)
	}
	for i, f := range from {
		if f == 0 {
			continue
		}
		var total int64
		for _, id := range to {
			total += cells[[2]int{f, id}]
		}
		row := make([]float64, len(to))
		for j, id := range to {
			row[j] = math.NaN()
			if total > 0 {
				row[j] = float64(cells[[2]int{f, id}]) / float64(total)
			}
		}
		rowLabels = append(rowLabels, t.Rows[i][0])
		shares = append(shares, row)
	}
	s.Blocks = append(s.Blocks, t)
	if len(shares) == 0 {
		return s, nil
	}
	svg, err := Heatmap(ChartSpec{Height: vgHeight(len(shares), 1.1, 6), Label: "Where each previous segment's customers went"},
		rowLabels, colLabels, shares, Sequential(1), func(v float64) string { return Percent(v, 0) })
	if err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, Figure{ID: ChartMigration, Title: "Where the customers went", SVG: svg,
		Caption: "Of each segment's customers in the previous run (rows), the share in each segment of this run or gone (columns): the darker the cell, the larger the share, with the share in each cell; a strong diagonal means segments that held still."})
	return s, nil
}

// sortIDs sorts segment IDs, with 0 first (zeroFirst) or last.
func sortIDs(ids []int, zeroFirst bool) {
	key := func(id int) int {
		if id == 0 {
			if zeroFirst {
				return math.MinInt
			}
			return math.MaxInt
		}
		return id
	}
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && key(ids[j]) < key(ids[j-1]); j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}

func (b *builder) modelQuality() (Section, error) {
	r := b.r
	s := Section{ID: "model-quality", Title: "Model quality",
		Intro: "How well the segments are separated, and how well the value models forecast a period the data already holds."}
	chosen := 0
	for _, k := range r.KSelection {
		if k.Chosen {
			chosen = k.K
		}
	}
	if len(r.KSelection) > 1 {
		ks := Series{Name: "silhouette"}
		st := Series{Name: "stability"}
		var ticks []string
		for i, k := range r.KSelection {
			ks.X, ks.Y = append(ks.X, float64(i)), append(ks.Y, k.Silhouette)
			st.X, st.Y = append(st.X, float64(i)), append(st.Y, k.Stability)
			tick := strconv.Itoa(k.K)
			if k.Chosen {
				tick += " (chosen)"
			}
			ticks = append(ticks, tick)
		}
		svg, err := LineChart(ChartSpec{XLabel: "k (number of segments)", YLabel: "higher is better", YMin: 0, YMax: 1, XTicks: ticks,
			Label: "Choice of k: silhouette and stability per k"}, []Series{ks, st})
		if err != nil {
			return s, err
		}
		s.Blocks = append(s.Blocks, Figure{ID: ChartKSelection, Title: "Choosing the number of segments", SVG: svg,
			Caption: fmt.Sprintf("For each number of segments tried, how well the customers sit in their own segment rather than the next (silhouette) and how often refits on resampled customers agree (stability); the run chose k = %d.", chosen)})
	}
	if r.KReason != "" {
		s.Blocks = append(s.Blocks, Paragraph(r.KReason))
	}
	if len(r.KSelection) > 0 {
		t := Table{ID: TableKSelection, Caption: "One row per k tried (one for a configured k).", Columns: []Column{{"k", true}, {"Silhouette", true},
			{"Calinski-Harabasz", true}, {"Davies-Bouldin", true}, {"Stability", true}, {"Smallest share", true}, {"Chosen", false}}}
		for _, k := range r.KSelection {
			mark := ""
			if k.Chosen {
				mark = "chosen"
			} else if !k.Eligible {
				mark = "too small a segment"
			}
			t.Rows = append(t.Rows, []string{strconv.Itoa(k.K), Number(k.Silhouette, 3), Number(k.CalinskiHarabasz, 1), Number(k.DaviesBouldin, 3),
				Number(k.Stability, 3), Percent(k.SmallestShare, 1), mark})
		}
		s.Blocks = append(s.Blocks, t)
	}
	if len(r.Backtest) == 0 {
		s.Blocks = append(s.Blocks, Paragraph("The run has no backtest (value.backtest_holdout is not set, or the value models were not used)."))
		return s, nil
	}
	first := r.Backtest[0]
	s.Blocks = append(s.Blocks, Paragraph(fmt.Sprintf("Backtest: the %s model was fitted on the data up to %s and its forecast for the period to %s compared with what the customers did.",
		cmpOr(r.PurchaseModel, "purchase"), first.CalibrationEnd, first.HoldoutEnd)))
	act := Series{Name: "actual"}
	pred := Series{Name: "predicted"}
	var ticks []string
	t := Table{ID: TableBacktest, Caption: "All customers and one row per segment.", Columns: []Column{{"Group", false}, {"Customers", true},
		{"Actual purchases", true}, {"Predicted purchases", true}, {"Error", true}, {"Actual revenue", true}, {"Predicted revenue", true}, {"Error", true}}}
	for _, bt := range r.Backtest {
		switch bt.Grouping {
		case "frequency":
			act.X, act.Y = append(act.X, float64(len(ticks))), append(act.Y, perCustomer(bt.ActualPurchases, bt.Customers))
			pred.X, pred.Y = append(pred.X, float64(len(ticks))), append(pred.Y, perCustomer(bt.PredictedPurchases, bt.Customers))
			ticks = append(ticks, bt.Label)
		case "all", "segment":
			l := "all customers"
			if bt.Grouping == "segment" {
				l = b.label(bt.Value)
			}
			t.Rows = append(t.Rows, []string{l, Count(bt.Customers), Number(bt.ActualPurchases, 0), Number(bt.PredictedPurchases, 0),
				signedPercent(bt.PredictedPurchases/bt.ActualPurchases - 1), Number(bt.ActualRevenue, 0), Number(bt.PredictedRevenue, 0),
				signedPercent(bt.PredictedRevenue/bt.ActualRevenue - 1)})
		}
	}
	if len(ticks) > 0 {
		svg, err := LineChart(ChartSpec{XLabel: "repeat purchases before the holdout", YLabel: "purchases per customer in the holdout",
			XTicks: ticks, Label: "Backtest: predicted against actual purchases per customer"}, []Series{act, pred})
		if err != nil {
			return s, err
		}
		s.Blocks = append(s.Blocks, Figure{ID: ChartBacktest, Title: "Backtest", SVG: svg,
			Caption: "Purchases per customer in the holdout period, actual (circles, solid) against the model's forecast (triangles, dashed), by how many repeat purchases the customers had made before it: the closer the lines, the better the model."})
	}
	s.Blocks = append(s.Blocks, t)
	return s, nil
}

func perCustomer(x float64, n int64) float64 {
	if n == 0 {
		return math.NaN()
	}
	return x / float64(n)
}

func signedPercent(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	s := Percent(x, 1)
	if x >= 0 {
		s = "+" + s
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (b *builder) dataQuality() (Section, error) {
	r := b.r
	s := Section{ID: "data-quality", Title: "Data quality",
		Intro: "The rows read from each input, and the rows rejected, per table and reason (the rejects table lists each one)."}
	t := Table{ID: TableInputs, Caption: "One row per input file.", Columns: []Column{{"Input", false}, {"File", false}, {"Rows read", true}, {"Rows rejected (table)", true}}}
	for _, in := range r.Inputs {
		t.Rows = append(t.Rows, []string{in.Table, in.Path, Count(in.Rows), Count(in.Rejected)})
	}
	s.Blocks = append(s.Blocks, t)
	if len(r.Rejects) == 0 {
		s.Blocks = append(s.Blocks, Paragraph("No row was rejected."))
		return s, nil
	}
	rt := Table{ID: TableRejects, Caption: "One row per table and reason.", Columns: []Column{{"Table", false}, {"Reason", false}, {"Rows", true}}}
	for _, rj := range r.Rejects {
		rt.Rows = append(rt.Rows, []string{rj.Table, rj.Reason, Count(rj.Rows)})
	}
	s.Blocks = append(s.Blocks, rt)
	return s, nil
}
