package segmentation

import (
	"fmt"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/segment"
)

// Assign assigns every customer to the nearest segment of the model file
// segmentation.model, without training: the segments keep the model's IDs
// and names, and the run's model is the given one, as it was. A model that
// cannot be read, or was trained on other numeric features, is a
// *config.ConfigError.
func Assign(in Input, st Settings) (*Outcome, error) {
	m, err := segment.ReadModel(st.Segmentation.Model)
	if err != nil {
		return nil, modelError(err)
	}
	z, err := alignFeatures(in.Features, m.Scaler)
	if err != nil {
		return nil, modelError(err)
	}
	centroids := m.Centroids()
	labels, dist := segment.Assign(nil, nil, z, centroids, st.Threads)
	k := len(m.Segments)
	res := &segment.Result{Centroids: centroids, Labels: labels, Distances: dist, Sizes: make([]int, k), Converged: true}
	for i, l := range labels {
		res.Sizes[l]++
		res.Inertia += dist[i]
	}
	c := &clustering{z: z, scaler: m.Scaler, res: res, algorithm: "assign", source: "model",
		kRows: []segment.KRow{st.figures(z, labels, res.Inertia, k)}, chosen: k, nextID: m.NextID, given: m}
	for _, s := range m.Segments {
		c.ids = append(c.ids, s.ID)
		c.names = append(c.names, s.Name)
		c.changes = append(c.changes, segment.SegmentChange{ID: s.ID, Change: "kept", Name: s.Name})
	}
	return finish(c, in, st)
}

func modelError(err error) error {
	return &config.ConfigError{Problems: []string{"segmentation.model: " + err.Error()}}
}

// CheckModel reads the model file segmentation.model and checks that it
// was trained on the numeric features a run clusters on (numeric, in
// order), before any row is read; Assign checks the same on the matrix.
// Every error is a *config.ConfigError.
func CheckModel(path string, numeric []segment.FeatureSpec) error {
	m, err := segment.ReadModel(path)
	if err != nil {
		return modelError(err)
	}
	if err := sameNumeric(numeric, m.Scaler); err != nil {
		return modelError(err)
	}
	return nil
}

// sameNumeric checks that the numeric features of specs are the model's,
// in its order: the segments' profiles and centroids are described in
// them. One-hot and share columns ("dimension=value") may differ.
func sameNumeric(specs []segment.FeatureSpec, scaler *segment.Scaler) error {
	numeric := func(specs []segment.FeatureSpec) []string {
		var names []string
		for _, f := range specs {
			if !strings.Contains(f.Name, "=") {
				names = append(names, f.Name)
			}
		}
		return names
	}
	if got, want := numeric(specs), numeric(scaler.Features); !slices.Equal(got, want) {
		return fmt.Errorf("the model was trained on the numeric features %s, and this run has %s: run it with the model's segmentation.features",
			strings.Join(want, ", "), strings.Join(got, ", "))
	}
	return nil
}

// alignFeatures builds the scaled matrix of the model's features from the
// run's features, by name. A one-hot or share column the run does not have
// is 0 for everyone; a numeric feature it does not have is an error.
func alignFeatures(fm *FeatureMatrix, scaler *segment.Scaler) (*mat.Dense, error) {
	n, _ := fm.X.Dims()
	have := map[string]int{}
	for j, s := range fm.Specs {
		have[s.Name] = j
	}
	if err := sameNumeric(fm.Specs, scaler); err != nil {
		return nil, err
	}
	x := mat.NewDense(n, len(scaler.Features), nil)
	for j, f := range scaler.Features {
		src, ok := have[f.Name]
		if !ok {
			continue // a one-hot or share column the run does not have
		}
		for i := range n {
			x.Set(i, j, fm.X.At(i, src))
		}
	}
	scaler.Transform(x, x)
	return x, nil
}
