package engine

import (
	"cmp"
	"context"
	"database/sql/driver"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/scoring"
	"github.com/crmseg/crmseg/segment"
)

// segment scales the features and clusters the customers, or assigns them
// with a given model; gives every cluster its segment ID (kept from the
// previous run's model where a cluster matches one of its segments) and
// name; and hands the assignment back to DuckDB. It leaves the model of
// the run in r.model.
func (r *run) segment(ctx context.Context, fm *featureMatrix, nNumeric int) ([]segmentInfo, error) {
	sg := r.cfg.Segmentation
	n, _ := fm.x.Dims()
	algorithm := cmp.Or(sg.Algorithm, string(segment.Hamerly))
	var (
		z       *mat.Dense
		scaler  *segment.Scaler
		res     *segment.Result
		ids     []int
		names   []string
		nextID  int
		changes []segment.SegmentChange
		kRows   []segment.KRow
		chosen  int
		kReason string
		source  string
		given   *segment.Model
		warm    bool // the fit kept the start from the previous centroids
	)
	if err := r.previousSegments(ctx); err != nil {
		return nil, stageError("segment", err)
	}
	if sg.Model != "" {
		m, err := segment.ReadModel(sg.Model)
		if err != nil {
			return nil, &config.ConfigError{Problems: []string{"segmentation.model: " + err.Error()}}
		}
		given = m
		if z, err = alignFeatures(fm, m.Scaler); err != nil {
			return nil, &config.ConfigError{Problems: []string{"segmentation.model: " + err.Error()}}
		}
		scaler = m.Scaler
		centroids := m.Centroids()
		labels, dist := segment.Assign(nil, nil, z, centroids, r.cfg.Threads)
		k := len(m.Segments)
		res = &segment.Result{Centroids: centroids, Labels: labels, Distances: dist, Sizes: make([]int, k), Converged: true}
		for i, l := range labels {
			res.Sizes[l]++
			res.Inertia += dist[i]
		}
		for _, s := range m.Segments {
			ids = append(ids, s.ID)
			names = append(names, s.Name)
			changes = append(changes, segment.SegmentChange{ID: s.ID, Change: "kept", Name: s.Name})
		}
		nextID, source, algorithm = m.NextID, "model", "assign"
		kRows = []segment.KRow{r.figures(z, labels, res.Inertia, k)}
		chosen = k
	} else {
		var err error
		if scaler, err = segment.FitScaler(fm.x, fm.specs, nil); err != nil {
			return nil, stageError("segment", err)
		}
		// Scaled in place: at ten million customers the matrix is 3 GB,
		// and a scaled copy beside it would double that.
		scaler.Transform(fm.x, fm.x)
		z, fm.scaled = fm.x, scaler
		km := segment.KMeans{K: sg.K, NInit: sg.NInit, MaxIter: sg.MaxIter, Seed: r.cfg.Seed, Threads: r.cfg.Threads,
			Algorithm: segment.Algorithm(algorithm), SampleSize: sg.SampleSize}
		previous := r.prev.Model
		if sg.ChooseK == nil && sg.WarmStart && previous != nil && len(previous.Segments) == sg.K {
			km.Init, km.InitMargin = previous.Express(scaler), sg.WarmStartMargin
		}
		step, restarts := StepRestarts, sg.NInit
		if km.Init != nil {
			restarts++
		}
		if ck := sg.ChooseK; ck != nil {
			// Every k is fitted, refitted on each bootstrap (10 by
			// default), and the chosen k once more.
			boots := cmp.Or(ck.Bootstraps, 10)
			step, restarts = StepChooseK, max(0, sg.NInit*((min(ck.Max, n-1)-ck.Min+1)*(1+boots)+1))
		}
		p := r.progress(step, restarts)
		km.Progress = func(int, int) { p.Add(1) }
		defer p.Done()
		if ck := sg.ChooseK; ck != nil {
			choice, err := segment.ChooseK(z, nil, km, segment.ChooseOptions{MinK: ck.Min, MaxK: min(ck.Max, n-1), MinSize: ck.MinSize,
				SilhouetteSample: ck.SilhouetteSample, Bootstraps: ck.Bootstraps, Seed: r.cfg.Seed})
			if err != nil {
				return nil, &RejectedError{Msg: "segmentation.choose_k: " + err.Error()}
			}
			res, kRows, chosen, kReason = choice.Result, choice.Rows, choice.Chosen, choice.Reason
			r.log.Info("k chosen", "k", chosen, "reason", kReason)
		} else {
			if n < sg.K {
				return nil, &config.ConfigError{Problems: []string{fmt.Sprintf("segmentation.k: %d segments asked for, but the inputs have only %d customers", sg.K, n)}}
			}
			if res, err = km.Fit(z, nil); err != nil {
				return nil, stageError("segment", err)
			}
			if km.Init != nil {
				warm = res.Restart == km.NInit
				r.log.Info("warm start from the previous centroids", "kept", res.Restart == km.NInit,
					"inertia", res.Inertias[km.NInit], "best_fresh_inertia", slices.Min(res.Inertias[:km.NInit]))
			}
			chosen = sg.K
			kRows = []segment.KRow{r.figures(z, res.Labels, res.Inertia, sg.K)}
		}
		if previous != nil {
			ids, names, nextID, changes = previous.Match(res.Centroids, scaler, sg.MatchMaxDistance)
			source = "retrained"
		} else {
			source = "trained"
		}
	}
	// Hysteresis needs comparable segment IDs: the previous model's, kept
	// by matching or by assigning with a model.
	var kept int64
	if sg.Hysteresis > 0 && ids != nil {
		var err error
		if kept, err = r.hysteresis(ctx, z, res.Centroids, res.Labels, res.Distances, ids, sg.Hysteresis); err != nil {
			return nil, stageError("segment", err)
		}
		r.log.Info("hysteresis applied", "margin", sg.Hysteresis, "customers_kept", kept)
	}
	k, _ := res.Centroids.Dims()
	r.man.Quality.Segmentation = manifest.SegmentationQuality{
		K: k, Customers: n, Features: len(fm.specs), Inertia: res.Inertia, Iterations: res.Iterations,
		Converged: res.Converged, Restarts: len(res.Inertias), SampleRows: res.SampleRows, Algorithm: algorithm, Source: source,
		HysteresisKept: kept, WarmStart: warm,
	}
	for _, row := range kRows {
		if row.K == k {
			r.man.Quality.Segmentation.Silhouette = nullable.Float(round(row.Silhouette, 6))
		}
	}
	r.log.Info("segments ready", "source", source, "k", k, "inertia", res.Inertia, "iterations", res.Iterations, "converged", res.Converged)

	if r.leftOut(scoring.MetricNewCustomers) {
		// Who is new is unknown when the data barely reaches before the
		// last 12 months: no segment is named "new" for it.
		clear(fm.new12m)
	}
	segs := profileSegments(fm, res, scaler, nNumeric)
	if ids == nil {
		// A first training: IDs by descending mean value.
		order := make([]int, k)
		for c := range order {
			order[c] = c
		}
		slices.SortStableFunc(order, func(a, b int) int {
			return cmp.Or(cmp.Compare(segs[b].MeanValue, segs[a].MeanValue), cmp.Compare(a, b))
		})
		// Above idFloor: IDs started afresh never reuse one given before.
		ids = make([]int, k)
		for rank, c := range order {
			ids[c] = r.prev.IDFloor + rank + 1
		}
		names = make([]string, k)
		nextID = r.prev.IDFloor + k + 1
		for c := range k {
			changes = append(changes, segment.SegmentChange{ID: ids[c], Change: "new"})
		}
	}
	fixed := make([]bool, k)
	for c := range segs {
		segs[c].ID = ids[c]
		if names[c] != "" {
			segs[c].Name, fixed[c] = names[c], true
		}
	}
	disambiguate(segs, fixed, fm.specs)
	nameOf := map[int]string{}
	for _, s := range segs {
		nameOf[s.ID] = s.Name
	}
	for i := range changes {
		if changes[i].Name == "" {
			changes[i].Name = nameOf[changes[i].ID]
		}
	}
	idOf := make([]int32, k)
	for c, s := range segs {
		idOf[c] = int32(s.ID)
	}
	slices.SortStableFunc(segs, func(a, b segmentInfo) int { return cmp.Compare(a.ID, b.ID) })

	model := &segment.Model{
		Version: segment.ModelVersion, Software: r.opts.Version, RunID: r.man.RunID, Scaler: scaler, NextID: nextID,
		Training: segment.TrainingRecord{Rows: n, K: k, NInit: sg.NInit, Seed: r.cfg.Seed, Algorithm: algorithm,
			Inertia: res.Inertia, Iterations: res.Iterations, Converged: res.Converged, KSelection: kRows, KReason: kReason, Inertias: res.Inertias},
		Changes: changes,
	}
	for _, s := range segs {
		model.Segments = append(model.Segments, segment.ModelSegment{ID: s.ID, Name: s.Name, Size: s.Customers,
			Share: round(s.Share, 6), Centroid: slices.Clone(res.Centroids.RawRowView(s.Cluster))})
	}
	if given != nil {
		model = given // assigning leaves the model as it was
	}
	r.model = model

	segmentOf := make([]int32, n)
	dist := make([]float64, n)
	for i, c := range res.Labels {
		segmentOf[i] = idOf[c]
		dist[i] = math.Sqrt(res.Distances[i])
	}
	if err := r.storeSegmentation(ctx, segs, segmentOf, dist, kRows, chosen, changes); err != nil {
		return nil, stageError("segment", err)
	}
	return segs, nil
}

// figures computes the quality figures of one clustering (fixed k or a
// given model) as choose_k does for each k, with the run's seed: no
// stability, which needs refits, and the silhouette from choose_k's
// default sample (silhouette_sample is a setting of choose_k, which these
// modes exclude).
func (r *run) figures(z *mat.Dense, labels []int, inertia float64, k int) segment.KRow {
	return segment.Figures(z, nil, labels, k, inertia, segment.ChooseOptions{Seed: r.cfg.Seed})
}

// alignFeatures builds the scaled matrix of the model's features from the
// run's features, by name. A one-hot or share column the run does not have
// is 0 for everyone; a numeric feature it does not have is an error.
func alignFeatures(fm *featureMatrix, scaler *segment.Scaler) (*mat.Dense, error) {
	n, _ := fm.x.Dims()
	have := map[string]int{}
	for j, s := range fm.specs {
		have[s.Name] = j
	}
	// The numeric features must be the run's, in its order: the segments'
	// profiles and centroids are described in them.
	numeric := func(specs []segment.FeatureSpec) []string {
		var names []string
		for _, f := range specs {
			if !strings.Contains(f.Name, "=") {
				names = append(names, f.Name)
			}
		}
		return names
	}
	if got, want := numeric(fm.specs), numeric(scaler.Features); !slices.Equal(got, want) {
		return nil, fmt.Errorf("the model was trained on the numeric features %s, and this run has %s: run it with the model's segmentation.features",
			strings.Join(want, ", "), strings.Join(got, ", "))
	}
	x := mat.NewDense(n, len(scaler.Features), nil)
	for j, f := range scaler.Features {
		src, ok := have[f.Name]
		if !ok {
			continue // a one-hot or share column the run does not have
		}
		for i := range n {
			x.Set(i, j, fm.x.At(i, src))
		}
	}
	scaler.Transform(x, x)
	return x, nil
}

// storeSegmentation writes the segment names, the customers' assignment,
// the k-selection figures and the segment changes into DuckDB.
func (r *run) storeSegmentation(ctx context.Context, segs []segmentInfo, segmentOf []int32, dist []float64, kRows []segment.KRow, chosen int, changes []segment.SegmentChange) error {
	s := r.s
	if err := s.createTable(ctx, "ddl/segment_names"); err != nil {
		return err
	}
	names := [][]driver.Value{{int32(0), "All customers"}}
	for _, sg := range segs {
		names = append(names, []driver.Value{int32(sg.ID), sg.Name})
	}
	if err := s.appendRows("segment_names", names); err != nil {
		return err
	}
	rdr, err := assignmentReader(r.opts.Allocator, segmentOf, dist)
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
	for _, kr := range kRows {
		rows = append(rows, []driver.Value{int32(kr.K), nullable.Value(kr.Inertia), nullable.Value(kr.Silhouette), nullable.Value(kr.CalinskiHarabasz),
			nullable.Value(kr.DaviesBouldin), nullable.Value(kr.Stability), nullable.Value(kr.SmallestShare), kr.Eligible, kr.K == chosen})
	}
	if err := s.appendRows("k_selection", rows); err != nil {
		return err
	}

	if err := s.createTable(ctx, "ddl/segment_changes"); err != nil {
		return err
	}
	rows = rows[:0]
	for _, c := range changes {
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
