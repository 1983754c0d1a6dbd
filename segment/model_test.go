package segment

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// groupData draws n points around the given centres (unit spread), the
// i-th point from centre i % len(centres), shifted by shift.
func groupData(n int, centres [][]float64, shift float64, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 3))
	d := len(centres[0])
	x := mat.NewDense(n, d, nil)
	for i := range n {
		c := centres[i%len(centres)]
		for j := range d {
			x.Set(i, j, c[j]+shift+rng.NormFloat64())
		}
	}
	return x
}

// train fits k clusters on x with standard scaling and returns a model,
// matched to prev when given.
func train(t *testing.T, x *mat.Dense, k int, prev *Model) *Model {
	t.Helper()
	_, d := x.Dims()
	specs := make([]FeatureSpec, d)
	for j := range specs {
		specs[j] = FeatureSpec{Name: string(rune('a' + j))}
	}
	sc, err := FitScaler(x, specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	z := &mat.Dense{}
	sc.Transform(z, x)
	res, err := KMeans{K: k, NInit: 4, Seed: 7}.Fit(z, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Model{Version: ModelVersion, Scaler: sc, NextID: k + 1}
	ids := make([]int, k)
	for j := range ids {
		ids[j] = j + 1
	}
	if prev != nil {
		ids, _, m.NextID, m.Changes = prev.Match(res.Centroids, sc, 0)
	}
	for j := range k {
		m.Segments = append(m.Segments, ModelSegment{ID: ids[j], Size: res.Sizes[j], Centroid: slices.Clone(res.Centroids.RawRowView(j))})
	}
	slices.SortFunc(m.Segments, func(a, b ModelSegment) int { return a.ID - b.ID })
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// idNear returns the ID of the model segment whose centroid, in original
// units, is nearest to the point p.
func idNear(m *Model, p []float64) int {
	orig := &mat.Dense{}
	m.Scaler.InverseTransform(orig, m.Centroids())
	best, bd := 0, 0.0
	for i, s := range m.Segments {
		if d := sqDist(p, orig.RawRowView(i)); i == 0 || d < bd {
			best, bd = s.ID, d
		}
	}
	return best
}

var groupCentres = [][]float64{{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}}

func TestRetrainingKeepsIDs(t *testing.T) {
	first := train(t, groupData(4000, groupCentres, 0, 1), 4, nil)
	// Another night: new draws, everyone shifted a little, more customers.
	second := train(t, groupData(5000, groupCentres, 0.3, 2), 4, first)
	for _, c := range groupCentres {
		if a, b := idNear(first, c), idNear(second, c); a != b {
			t.Errorf("group at %v: ID %d, then %d after retraining", c, a, b)
		}
	}
	if second.NextID != 5 {
		t.Errorf("next ID %d, want 5: no new segment", second.NextID)
	}
	for _, c := range second.Changes {
		if c.Change != "kept" || !(c.Shift < 0.5) {
			t.Errorf("change %+v, want every segment kept with a small shift", c)
		}
	}
}

func TestRetrainingNewGroupGetsNewID(t *testing.T) {
	first := train(t, groupData(4000, groupCentres, 0, 1), 4, nil)
	withNew := append(slices.Clone(groupCentres), []float64{10, 10, 10})
	second := train(t, groupData(5000, withNew, 0, 2), 5, first)
	for _, c := range groupCentres {
		if a, b := idNear(first, c), idNear(second, c); a != b {
			t.Errorf("group at %v: ID %d, then %d", c, a, b)
		}
	}
	if id := idNear(second, withNew[4]); id != 5 {
		t.Errorf("the new group got ID %d, want 5", id)
	}
	var news []SegmentChange
	for _, c := range second.Changes {
		if c.Change == "new" {
			news = append(news, c)
		}
	}
	if len(news) != 1 || news[0].ID != 5 || news[0].From == 0 {
		t.Errorf("changes %+v, want one new segment 5 split from its nearest predecessor", second.Changes)
	}
	if second.NextID != 6 {
		t.Errorf("next ID %d, want 6", second.NextID)
	}
	// And a group that goes away: its ID is retired, never handed out again.
	third := train(t, groupData(4000, groupCentres[:3], 0, 3), 3, second)
	var retired []int
	for _, c := range third.Changes {
		if c.Change == "retired" {
			retired = append(retired, c.ID)
		}
	}
	if len(retired) != 2 || third.NextID != 6 {
		t.Errorf("retired %v, next ID %d; want two retired IDs and next ID still 6", retired, third.NextID)
	}
}

func TestModelFileRoundTrip(t *testing.T) {
	m := train(t, groupData(1000, groupCentres, 0, 1), 4, nil)
	m.Segments[0].Name = `High-value "loyal"`
	path := filepath.Join(t.TempDir(), "model.json")
	if err := m.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(back.Centroids(), m.Centroids()) || back.Segments[0].Name != m.Segments[0].Name || !slices.Equal(back.Scaler.Scale, m.Scaler.Scale) {
		t.Error("model changed in a write and read")
	}
	// Assigning with the model read back gives the labels of the fit.
	x := groupData(1000, groupCentres, 0, 1)
	z := &mat.Dense{}
	back.Scaler.Transform(z, x)
	a, _ := Assign(nil, nil, z, back.Centroids(), 1)
	b, _ := Assign(nil, nil, z, m.Centroids(), 1)
	if !slices.Equal(a, b) {
		t.Error("a model read back assigns differently")
	}
	bad := *m
	bad.NextID = 2
	if err := bad.Validate(); err == nil {
		t.Error("a segment ID at or above next_id passed validation")
	}
}
