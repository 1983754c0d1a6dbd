package segmentation

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/segment"
)

// groups returns the features of customers in three well separated groups
// of sizes 300, 200 and 100 around 0, 10 and 20 on two numeric features,
// the group of size 100 the most valuable, then the one of 300; a seed
// draws the spread.
func groups(seed uint64) *FeatureMatrix {
	rng := rand.New(rand.NewPCG(seed, 1))
	sizes := []int{300, 200, 100}
	value := []float64{50, 10, 500}
	n := 600
	fm := &FeatureMatrix{
		Specs:      []segment.FeatureSpec{{Name: "orders"}, {Name: "net_revenue"}},
		X:          mat.NewDense(n, 2, nil),
		Numeric:    2,
		NetRevenue: make([]float64, n),
		Active:     make([]float64, n),
		New:        make([]float64, n),
	}
	i := 0
	for g, size := range sizes {
		for range size {
			fm.X.Set(i, 0, 10*float64(g)+rng.NormFloat64())
			fm.X.Set(i, 1, 10*float64(g)+rng.NormFloat64())
			fm.NetRevenue[i] = value[g]
			fm.Active[i] = 1
			i++
		}
	}
	return fm
}

func settings(k int) Settings {
	sg := config.DefaultConfig().Segmentation
	sg.K, sg.NInit = k, 3
	return Settings{Segmentation: sg, Seed: 1, Threads: 1, Software: "test", RunID: "run"}
}

type counter struct {
	total, added int
	done         bool
}

func (c *counter) Add(n int) { c.added += n }
func (c *counter) Done()     { c.done = true }

func (c *counter) start(total int) Progress {
	c.total = total
	return c
}

// TestTrainKFirstTraining: a first training numbers the segments above
// the ID floor by descending mean value, all new, and its model, outcome
// and record agree.
func TestTrainKFirstTraining(t *testing.T) {
	fm := groups(1)
	p := &counter{}
	out, err := TrainK(Input{Features: fm, IDFloor: 4}, settings(3), p.start)
	if err != nil {
		t.Fatal(err)
	}
	if p.total != 3 || p.added != 3 || !p.done {
		t.Errorf("progress %+v, want 3 of 3 restarts, done", p)
	}
	if fm.Scaled == nil {
		t.Error("the features are not marked scaled")
	}
	var ids []int
	var sizes []int
	for _, s := range out.Segments {
		ids, sizes = append(ids, s.ID), append(sizes, s.Customers)
	}
	// By descending mean value: the group of 100 (500), of 300 (50), of 200 (10).
	if !slices.Equal(ids, []int{5, 6, 7}) || !slices.Equal(sizes, []int{100, 300, 200}) {
		t.Errorf("segments %v of sizes %v, want 5, 6, 7 of 100, 300, 200", ids, sizes)
	}
	for _, c := range out.Changes {
		if c.Change != "new" || c.Name == "" {
			t.Errorf("change %+v, want new and named", c)
		}
	}
	m := out.Model
	if m.NextID != 8 || len(m.Segments) != 3 || m.RunID != "run" || m.Software != "test" || m.Training.K != 3 || m.Training.Seed != 1 {
		t.Errorf("model %+v", m)
	}
	for i, s := range m.Segments {
		if s.ID != out.Segments[i].ID || s.Name != out.Segments[i].Name || s.Size != out.Segments[i].Customers {
			t.Errorf("model segment %+v, outcome %+v", s, out.Segments[i])
		}
	}
	q := out.Quality
	if q.Source != "trained" || q.K != 3 || q.Customers != 600 || q.Features != 2 || q.Algorithm != "hamerly" || q.WarmStart || q.HysteresisKept != 0 {
		t.Errorf("quality %+v", q)
	}
	if len(out.KRows) != 1 || out.KRows[0].K != 3 || out.Chosen != 3 || float64(q.Silhouette) != round(out.KRows[0].Silhouette, 6) {
		t.Errorf("k rows %+v, chosen %d, silhouette %v", out.KRows, out.Chosen, q.Silhouette)
	}
	for i := range 600 {
		want := int32(5)
		if i < 300 {
			want = 6
		} else if i < 500 {
			want = 7
		}
		if out.SegmentOf[i] != want || !(out.Distance[i] >= 0 && out.Distance[i] < 3) {
			t.Fatalf("customer %d: segment %d at %v, want %d nearby", i, out.SegmentOf[i], out.Distance[i], want)
		}
	}
}

// TestRetrainAndAssignKeepSegments: a retraining on another draw matches
// every segment of the previous model (warm-started, same k), and
// assigning with the model keeps it as it is.
func TestRetrainAndAssignKeepSegments(t *testing.T) {
	first, err := TrainK(Input{Features: groups(1)}, settings(3), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &counter{}
	again, err := TrainK(Input{Features: groups(2), Previous: first.Model}, settings(3), p.start)
	if err != nil {
		t.Fatal(err)
	}
	if p.total != 4 {
		t.Errorf("%d restarts, want n_init 3 and the warm start", p.total)
	}
	if q := again.Quality; q.Source != "retrained" || !q.WarmStart {
		t.Errorf("quality %+v, want retrained from the warm start", q)
	}
	for i, s := range again.Segments {
		if was := first.Segments[i]; s.ID != was.ID || s.Name != was.Name || s.Customers != was.Customers {
			t.Errorf("segment %+v, was %+v", s, was)
		}
	}
	for _, c := range again.Changes {
		if c.Change != "kept" {
			t.Errorf("change %+v, want kept", c)
		}
	}

	path := filepath.Join(t.TempDir(), "model.json")
	if err := first.Model.Write(path); err != nil {
		t.Fatal(err)
	}
	st := settings(3)
	st.Segmentation.Model = path
	assigned, err := Assign(Input{Features: groups(1)}, st)
	if err != nil {
		t.Fatal(err)
	}
	if q := assigned.Quality; q.Source != "model" || q.Algorithm != "assign" {
		t.Errorf("quality %+v", q)
	}
	if m := assigned.Model; m.NextID != first.Model.NextID || len(m.Changes) != len(first.Model.Changes) || m.Training.Inertia != first.Model.Training.Inertia {
		t.Errorf("assigning changed the model: %+v", assigned.Model)
	}
	if !slices.Equal(assigned.SegmentOf, first.SegmentOf) {
		t.Error("assigning with the model moved customers")
	}

	st.Segmentation.Model = filepath.Join(t.TempDir(), "none.json")
	var ce *config.ConfigError
	if _, err := Assign(Input{Features: groups(1)}, st); !errors.As(err, &ce) || !strings.HasPrefix(ce.Problems[0], "segmentation.model: ") {
		t.Errorf("a missing model: %v, want a segmentation.model problem", err)
	}
}

// TestHysteresis: a customer stays in its previous segment while the
// nearest centroid is not closer by more than the margin.
func TestHysteresis(t *testing.T) {
	for _, c := range []struct {
		margin float64
		kept   int64
		label  int
	}{{0.1, 1, 0}, {0.05, 0, 1}} {
		// Centroids at 0 and 10, segments 7 and 8; the customer at 5.2 is
		// 5.2 from its previous segment 7 and 4.8 from 8: 5.2 / 4.8 = 1.083.
		cl := &clustering{
			z:   mat.NewDense(3, 1, []float64{5.2, 0, 10}),
			ids: []int{7, 8},
			res: &segment.Result{Centroids: mat.NewDense(2, 1, []float64{0, 10}), Labels: []int{1, 0, 1}, Distances: []float64{4.8 * 4.8, 0, 0}},
		}
		previous := func(yield func(row, id int)) error {
			yield(0, 7)
			yield(1, 9) // a retired segment
			yield(2, 8)
			return nil
		}
		kept, err := cl.hysteresis(previous, c.margin)
		if err != nil {
			t.Fatal(err)
		}
		if kept != c.kept || cl.res.Labels[0] != c.label {
			t.Errorf("margin %v: %d kept, label %d; want %d, %d", c.margin, kept, cl.res.Labels[0], c.kept, c.label)
		}
		if want := map[int]float64{0: 5.2 * 5.2, 1: 4.8 * 4.8}[c.label]; math.Abs(cl.res.Distances[0]-want) > 1e-9 {
			t.Errorf("margin %v: squared distance %v, want %v", c.margin, cl.res.Distances[0], want)
		}
	}
}

// TestTrainingErrors: too few customers for k is the configuration's
// problem, no k to choose the data's.
func TestTrainingErrors(t *testing.T) {
	var ce *config.ConfigError
	if _, err := TrainK(Input{Features: groups(1)}, settings(601), nil); !errors.As(err, &ce) || !strings.HasPrefix(ce.Problems[0], "segmentation.k: ") {
		t.Errorf("k above the customers: %v, want a segmentation.k problem", err)
	}
	st := settings(3)
	st.Segmentation.ChooseK = &config.ChooseK{Min: 2, Max: 4, MinSize: 0.9, Bootstraps: -1}
	var ke *ChooseKError
	if _, err := ChooseK(Input{Features: groups(1)}, st, nil); !errors.As(err, &ke) || !strings.HasPrefix(err.Error(), "segmentation.choose_k: ") ||
		!errors.Is(err, segment.ErrNoEligibleK) {
		t.Errorf("no eligible k: %v, want a *ChooseKError", err)
	}
	// The bound from segmentation.min_size, above choose_k's: the error
	// names the setting.
	st.Segmentation.ChooseK.MinSize, st.Segmentation.MinSize = 0.03, 0.9
	if _, err := ChooseK(Input{Features: groups(1)}, st, nil); !errors.As(err, &ke) || !errors.Is(err, segment.ErrNoEligibleK) ||
		!strings.Contains(err.Error(), "(the minimum is segmentation.min_size, 0.9, above choose_k.min_size, 0.03)") {
		t.Errorf("no eligible k under segmentation.min_size: %v, want it named", err)
	}
}

// TestChooseKRecordsEveryK: choosing k keeps a row per k, marks the one
// chosen and follows every restart.
func TestChooseKRecordsEveryK(t *testing.T) {
	st := settings(3)
	st.Segmentation.ChooseK = &config.ChooseK{Min: 2, Max: 4, Bootstraps: 2}
	p := &counter{}
	out, err := ChooseK(Input{Features: groups(1)}, st, p.start)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.KRows) != 3 || out.Chosen != 3 || out.Model.Training.KReason == "" || len(out.Segments) != 3 {
		t.Errorf("k rows %+v, chosen %d", out.KRows, out.Chosen)
	}
	// 3 k × (1 + 2 bootstraps) fits and the chosen k again, of 3 restarts.
	if p.total != 30 || p.added != 30 || !p.done {
		t.Errorf("progress %+v, want 30 of 30 restarts", p)
	}
}

// withOutliers is groups(seed) and six customers far from every group: a
// cluster of their own at k = 4, under min_size (2%), and so dissolved.
func withOutliers(seed uint64) *FeatureMatrix {
	fm := groups(seed)
	n, d := fm.X.Dims()
	x := mat.NewDense(n+6, d, nil)
	x.Slice(0, n, 0, d).(*mat.Dense).Copy(fm.X)
	for i := n; i < n+6; i++ {
		x.Set(i, 0, 40+float64(i-n)/10)
		x.Set(i, 1, 40)
		fm.NetRevenue, fm.Active, fm.New = append(fm.NetRevenue, 50), append(fm.Active, 1), append(fm.New, 0)
	}
	fm.X = x
	return fm
}

// TestWarmStartAfterDissolving: a retraining with the same k starts from
// the previous model's centroids also when both trainings dissolved a
// cluster below min_size, though the model then holds fewer segments than
// segmentation.k.
func TestWarmStartAfterDissolving(t *testing.T) {
	first, err := TrainK(Input{Features: withOutliers(1)}, settings(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	if q := first.Quality; len(q.Dissolved) != 1 || q.Dissolved[0].Customers != 6 || len(first.Segments) != 3 {
		t.Fatalf("first training: dissolved %+v, %d segments; want the 6 outliers dissolved, 3 segments", q.Dissolved, len(first.Segments))
	}
	again, err := TrainK(Input{Features: withOutliers(2), Previous: first.Model}, settings(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	if q := again.Quality; q.Source != "retrained" || !q.WarmStart || len(q.Dissolved) != 1 {
		t.Errorf("quality %+v, want retrained from the warm start, the outliers dissolved", q)
	}
	for i, s := range again.Segments {
		if was := first.Segments[i]; s.ID != was.ID || s.Name != was.Name {
			t.Errorf("segment %+v, was %+v", s, was)
		}
	}
}

// A model file whose numeric features are not the run's is refused with
// where they part: the configuration's segmentation.features naming others
// (the missing and the extra ones), or the inputs not supplying one the
// configuration asks for.
func TestAssignFeatureMismatch(t *testing.T) {
	train := groups(1)
	train.Specs = []segment.FeatureSpec{{Name: "orders"}, {Name: "age"}}
	trained, err := TrainK(Input{Features: train}, settings(3), nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.json")
	if err := trained.Model.Write(path); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		features []segment.FeatureSpec // the configuration's
		run      []segment.FeatureSpec // the run's, from the inputs
		want     []string
		not      []string
	}{
		{"the configuration's features differ", []segment.FeatureSpec{{Name: "orders"}, {Name: "revenue_12m"}}, []segment.FeatureSpec{{Name: "orders"}, {Name: "revenue_12m"}},
			[]string{"model file " + path + " was trained on the features orders, age", "segmentation.features list orders, revenue_12m",
				"missing the model's age", "with revenue_12m, which the model does not have"}, []string{"inputs"}},
		{"the configuration's features in another order", []segment.FeatureSpec{{Name: "age"}, {Name: "orders"}}, []segment.FeatureSpec{{Name: "age"}, {Name: "orders"}},
			[]string{"segmentation.features list age, orders: in another order"}, []string{"inputs", "missing"}},
		{"the default set", nil, []segment.FeatureSpec{{Name: "recency_days"}, {Name: "orders_per_year"}},
			[]string{"lists no segmentation.features, so the run takes the default set recency_days", "missing the model's orders, with recency_days, orders_per_year"}, []string{"inputs"}},
		{"the inputs lack a column", []segment.FeatureSpec{{Name: "orders"}, {Name: "age"}}, []segment.FeatureSpec{{Name: "orders"}},
			[]string{"as the configuration asks, but these inputs do not supply age (it needs input column birth_date)"}, []string{"missing", "list orders"}},
	} {
		fm := groups(1)
		fm.Specs, fm.Numeric = c.run, len(c.run)
		if len(c.run) == 1 {
			fm.X = mat.DenseCopyOf(fm.X.Slice(0, 600, 0, 1))
		}
		st := settings(3)
		st.Segmentation.Model, st.Segmentation.Features = path, c.features
		_, err := Assign(Input{Features: fm}, st)
		var ce *config.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: %v, want a *config.ConfigError", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
		for _, w := range c.not {
			if strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q says %q", c.name, err, w)
			}
		}
	}
}
