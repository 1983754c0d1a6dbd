package engine

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/segmentation"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/scoring"
)

// segment decides the run's segments from the feature matrix in the mode
// the configuration sets: assigning with a given model, training a fixed
// k, or choosing k (segmentation.Assign, TrainK, ChooseK), continuing the
// model of the previous run; records the fit in the manifest; and hands
// the assignment back to DuckDB. It leaves the model of the run in
// r.model.
func (r *run) segment(ctx context.Context, fm *segmentation.FeatureMatrix) ([]segmentation.Segment, error) {
	if err := r.previousSegments(ctx); err != nil {
		return nil, stageError("segment", err)
	}
	if r.leftOut(scoring.MetricNewCustomers) {
		// Who is new is unknown when the data barely reaches before the
		// last 12 months: no segment is named "new" for it.
		clear(fm.New12m)
	}
	in := segmentation.Input{Features: fm, Previous: r.prev.Model, IDFloor: r.prev.IDFloor, PreviousAssignment: r.previousAssignment(ctx)}
	st := segmentation.Settings{Segmentation: r.cfg.Segmentation, Seed: r.cfg.Seed, Threads: r.cfg.Threads,
		Software: r.opts.Version, RunID: r.man.RunID, Log: r.log}
	var out *segmentation.Outcome
	var err error
	switch sg := r.cfg.Segmentation; {
	case sg.Model != "":
		out, err = segmentation.Assign(in, st)
	case sg.ChooseK != nil:
		out, err = segmentation.ChooseK(in, st, r.restarts(StepChooseK))
	default:
		out, err = segmentation.TrainK(in, st, r.restarts(StepRestarts))
	}
	if err != nil {
		return nil, segmentError(err)
	}
	r.man.Quality.Segmentation = out.Quality
	r.model = out.Model
	if err := r.storeSegmentation(ctx, out); err != nil {
		return nil, stageError("segment", err)
	}
	return out.Segments, nil
}

// segmentError is the run's error for a segmentation's: a problem of the
// configuration as it is, no k to choose as the data's (a
// *RejectedError), anything else a failure of the segment stage.
func segmentError(err error) error {
	var ce *config.ConfigError
	var ke *segmentation.ChooseKError
	switch {
	case errors.As(err, &ce):
		return err
	case errors.As(err, &ke):
		return &RejectedError{Msg: ke.Error()}
	}
	return stageError("segment", err)
}

// restarts starts following a training's k-means restarts as step.
func (r *run) restarts(step string) func(total int) segmentation.Progress {
	return func(total int) segmentation.Progress { return r.progress(step, total) }
}

// storeSegmentation writes the segment names, the customers' assignment,
// the k-selection figures and the segment changes into DuckDB.
func (r *run) storeSegmentation(ctx context.Context, out *segmentation.Outcome) error {
	s := r.s
	if err := s.createTable(ctx, "ddl/segment_names"); err != nil {
		return err
	}
	names := [][]driver.Value{{int32(0), "All customers"}}
	for _, sg := range out.Segments {
		names = append(names, []driver.Value{int32(sg.ID), sg.Name})
	}
	if err := s.appendRows("segment_names", names); err != nil {
		return err
	}
	rdr, err := assignmentReader(r.opts.Allocator, out.SegmentOf, out.Distance)
	if err != nil {
		return err
	}
	defer rdr.Release()
	err = s.registerArrow(rdr, "segment_assignment", func() error {
		return r.buildStage(ctx, "segment", nil)
	})
	if err != nil {
		return err
	}

	if err := s.createTable(ctx, "ddl/k_selection"); err != nil {
		return err
	}
	var rows [][]driver.Value
	for _, kr := range out.KRows {
		rows = append(rows, []driver.Value{int32(kr.K), nullable.Value(kr.Inertia), nullable.Value(kr.Silhouette), nullable.Value(kr.CalinskiHarabasz),
			nullable.Value(kr.DaviesBouldin), nullable.Value(kr.Stability), nullable.Value(kr.SmallestShare), kr.Eligible, kr.K == out.Chosen})
	}
	if err := s.appendRows("k_selection", rows); err != nil {
		return err
	}

	if err := s.createTable(ctx, "ddl/segment_changes"); err != nil {
		return err
	}
	rows = rows[:0]
	for _, c := range out.Changes {
		var from, into driver.Value
		if c.From > 0 {
			from = int32(c.From)
		}
		if c.Into > 0 {
			into = int32(c.Into)
		}
		rows = append(rows, []driver.Value{int32(c.ID), c.Name, c.Change, from, into, nullable.Value(round(c.Shift, 9))})
	}
	return s.appendRows("segment_changes", rows)
}

// drift builds segment_drift: every segment of this run and every retired
// one, with its change, centroid shift and the customers that stayed,
// moved in and moved out since the output root's latest run (the
// previous_segments view of the segment stage); records the share of
// customers whose segment changed; and builds the customer delta and the
// segment migration.
func (r *run) drift(ctx context.Context) error {
	if err := r.buildStage(ctx, "drift", nil); err != nil {
		return err
	}
	totals, err := modelSQL("reads/drift_totals")
	if err != nil {
		return err
	}
	var compared, changed int64
	if err := r.s.conn.QueryRowContext(ctx, totals).Scan(&compared, &changed); err != nil {
		return err
	}
	q := &r.man.Quality.Segmentation
	q.Compared = compared
	if compared > 0 {
		q.ChangedShare = round(float64(changed)/float64(compared), 6)
	}
	r.log.Info("segment drift", "customers_compared", compared, "changed_share", q.ChangedShare)
	return r.delta(ctx)
}
