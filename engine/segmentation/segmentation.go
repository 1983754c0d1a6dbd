// Package segmentation decides a run's segments from its feature matrix, in
// one function per mode: Assign (a given model), TrainK (a fixed k) and
// ChooseK (k chosen from a range). Every mode then takes the same shared
// steps (finish): hysteresis against the previous run's assignment,
// segment profiles and names, IDs for a first training, and the run's
// model. Matching trained segments to the previous model's (continueFrom)
// and the warm start (warmStart) are the trainings' own.
//
// It is pure Go, no DuckDB: the engine reads the features in
// (FeatureMatrix), passes the previous run's model and assignment, and
// writes the Outcome (each customer's segment and distance, the segments,
// the k-selection figures, the segment changes) into its tables.
package segmentation

import (
	"cmp"
	"log/slog"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/segment"
)

// FeatureMatrix is the clustering input: one row per customer in cust_idx
// order, the numeric features first, then the sparse ones (spend shares and
// one-hot demographics).
type FeatureMatrix struct {
	Specs []segment.FeatureSpec // one per column of X
	X     *mat.Dense
	// Numeric is the number of numeric features, the first columns of X:
	// the segments' centroids are described in them.
	Numeric int
	// Scaled, once set, is the scaler X has been transformed by in place:
	// X then holds the scaled features, and Scaled.InverseRow gives a row
	// back in original units.
	Scaled *segment.Scaler
	// Per-customer figures used to order and name segments: net revenue,
	// and 1 when the customer is new or active in Lifecycle's windows, 0
	// when not.
	NetRevenue, Active, New []float64
	Lifecycle               manifest.Lifecycle
}

// Settings are the run's settings of the segmentation.
type Settings struct {
	Segmentation config.Segmentation
	Seed         uint64 // the run's seed: k-means, the silhouette sample, the bootstraps
	Threads      int    // k-means threads; 0 means all cores
	// Software (crmseg's version) and RunID are recorded in a trained
	// model.
	Software, RunID string
	Log             *slog.Logger // nil discards
}

func (st Settings) log() *slog.Logger {
	if st.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return st.Log
}

// algorithm is the k-means iteration: segmentation.algorithm, hamerly by
// default.
func (st Settings) algorithm() string {
	return cmp.Or(st.Segmentation.Algorithm, string(segment.Hamerly))
}

// kmeans is the k-means fit of the settings.
func (st Settings) kmeans() segment.KMeans {
	sg := st.Segmentation
	return segment.KMeans{K: sg.K, NInit: sg.NInit, MaxIter: sg.MaxIter, Seed: st.Seed, Threads: st.Threads,
		Algorithm: segment.Algorithm(st.algorithm()), SampleSize: sg.SampleSize}
}

// Input is what a segmentation starts from.
type Input struct {
	Features *FeatureMatrix
	// Previous is the model of the run this one continues; nil when none.
	Previous *segment.Model
	// IDFloor: a first training numbers its segments from IDFloor+1 up,
	// so that IDs started afresh never reuse one given before.
	IDFloor int
	// PreviousAssignment, for hysteresis, calls yield with the row and the
	// segment ID of every customer the previous run assigned; nil when
	// there is none.
	PreviousAssignment func(yield func(row, segmentID int)) error
}

// Progress follows the k-means restarts of a training (engine.Progress).
type Progress interface {
	Add(n int)
	Done()
}

// Outcome is a run's segmentation.
type Outcome struct {
	// Model is the run's model: the trained one, or the given one, as it
	// was, when assigning.
	Model *segment.Model
	// Segments are described in ID order.
	Segments []Segment
	// SegmentOf and Distance are each customer's segment ID and Euclidean
	// distance to its centroid in the scaled space, by row.
	SegmentOf []int32
	Distance  []float64
	// KRows are the quality figures of each k tried (one row unless k was
	// chosen), Chosen the k of the segmentation.
	KRows   []segment.KRow
	Chosen  int
	Changes []segment.SegmentChange // what became of the previous model's segments
	Quality manifest.SegmentationQuality
}

// ChooseKError is why choose_k found no k (segment.ChooseK's error): it
// lies with the data, not with the run.
type ChooseKError struct{ Err error }

func (e *ChooseKError) Error() string { return "segmentation.choose_k: " + e.Err.Error() }
func (e *ChooseKError) Unwrap() error { return e.Err }

// clustering is what a mode gives the steps every mode shares: the
// clusters in the scaled space and where they came from.
type clustering struct {
	z         *mat.Dense // the scaled features
	scaler    *segment.Scaler
	res       *segment.Result
	algorithm string
	source    string // model (assigned), trained (first training), retrained (matched)
	warm      bool   // the fit kept the start from the previous centroids
	kRows     []segment.KRow
	chosen    int
	kReason   string
	// ids and names are each cluster's segment ID and name, kept from the
	// model the run continues (a name "" is generated); nil on a first
	// training.
	ids     []int
	names   []string
	nextID  int
	changes []segment.SegmentChange
	given   *segment.Model // the model assigned with
	// dissolved are the clusters too small to be segments (dissolveSmall).
	dissolved []manifest.DissolvedCluster
}

// finish takes the steps every mode shares once its clusters are known:
// hysteresis against the previous run's assignment, the fit's record, the
// segments' profiles, IDs (on a first training) and names, and the model.
func finish(c *clustering, in Input, st Settings) (*Outcome, error) {
	sg, log, fm := st.Segmentation, st.log(), in.Features
	n, _ := fm.X.Dims()
	// Hysteresis needs comparable segment IDs: the previous model's, kept
	// by matching or by assigning with a model.
	var kept int64
	if sg.Hysteresis > 0 && c.ids != nil {
		var err error
		if kept, err = c.hysteresis(in.PreviousAssignment, sg.Hysteresis); err != nil {
			return nil, err
		}
		log.Info("hysteresis applied", "margin", sg.Hysteresis, "customers_kept", kept)
	}
	res := c.res
	k, _ := res.Centroids.Dims()
	out := &Outcome{KRows: c.kRows, Chosen: c.chosen}
	out.Quality = manifest.SegmentationQuality{
		K: k, Customers: n, Features: len(fm.Specs), Inertia: res.Inertia, Iterations: res.Iterations,
		Converged: res.Converged, Restarts: len(res.Inertias), SampleRows: res.SampleRows, Algorithm: c.algorithm, Source: c.source,
		HysteresisKept: kept, WarmStart: c.warm, Lifecycle: fm.Lifecycle, Dissolved: c.dissolved,
		OutlierClip: c.scaler.Clip,
	}
	for j, count := range c.scaler.Clipped(c.z) {
		if count > 0 {
			out.Quality.Clipped = append(out.Quality.Clipped, manifest.ClippedFeature{Feature: c.scaler.Features[j].Name, Customers: count})
		}
	}
	if len(out.Quality.Clipped) > 0 {
		log.Info("outliers clipped", "outlier_clip", c.scaler.Clip, "features", len(out.Quality.Clipped))
	}
	for _, row := range c.kRows {
		if row.K == k {
			out.Quality.Silhouette = nullable.Float(round(row.Silhouette, 6))
		}
	}
	log.Info("segments ready", "source", c.source, "k", k, "inertia", res.Inertia, "iterations", res.Iterations, "converged", res.Converged)

	segs := profileSegments(fm, res, c.scaler)
	if c.ids == nil {
		c.numberAfresh(segs, in.IDFloor)
	}
	idOf := c.name(segs, fm.Specs)
	slices.SortStableFunc(segs, func(a, b Segment) int { return cmp.Compare(a.ID, b.ID) })
	out.Segments, out.Changes = segs, c.changes
	out.Model = c.model(segs, n, st)

	out.SegmentOf = make([]int32, n)
	out.Distance = make([]float64, n)
	for i, cl := range res.Labels {
		out.SegmentOf[i] = idOf[cl]
		out.Distance[i] = math.Sqrt(res.Distances[i])
	}
	return out, nil
}

// model is the run's model: the segments (in ID order) with their
// centroids, how they were fitted and what became of the previous ones;
// when assigning, the given model as it was.
func (c *clustering) model(segs []Segment, n int, st Settings) *segment.Model {
	if c.given != nil {
		return c.given
	}
	res := c.res
	k, _ := res.Centroids.Dims()
	m := &segment.Model{
		Version: segment.ModelVersion, Software: st.Software, RunID: st.RunID, Scaler: c.scaler, NextID: c.nextID,
		Training: segment.TrainingRecord{Rows: n, K: k, NInit: st.Segmentation.NInit, Seed: st.Seed, Algorithm: c.algorithm,
			Inertia: res.Inertia, Iterations: res.Iterations, Converged: res.Converged, KSelection: c.kRows, KReason: c.kReason, Inertias: res.Inertias},
		Changes: c.changes,
	}
	for _, s := range segs {
		m.Segments = append(m.Segments, segment.ModelSegment{ID: s.ID, Name: s.Name, Size: s.Customers,
			Share: round(s.Share, 6), Centroid: slices.Clone(res.Centroids.RawRowView(s.Cluster))})
	}
	return m
}

// figures are the quality figures of one clustering (fixed k or a given
// model) as choose_k records them for each k, with the run's seed: no
// stability, which needs refits, and the silhouette from choose_k's
// default sample (silhouette_sample is a setting of choose_k, which these
// modes exclude).
func (st Settings) figures(z *mat.Dense, labels []int, inertia float64, k int) segment.KRow {
	return segment.Figures(z, nil, labels, k, inertia, segment.ChooseOptions{Seed: st.Seed})
}

// startProgress starts following total restarts; progress nil follows
// nothing.
func startProgress(progress func(total int) Progress, total int) Progress {
	if progress == nil {
		return noProgress{}
	}
	if p := progress(total); p != nil {
		return p
	}
	return noProgress{}
}

type noProgress struct{}

func (noProgress) Add(int) {}
func (noProgress) Done()   {}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
