package engine

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/report"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/durable"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/segment"
)

// ReportFile is the run's report, written into the run's directory.
const ReportFile = "report.html"

// reportTables are the published tables the report reads, each as the view
// run_<table> over its Parquet file.
var reportTables = []string{"segments", "customer_segments", "cohort_retention", "category_pairs", "segment_targets",
	"segment_scorecard", "segment_migration", "k_selection", "model_backtest"}

// reportLaterColumns are the columns of the report's tables that runs
// published before them lack, with their type: such a run's view gives
// them as null, so that crmseg report still rebuilds its report.
var reportLaterColumns = map[string][][2]string{
	"segment_migration": {{"from_segment_name", "VARCHAR"}},
}

// reportRetentionMonths and reportPairs bound the retention curves and the
// cross-sell pairs per segment the report shows.
const (
	reportRetentionMonths = 24
	reportPairs           = 5
)

// WriteReport gathers the figures of the published run in runDir (its
// tables, manifest.json and model.json) and writes its report to out
// (runDir's report.html when empty), atomically: crmseg report. It gives
// the same bytes the run wrote. It returns the path written.
func WriteReport(ctx context.Context, runDir, out string, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	man, err := readRunForReport(runDir)
	if err != nil {
		return "", err
	}
	cfg := config.Config{Threads: man.Config.Threads, MemoryLimit: man.Config.MemoryLimit}
	s, closeSession, err := startSession(ctx, &cfg, "", "crmseg-report-*", log)
	if err != nil {
		return "", err
	}
	defer closeSession()
	html, err := s.runReport(ctx, runDir, man)
	if err != nil {
		return "", err
	}
	if out == "" {
		out = filepath.Join(runDir, ReportFile)
	}
	if err := durable.WriteFile(out, html); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return out, nil
}

// writeReport writes the report of the run being published, from the
// tables and model file just written to dir, and lists it among the
// manifest's outputs. A run that cannot write its report fails, as for any
// output; its tables are not published, and crmseg report rebuilds a
// report from a published run.
func (r *run) writeReport(ctx context.Context, dir string) error {
	html, err := r.s.runReport(ctx, dir, r.man)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := durable.WriteFile(filepath.Join(dir, ReportFile), html); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	f, err := fileEntry(dir, ReportFile)
	if err != nil {
		return err
	}
	r.man.Outputs = append(r.man.Outputs, manifest.Output{Table: "report", Files: []manifest.File{f}})
	return r.failpoint("publish:report")
}

// runReport renders the report of the run in dir, described by man.
func (s *session) runReport(ctx context.Context, dir string, man *manifest.Manifest) ([]byte, error) {
	fig, err := s.gatherReport(ctx, dir, man)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := report.Write(&b, fig); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// readRunForReport reads the manifest of the published run in dir and
// checks that the tables its report reads are there: a *ReportError
// naming what is missing otherwise.
func readRunForReport(dir string) (*manifest.Manifest, error) {
	man, err := store.ReadManifest(dir)
	var me *store.ManifestError
	if errors.As(err, &me) {
		return nil, &ReportError{Dir: dir, Problem: fmt.Sprintf("expected the run's manifest.json, found a file that is not one: %v", me.Err)}
	}
	if err != nil {
		return nil, &ReportError{Dir: dir, Problem: fmt.Sprintf("expected a run directory holding manifest.json, found %s", foundThere(err))}
	}
	for _, t := range reportTables {
		p := filepath.Join(dir, t+".parquet")
		if _, err := os.Stat(p); err != nil {
			return nil, &ReportError{Dir: dir, Problem: fmt.Sprintf("expected the run's table %s, found %s", p, foundThere(err))}
		}
	}
	return man, nil
}

// GatherReport reads the figures of the published run in dir for its
// report (and pages drawn like it): its tables (customer-level figures as
// aggregates computed in DuckDB, per segment), manifest.json and
// model.json.
func GatherReport(ctx context.Context, dir string) (*report.Run, error) {
	man, err := readRunForReport(dir)
	if err != nil {
		return nil, err
	}
	s, closeSession, err := startSession(ctx, &config.Config{}, "", "crmseg-report-*", slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer closeSession()
	return s.gatherReport(ctx, dir, man)
}

// gatherReport reads the figures of the run in dir, described by man (the
// run's manifest, in memory while the run publishes), for its report.
func (s *session) gatherReport(ctx context.Context, dir string, man *manifest.Manifest) (*report.Run, error) {
	for _, t := range reportTables {
		path := filepath.Join(dir, t+".parquet")
		view := sqlquote.Ident("run_" + t)
		if err := s.exec(ctx, "CREATE OR REPLACE VIEW "+view+" AS SELECT * FROM read_parquet("+sqlquote.Literal(path)+")"); err != nil {
			return nil, &ReportError{Dir: dir, Problem: fmt.Sprintf("expected the run's table %s, found a file DuckDB cannot read: %s", path, readerMessage(err))}
		}
		var missing []string
		for _, c := range reportLaterColumns[t] {
			n, err := s.queryInt(ctx, "SELECT count(*) FROM (DESCRIBE "+view+") WHERE column_name = "+sqlquote.Literal(c[0]))
			if err != nil {
				return nil, err
			}
			if n == 0 {
				missing = append(missing, "NULL::"+c[1]+" AS "+sqlquote.Ident(c[0]))
			}
		}
		if len(missing) > 0 {
			if err := s.exec(ctx, "CREATE OR REPLACE VIEW "+view+" AS SELECT *, "+strings.Join(missing, ", ")+" FROM read_parquet("+sqlquote.Literal(path)+")"); err != nil {
				return nil, err
			}
		}
	}
	fig := &report.Run{RunID: man.RunID, AsOf: man.AsOf, StartedAt: man.StartedAt, PreviousRunID: man.PreviousRunID,
		Version: man.Versions["crmseg"], PurchaseModel: purchaseModelOf(man)}

	err := s.readRows(ctx, "reads/report_segments", func(rows *sql.Rows) error {
		var sg report.Segment
		var ltv sql.NullFloat64
		if err := rows.Scan(&sg.ID, &sg.Name, &sg.Customers, &sg.Share, &ltv, &sg.Objective, &sg.ObjectiveReason, &sg.Traits); err != nil {
			return err
		}
		sg.HistoricalLTV = nanIfNull(ltv)
		fig.Segments = append(fig.Segments, sg)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.readRows(ctx, "reads/report_value", func(rows *sql.Rows) error {
		var v report.SegmentValue
		var f [21]sql.NullFloat64
		if err := rows.Scan(&v.SegmentID, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11], &f[12], &f[13],
			&v.PredictedCustomers, &f[14], &f[15], &f[16], &f[17], &f[18], &f[19]); err != nil {
			return err
		}
		q := func(i int) report.Quantiles {
			return report.Quantiles{P05: nanIfNull(f[i]), P25: nanIfNull(f[i+1]), P50: nanIfNull(f[i+2]), P75: nanIfNull(f[i+3]),
				P95: nanIfNull(f[i+4]), Mean: nanIfNull(f[i+5])}
		}
		v.Historical, v.HistoricalTotal = q(0), nanIfNull(f[6])
		v.Predicted, v.PredictedTotal = q(7), nanIfNull(f[13])
		v.PAlive = q(14)
		fig.Value = append(fig.Value, v)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := s.readRows(ctx, "reads/report_retention", func(rows *sql.Rows) error {
		var id, m int
		var ret float64
		if err := rows.Scan(&id, &m, &ret); err != nil {
			return err
		}
		if n := len(fig.Retention); n == 0 || fig.Retention[n-1].SegmentID != id {
			fig.Retention = append(fig.Retention, report.RetentionCurve{SegmentID: id})
		}
		c := &fig.Retention[len(fig.Retention)-1]
		c.MonthsSince, c.Retention = append(c.MonthsSince, float64(m)), append(c.Retention, ret)
		return nil
	}, reportRetentionMonths); err != nil {
		return nil, err
	}
	if err := s.readRows(ctx, "reads/report_pairs", func(rows *sql.Rows) error {
		var p report.Pair
		var conf, lift sql.NullFloat64
		if err := rows.Scan(&p.SegmentID, &p.Rank, &p.A, &p.B, &p.CustomersBoth, &conf, &lift); err != nil {
			return err
		}
		p.Confidence, p.Lift = nanIfNull(conf), nanIfNull(lift)
		fig.Pairs = append(fig.Pairs, p)
		return nil
	}, reportPairs); err != nil {
		return nil, err
	}
	if err := s.readRows(ctx, "reads/report_targets", func(rows *sql.Rows) error {
		var t report.Target
		var f [6]sql.NullFloat64
		if err := rows.Scan(&t.SegmentID, &t.Metric, &t.Unit, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5]); err != nil {
			return err
		}
		t.Baseline, t.Low, t.High, t.Target, t.Uplift, t.Last12m = nanIfNull(f[0]), nanIfNull(f[1]), nanIfNull(f[2]), nanIfNull(f[3]), nanIfNull(f[4]), nanIfNull(f[5])
		fig.Targets = append(fig.Targets, t)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := s.readRows(ctx, "reads/report_scorecard", func(rows *sql.Rows) error {
		var c report.ScorecardRow
		var f [5]sql.NullFloat64
		if err := rows.Scan(&c.PlanID, &c.SegmentID, &c.SegmentName, &c.Metric, &f[0], &f[1], &f[2], &f[3], &f[4], &c.Comparison, &c.Status); err != nil {
			return err
		}
		c.ActualToDate, c.ExpectedToDate, c.TargetFullYear, c.ProjectedYearEnd, c.Gap = nanIfNull(f[0]), nanIfNull(f[1]), nanIfNull(f[2]), nanIfNull(f[3]), nanIfNull(f[4])
		fig.Scorecard = append(fig.Scorecard, c)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := s.readRows(ctx, "reads/report_migration", func(rows *sql.Rows) error {
		var fl report.Flow
		if err := rows.Scan(&fl.From, &fl.FromName, &fl.To, &fl.Customers); err != nil {
			return err
		}
		fig.Migration = append(fig.Migration, fl)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := s.readRows(ctx, "reads/report_k_selection", func(rows *sql.Rows) error {
		var k report.KFigures
		var f [6]sql.NullFloat64
		if err := rows.Scan(&k.K, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &k.Eligible, &k.Chosen); err != nil {
			return err
		}
		k.Inertia, k.Silhouette, k.CalinskiHarabasz, k.DaviesBouldin, k.Stability, k.SmallestShare = nanIfNull(f[0]), nanIfNull(f[1]), nanIfNull(f[2]), nanIfNull(f[3]), nanIfNull(f[4]), nanIfNull(f[5])
		fig.KSelection = append(fig.KSelection, k)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := s.readRows(ctx, "reads/report_backtest", func(rows *sql.Rows) error {
		var bt report.BacktestRow
		var f [4]sql.NullFloat64
		var cal, hold sql.NullString
		if err := rows.Scan(&bt.Grouping, &bt.Label, &bt.Value, &bt.Customers, &f[0], &f[1], &f[2], &f[3], &cal, &hold); err != nil {
			return err
		}
		bt.ActualPurchases, bt.PredictedPurchases, bt.ActualRevenue, bt.PredictedRevenue = nanIfNull(f[0]), nanIfNull(f[1]), nanIfNull(f[2]), nanIfNull(f[3])
		bt.CalibrationEnd, bt.HoldoutEnd = cal.String, hold.String
		fig.Backtest = append(fig.Backtest, bt)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := profileOf(filepath.Join(dir, "model.json"), fig); err != nil {
		return nil, err
	}
	dataQuality(man, fig)
	return fig, nil
}

// profileOf sets the report's profiles from the run's model file: each
// segment's centroid on the centred features (not the one-hot shares) in
// scaled units, less the feature's weight, and why k was chosen. A run
// without a model file has no profiles.
func profileOf(path string, fig *report.Run) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	m, err := segment.ReadModel(path)
	if err != nil {
		return err
	}
	fig.KReason = m.Training.KReason
	if m.Scaler == nil {
		return nil
	}
	var cols []int
	for j, f := range m.Scaler.Features {
		if f.Method != segment.MethodNone {
			cols = append(cols, j)
			fig.ProfileFeatures = append(fig.ProfileFeatures, f.Name)
		}
	}
	byID := map[int][]float64{}
	for _, sg := range m.Segments {
		byID[sg.ID] = sg.Centroid
	}
	for _, sg := range fig.Segments {
		row := make([]float64, len(cols))
		c, ok := byID[sg.ID]
		for i, j := range cols {
			row[i] = math.NaN()
			if ok && j < len(c) {
				w := m.Scaler.Features[j].Weight
				if w == 0 {
					w = 1
				}
				row[i] = c[j] / w
			}
		}
		fig.Profile = append(fig.Profile, row)
	}
	return nil
}

// dataQuality sets the report's inputs and rejects from the manifest.
func dataQuality(man *manifest.Manifest, fig *report.Run) {
	rejected := map[string]int64{}
	for _, rj := range man.Quality.Rejects {
		rejected[rj.Table] += rj.Rows
		fig.Rejects = append(fig.Rejects, report.Reject{Table: rj.Table, Reason: rj.Reason, Rows: rj.Rows})
	}
	for _, in := range man.Inputs {
		fig.Inputs = append(fig.Inputs, report.Input{Table: in.Table, Path: filepath.Base(in.Path), Rows: in.Rows, Rejected: rejected[in.Table]})
	}
}

// readRows runs a registered read with its arguments and hands each row to
// fn.
func (s *session) readRows(ctx context.Context, name string, fn func(*sql.Rows) error, args ...any) error {
	q, err := modelSQL(name)
	if err != nil {
		return err
	}
	rows, err := s.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for rows.Next() {
		if err := fn(rows); err != nil {
			rows.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}

func nanIfNull(f sql.NullFloat64) float64 {
	if !f.Valid {
		return math.NaN()
	}
	return f.Float64
}

// purchaseModelOf is the purchase model of a run's manifest: its model
// other than Gamma-Gamma, or the configured one.
func purchaseModelOf(man *manifest.Manifest) string {
	for _, m := range man.Models {
		if !strings.HasPrefix(m.Model, "gamma_gamma") && !strings.HasPrefix(m.Model, "backtest_") && m.Error == "" {
			return m.Model
		}
	}
	return cmp.Or(man.Config.Value.Model, config.ModelBGNBD)
}
