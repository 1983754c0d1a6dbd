package engine

import (
	"context"
	"database/sql/driver"
	"errors"
	"slices"

	"github.com/crmseg/crmseg/datasets"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/segmentation"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/segment"
)

// segmented is what the segment stage makes for the later ones.
type segmented struct {
	segments []segmentation.Segment // in ID order
	model    *segment.Model         // the run's segmentation model
	// numeric are the numeric clustering features, which the segments'
	// centroids are described in.
	numeric []segment.FeatureSpec
}

// segment decides the run's segments from the feature matrix in the mode
// the configuration sets: taking them from an assignments file, assigning
// with a given model, training a fixed k, or choosing k
// (segmentation.Given, Assign, TrainK, ChooseK), continuing the
// model of prev, the run this one continues; records the fit in the
// manifest; and hands the assignment back to DuckDB (storeSegmentation),
// where the previous run's assignment (previousSegments) is too.
func (r *run) segment(ctx context.Context, fm *segmentation.FeatureMatrix, prev store.Previous, data supply) (*segmented, error) {
	in := segmentation.Input{Features: fm, Previous: prev.Model, IDFloor: prev.IDFloor, PreviousAssignment: r.previousAssignment(ctx)}
	r.man.SegmentIDFloor = prev.IDFloor
	st := segmentation.Settings{Segmentation: r.cfg.Segmentation, Seed: r.cfg.Seed, Threads: r.cfg.Threads,
		Software: r.opts.Version, RunID: r.man.RunID, Log: r.log}
	var out *segmentation.Outcome
	var err error
	var given *givenSegments
	switch sg := r.cfg.Segmentation; {
	case sg.Assignments != "":
		n, _ := fm.X.Dims()
		if given, err = r.readAssignments(ctx, data.inputs[datasets.SegmentAssignments.Name], n); err == nil {
			out, err = segmentation.Given(in, st, given.segmentOf, given.names)
		}
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
	if given != nil {
		r.man.Quality.Segmentation.Assignments = &given.quality
	}
	if err := r.storeSegmentation(ctx, out, data); err != nil {
		return nil, stageError("segment", err)
	}
	// The published customer_features hold the columns that were
	// clustered: the model's.
	clustered := fm.Specs
	if out.Model != nil && out.Model.Scaler != nil {
		clustered = out.Model.Scaler.Features
	}
	if err := r.s.createFeatureMatrixView(ctx, clustered); err != nil {
		return nil, stageError("segment", err)
	}
	return &segmented{segments: out.Segments, model: out.Model, numeric: slices.Clone(fm.Specs[:fm.Numeric])}, nil
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
func (r *run) storeSegmentation(ctx context.Context, out *segmentation.Outcome, data supply) error {
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
		return r.buildStage(ctx, "segment", data, nil)
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
