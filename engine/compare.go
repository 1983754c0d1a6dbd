package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/segment"
)

// CompareOptions are two runs to compare (crmseg compare).
type CompareOptions struct {
	// Root is the output root the references are looked up in; "" when
	// both are directories.
	Root string
	// A and B are the runs: each a run ID, an experiment's name, latest
	// or a run's directory (store.ResolveRun).
	A, B   string
	Logger *slog.Logger
}

// Comparison is what two runs' segmentations and figures come to side by
// side: how far the segmentations agree on the customers both have, and
// each run's segments, metrics, targets, choice of k and backtest. Its
// JSON is crmseg compare --json's (docs/compare.md).
type Comparison struct {
	A CompareRun `json:"a"`
	B CompareRun `json:"b"`
	// SameInputs says the two runs read the same input files (the same
	// tables with the same SHA-256 in their manifests).
	SameInputs bool             `json:"same_inputs"`
	Customers  CompareCustomers `json:"customers"`
	// AdjustedRandIndex is the adjusted Rand index of the two
	// segmentations over the customers in both runs
	// (segment.AdjustedRandIndexTable); null when they share fewer than
	// two.
	AdjustedRandIndex nullable.Float `json:"adjusted_rand_index"`
	// Contingency counts the customers by their segment in A and in B,
	// the cells with customers only, by A's then B's segment ID; segment
	// 0 is "not in that run".
	Contingency []ContingencyCell `json:"contingency"`
	// Metrics and Targets are both runs' segment_metrics and
	// segment_targets joined on segment ID and metric (and dimension).
	Metrics []MetricComparison `json:"metrics"`
	Targets []TargetComparison `json:"targets"`
}

// CompareRun is one of the two runs compared.
type CompareRun struct {
	Ref  string `json:"ref"`  // as given
	Kind string `json:"kind"` // run, experiment or directory
	Name string `json:"name"` // the run ID or experiment name (a directory's own name)
	Dir  string `json:"dir"`
	// RunID and AsOf are its manifest's; K its segments, Customers the
	// rows of its customer_segments.
	RunID     string `json:"run_id"`
	AsOf      string `json:"as_of"`
	K         int    `json:"k"`
	Customers int64  `json:"customers"`
	// Features are the features of the segments' profiles (the
	// centroid_<feature> columns of its segments table), in its order.
	Features []string         `json:"features"`
	Segments []CompareSegment `json:"segments"`
	// KSelection is its k_selection; KReason why k was chosen (its
	// model.json's k_reason), "" when k was given or it has no model.
	KSelection []KSelectionRow `json:"k_selection"`
	KReason    string          `json:"k_reason"`
	Backtest   []BacktestRow   `json:"backtest"`
	// Missing are the tables compare reads that its directory does not
	// have (their figures are left out).
	Missing []string `json:"missing_tables"`
	// Inputs are its manifest's input files, with their SHA-256.
	Inputs []manifest.Input `json:"inputs"`
}

// CompareSegment is a segment of one run: its size, value and profile.
type CompareSegment struct {
	ID            int            `json:"segment_id"`
	Name          string         `json:"segment_name"`
	Customers     int64          `json:"customers"`
	Share         nullable.Float `json:"customer_share"`
	HistoricalLTV nullable.Float `json:"historical_ltv"`
	Objective     string         `json:"objective"`
	Traits        string         `json:"traits"`
	// Centroid is the profile: the centroid in each of the run's
	// Features' original units.
	Centroid []nullable.Float `json:"centroid"`
}

// CompareCustomers counts the customers of the two runs.
type CompareCustomers struct {
	InBoth  int64 `json:"in_both"`
	OnlyInA int64 `json:"only_in_a"`
	OnlyInB int64 `json:"only_in_b"`
}

// ContingencyCell is a cell of the contingency table: the customers in
// segment A of run A and segment B of run B (0: not in that run).
type ContingencyCell struct {
	A         int   `json:"a_segment_id"`
	B         int   `json:"b_segment_id"`
	Customers int64 `json:"customers"`
}

// MetricComparison is a row of segment_metrics in both runs: A, B and
// B − A, null where a run has no row or no figure.
type MetricComparison struct {
	SegmentID    int            `json:"segment_id"`
	Metric       string         `json:"metric"`
	Dimension    string         `json:"dimension"`
	Unit         string         `json:"unit"`
	ASegmentName string         `json:"a_segment_name"`
	BSegmentName string         `json:"b_segment_name"`
	A            nullable.Float `json:"a"`
	B            nullable.Float `json:"b"`
	Difference   nullable.Float `json:"difference"`
}

// TargetComparison is a row of segment_targets in both runs, with the
// differences B − A of the baselines and the targets.
type TargetComparison struct {
	SegmentID          int            `json:"segment_id"`
	Metric             string         `json:"metric"`
	Unit               string         `json:"unit"`
	ASegmentName       string         `json:"a_segment_name"`
	BSegmentName       string         `json:"b_segment_name"`
	ABaseline          nullable.Float `json:"a_baseline"`
	ALow               nullable.Float `json:"a_low"`
	AHigh              nullable.Float `json:"a_high"`
	ATarget            nullable.Float `json:"a_target"`
	BBaseline          nullable.Float `json:"b_baseline"`
	BLow               nullable.Float `json:"b_low"`
	BHigh              nullable.Float `json:"b_high"`
	BTarget            nullable.Float `json:"b_target"`
	BaselineDifference nullable.Float `json:"baseline_difference"`
	TargetDifference   nullable.Float `json:"target_difference"`
}

// KSelectionRow is a row of a run's k_selection.
type KSelectionRow struct {
	K                int            `json:"k"`
	Inertia          nullable.Float `json:"inertia"`
	Silhouette       nullable.Float `json:"silhouette"`
	CalinskiHarabasz nullable.Float `json:"calinski_harabasz"`
	DaviesBouldin    nullable.Float `json:"davies_bouldin"`
	Stability        nullable.Float `json:"stability"`
	SmallestShare    nullable.Float `json:"smallest_share"`
	Eligible         bool           `json:"eligible"`
	Chosen           bool           `json:"chosen"`
}

// BacktestRow is a row of a run's model_backtest, with the errors
// predicted / actual − 1.
type BacktestRow struct {
	Grouping           string         `json:"grouping"`
	GroupValue         int            `json:"group_value"`
	GroupLabel         string         `json:"group_label"`
	CalibrationEnd     string         `json:"calibration_end"`
	HoldoutEnd         string         `json:"holdout_end"`
	Customers          int64          `json:"customers"`
	ActualPurchases    nullable.Float `json:"actual_purchases"`
	PredictedPurchases nullable.Float `json:"predicted_purchases"`
	PurchasesError     nullable.Float `json:"purchases_error"`
	ActualRevenue      nullable.Float `json:"actual_revenue"`
	PredictedRevenue   nullable.Float `json:"predicted_revenue"`
	RevenueError       nullable.Float `json:"revenue_error"`
}

// compareRequired are the files a run must have to be compared; the
// other tables compare reads (compareTables) may be missing.
var compareRequired = []string{"manifest.json", "customer_segments.parquet", "segments.parquet"}

// compareTables are the tables both runs' files are read from together,
// each as the view compared_<table>.
var compareTables = []string{"segments", "segment_metrics", "segment_targets", "k_selection", "model_backtest"}

// Compare compares two published runs (or experiments, or run
// directories): the agreement of their segmentations on the customers both
// have, as the contingency table and its adjusted Rand index, and their
// segments, metrics, targets, choice of k and backtests side by side. It
// only reads: the customers are joined in DuckDB, which returns the
// contingency table's cells, so the cost in memory does not grow with the
// customers. A reference that leads to no run, or a run without the files
// compare needs, is a *store.RunRefError.
func Compare(ctx context.Context, o CompareOptions) (*Comparison, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var c Comparison
	for _, side := range []struct {
		ref string
		run *CompareRun
	}{{o.A, &c.A}, {o.B, &c.B}} {
		ref, err := store.ResolveRun(o.Root, side.ref)
		if err != nil {
			return nil, err
		}
		if err := readCompareRun(ref, side.run); err != nil {
			return nil, err
		}
	}
	c.SameInputs = sameInputs(c.A.Inputs, c.B.Inputs)
	log := o.Logger.With("a", c.A.Dir, "b", c.B.Dir)
	// DuckDB with all cores and DefaultMemoryShare of the machine: it
	// holds only the join of the customers.
	s, closeSession, err := startSession(ctx, &config.Config{}, "", "crmseg-compare-*", log)
	if err != nil {
		return nil, err
	}
	defer closeSession()

	if err := s.compareViews(ctx, &c); err != nil {
		return nil, err
	}
	if err := s.compareCustomers(ctx, &c); err != nil {
		return nil, err
	}
	log.Info("customers compared", "in_both", c.Customers.InBoth, "only_in_a", c.Customers.OnlyInA, "only_in_b", c.Customers.OnlyInB,
		"adjusted_rand_index", float64(c.AdjustedRandIndex))
	if err := s.compareFigures(ctx, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// readCompareRun checks that the run ref leads to has the files compare
// needs and reads its manifest and model into run.
func readCompareRun(ref store.RunRef, run *CompareRun) error {
	refuse := func(format string, args ...any) error {
		return &store.RunRefError{Ref: ref.Ref, Problem: fmt.Sprintf(format, args...)}
	}
	*run = CompareRun{Ref: ref.Ref, Kind: ref.Kind, Name: ref.Name, Dir: ref.Dir}
	for _, f := range compareRequired {
		if _, err := os.Stat(filepath.Join(ref.Dir, f)); err != nil {
			return refuse("expected %s in %s, found %s", f, ref.Dir, store.FoundThere(err))
		}
	}
	for _, t := range compareTables {
		if _, err := os.Stat(filepath.Join(ref.Dir, t+".parquet")); err != nil {
			run.Missing = append(run.Missing, t)
		}
	}
	man, err := store.ReadManifest(ref.Dir)
	var me *store.ManifestError
	if errors.As(err, &me) {
		return refuse("expected a run's manifest.json in %s, found a file that is not one: %v", ref.Dir, me.Err)
	}
	if err != nil {
		return err
	}
	run.RunID, run.AsOf, run.Inputs = man.RunID, man.AsOf, man.Inputs
	if m, err := segment.ReadModel(filepath.Join(ref.Dir, "model.json")); err == nil {
		run.KReason = m.Training.KReason
	}
	return nil
}

// sameInputs says whether two runs read the same input tables with the
// same contents.
func sameInputs(a, b []manifest.Input) bool {
	key := func(in []manifest.Input) []string {
		var k []string
		for _, x := range in {
			k = append(k, x.Table+" "+x.SHA256)
		}
		slices.Sort(k)
		return k
	}
	return len(a) > 0 && slices.Equal(key(a), key(b))
}

// compareViews defines the views the compare reads take: each run's
// customer_segments, and both runs' files of each of compareTables with
// their side ('a' or 'b'), by column name (the runs may have other
// features). A table neither run has gets no view.
func (s *session) compareViews(ctx context.Context, c *Comparison) error {
	read := func(run *CompareRun, table string) string {
		return "read_parquet(" + sqlquote.Literal(filepath.Join(run.Dir, table+".parquet")) + ")"
	}
	for view, run := range map[string]*CompareRun{"compared_customers_a": &c.A, "compared_customers_b": &c.B} {
		if err := s.exec(ctx, "CREATE OR REPLACE VIEW "+sqlquote.Ident(view)+" AS SELECT * FROM "+read(run, "customer_segments")); err != nil {
			return &store.RunRefError{Ref: run.Ref, Problem: fmt.Sprintf("expected a customer_segments table in %s, found a file DuckDB cannot read: %s", run.Dir, readerMessage(err))}
		}
	}
	for _, table := range compareTables {
		var parts, files []string
		for _, side := range []struct {
			name string
			run  *CompareRun
		}{{"a", &c.A}, {"b", &c.B}} {
			if !slices.Contains(side.run.Missing, table) {
				parts = append(parts, "SELECT "+sqlquote.Literal(side.name)+" AS side, * FROM "+read(side.run, table))
				files = append(files, filepath.Join(side.run.Dir, table+".parquet"))
			}
		}
		if len(parts) == 0 {
			continue
		}
		q := "CREATE OR REPLACE VIEW " + sqlquote.Ident("compared_"+table) + " AS " + strings.Join(parts, " UNION ALL BY NAME ")
		if err := s.exec(ctx, q); err != nil {
			return fmt.Errorf("the runs' %s files (%s): %s", table, strings.Join(files, ", "), readerMessage(err))
		}
	}
	return nil
}

// compareCustomers checks both runs' customer_segments and reads the
// contingency table, with its adjusted Rand index over the customers in
// both runs.
func (s *session) compareCustomers(ctx context.Context, c *Comparison) error {
	err := s.readRows(ctx, "reads/compare_customer_checks", func(rows *sql.Rows) error {
		var side string
		var n, noID, noSegment int64
		if err := rows.Scan(&side, &n, &noID, &noSegment); err != nil {
			return err
		}
		run := &c.A
		if side == "b" {
			run = &c.B
		}
		run.Customers = n
		var problems []string
		if noID > 0 {
			problems = append(problems, fmt.Sprintf("%d rows without a customer_id", noID))
		}
		if noSegment > 0 {
			problems = append(problems, fmt.Sprintf("%d rows without a segment_id of at least 1", noSegment))
		}
		if len(problems) > 0 {
			return customerRowsError(run, strings.Join(problems, " and "))
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.Contingency = []ContingencyCell{}
	var joinedA, joinedB int64
	err = s.readRows(ctx, "reads/compare_contingency", func(rows *sql.Rows) error {
		var cell ContingencyCell
		if err := rows.Scan(&cell.A, &cell.B, &cell.Customers); err != nil {
			return err
		}
		c.Contingency = append(c.Contingency, cell)
		if cell.A != 0 {
			joinedA += cell.Customers
		}
		if cell.B != 0 {
			joinedB += cell.Customers
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The join gives each run's rows once unless the other repeats one
	// of their customers: checked here rather than by counting distinct
	// customers, which costs DuckDB twice the join.
	if joinedB != c.B.Customers {
		return customerRowsError(&c.A, fmt.Sprintf("customer_ids on more than one row (joined on customer_id, B's %d rows come to %d)", c.B.Customers, joinedB))
	}
	if joinedA != c.A.Customers {
		return customerRowsError(&c.B, fmt.Sprintf("customer_ids on more than one row (joined on customer_id, A's %d rows come to %d)", c.A.Customers, joinedA))
	}
	c.Customers, c.AdjustedRandIndex = contingencyARI(c.Contingency)
	return nil
}

// customerRowsError is a run whose customer_segments is not one row per
// customer with its segment.
func customerRowsError(run *CompareRun, found string) error {
	return &store.RunRefError{Ref: run.Ref, Problem: fmt.Sprintf("expected one row per customer with a segment_id of at least 1 in %s, found %s",
		filepath.Join(run.Dir, "customer_segments.parquet"), found)}
}

// contingencyARI counts the customers of a contingency table and gives
// the adjusted Rand index over those in both runs: the cells of segment 0
// (a customer of one run only) are left out of it, as the index compares
// two partitions of the same customers. It is NaN when fewer than two are
// in both.
func contingencyARI(cells []ContingencyCell) (CompareCustomers, nullable.Float) {
	var counts CompareCustomers
	rows, cols := map[int]int{}, map[int]int{}
	index := func(m map[int]int, id int) int {
		i, ok := m[id]
		if !ok {
			i = len(m)
			m[id] = i
		}
		return i
	}
	var table [][]int64
	for _, cell := range cells {
		switch {
		case cell.A == 0:
			counts.OnlyInB += cell.Customers
			continue
		case cell.B == 0:
			counts.OnlyInA += cell.Customers
			continue
		}
		counts.InBoth += cell.Customers
		i, j := index(rows, cell.A), index(cols, cell.B)
		for len(table) <= i {
			table = append(table, nil)
		}
		for len(table[i]) <= j {
			table[i] = append(table[i], 0)
		}
		table[i][j] += cell.Customers
	}
	if counts.InBoth < 2 {
		return counts, nullable.Float(math.NaN())
	}
	return counts, nullable.Float(segment.AdjustedRandIndexTable(table))
}

// compareFigures reads both runs' segments, metrics, targets, choice of k
// and backtests.
func (s *session) compareFigures(ctx context.Context, c *Comparison) error {
	side := func(name string) *CompareRun {
		if name == "b" {
			return &c.B
		}
		return &c.A
	}
	if err := s.compareSegments(ctx, side); err != nil {
		return err
	}
	c.Metrics, c.Targets = []MetricComparison{}, []TargetComparison{}
	either := func(table string) bool {
		return !slices.Contains(c.A.Missing, table) || !slices.Contains(c.B.Missing, table)
	}
	if either("segment_metrics") {
		err := s.readRows(ctx, "reads/compare_metrics", func(rows *sql.Rows) error {
			var m MetricComparison
			var a, b *float64
			if err := rows.Scan(&m.SegmentID, &m.Metric, &m.Dimension, &m.Unit, &m.ASegmentName, &m.BSegmentName, &a, &b); err != nil {
				return err
			}
			m.A, m.B = orNull(a), orNull(b)
			m.Difference = m.B - m.A
			c.Metrics = append(c.Metrics, m)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if either("segment_targets") {
		err := s.readRows(ctx, "reads/compare_targets", func(rows *sql.Rows) error {
			var t TargetComparison
			var f [8]*float64
			if err := rows.Scan(&t.SegmentID, &t.Metric, &t.Unit, &t.ASegmentName, &t.BSegmentName,
				&f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]); err != nil {
				return err
			}
			t.ABaseline, t.ALow, t.AHigh, t.ATarget = orNull(f[0]), orNull(f[1]), orNull(f[2]), orNull(f[3])
			t.BBaseline, t.BLow, t.BHigh, t.BTarget = orNull(f[4]), orNull(f[5]), orNull(f[6]), orNull(f[7])
			t.BaselineDifference, t.TargetDifference = t.BBaseline-t.ABaseline, t.BTarget-t.ATarget
			c.Targets = append(c.Targets, t)
			return nil
		})
		if err != nil {
			return err
		}
	}
	c.A.KSelection, c.B.KSelection = []KSelectionRow{}, []KSelectionRow{}
	if either("k_selection") {
		err := s.readRows(ctx, "reads/compare_k_selection", func(rows *sql.Rows) error {
			var name string
			var k KSelectionRow
			var f [6]*float64
			if err := rows.Scan(&name, &k.K, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &k.Eligible, &k.Chosen); err != nil {
				return err
			}
			k.Inertia, k.Silhouette, k.CalinskiHarabasz = orNull(f[0]), orNull(f[1]), orNull(f[2])
			k.DaviesBouldin, k.Stability, k.SmallestShare = orNull(f[3]), orNull(f[4]), orNull(f[5])
			run := side(name)
			run.KSelection = append(run.KSelection, k)
			return nil
		})
		if err != nil {
			return err
		}
	}
	c.A.Backtest, c.B.Backtest = []BacktestRow{}, []BacktestRow{}
	if either("model_backtest") {
		err := s.readRows(ctx, "reads/compare_backtest", func(rows *sql.Rows) error {
			var name string
			var b BacktestRow
			var f [4]*float64
			if err := rows.Scan(&name, &b.Grouping, &b.GroupValue, &b.GroupLabel, &b.CalibrationEnd, &b.HoldoutEnd, &b.Customers,
				&f[0], &f[1], &f[2], &f[3]); err != nil {
				return err
			}
			b.ActualPurchases, b.PredictedPurchases, b.ActualRevenue, b.PredictedRevenue = orNull(f[0]), orNull(f[1]), orNull(f[2]), orNull(f[3])
			b.PurchasesError, b.RevenueError = b.PredictedPurchases/b.ActualPurchases-1, b.PredictedRevenue/b.ActualRevenue-1
			run := side(name)
			run.Backtest = append(run.Backtest, b)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// compareSegments reads both runs' segments, each with the profile on its
// own features (the centroid columns its segments table fills).
func (s *session) compareSegments(ctx context.Context, side func(string) *CompareRun) error {
	type segmentRow struct {
		side string
		seg  CompareSegment
		cent map[string]float64
	}
	var segs []segmentRow
	var centroids []string // the centroid columns, in the files' order
	err := s.readRows(ctx, "reads/compare_segments", func(rows *sql.Rows) error {
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		r := segmentRow{cent: map[string]float64{}}
		for i, col := range cols {
			switch v := vals[i]; {
			case col == "side":
				r.side, _ = v.(string)
			case col == "segment_id":
				r.seg.ID = int(anyFloat(v))
			case col == "segment_name":
				r.seg.Name, _ = v.(string)
			case col == "customers":
				r.seg.Customers = int64(anyFloat(v))
			case col == "customer_share":
				r.seg.Share = nullable.Float(anyFloat(v))
			case col == "historical_ltv":
				r.seg.HistoricalLTV = nullable.Float(anyFloat(v))
			case col == "objective":
				r.seg.Objective, _ = v.(string)
			case col == "traits":
				r.seg.Traits, _ = v.(string)
			case strings.HasPrefix(col, "centroid_"):
				if !slices.Contains(centroids, col) {
					centroids = append(centroids, col)
				}
				if x := anyFloat(v); !math.IsNaN(x) {
					r.cent[strings.TrimPrefix(col, "centroid_")] = x
				}
			}
		}
		segs = append(segs, r)
		return nil
	})
	if err != nil {
		return err
	}
	// A run's features are the centroid columns its own segments fill.
	for _, name := range []string{"a", "b"} {
		run := side(name)
		run.Features, run.Segments = []string{}, []CompareSegment{}
		for _, col := range centroids {
			f := strings.TrimPrefix(col, "centroid_")
			for _, r := range segs {
				if _, ok := r.cent[f]; ok && r.side == name {
					run.Features = append(run.Features, f)
					break
				}
			}
		}
		for _, r := range segs {
			if r.side != name {
				continue
			}
			for _, f := range run.Features {
				x, ok := r.cent[f]
				if !ok {
					x = math.NaN()
				}
				r.seg.Centroid = append(r.seg.Centroid, nullable.Float(x))
			}
			run.Segments = append(run.Segments, r.seg)
		}
		run.K = len(run.Segments)
	}
	return nil
}

// orNull is a nullable figure read from SQL: NaN for NULL.
func orNull(v *float64) nullable.Float {
	if v == nil {
		return nullable.Float(math.NaN())
	}
	return nullable.Float(*v)
}

// anyFloat is a number DuckDB returned into an any, NaN for NULL or what
// is not a number.
func anyFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case int16:
		return float64(x)
	case int8:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case interface{ Float64() float64 }: // duckdb.Decimal
		return x.Float64()
	}
	return math.NaN()
}
