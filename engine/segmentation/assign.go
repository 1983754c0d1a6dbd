package segmentation

import (
	"errors"
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
		return nil, explainModelError(err, st.Segmentation)
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
// order), before any row is read; Assign checks the same on the matrix. A
// mismatch says whether the configuration or the inputs differ from the
// model.
// Every error is a *config.ConfigError.
func CheckModel(sg config.Segmentation, numeric []segment.FeatureSpec) error {
	m, err := segment.ReadModel(sg.Model)
	if err != nil {
		return modelError(err)
	}
	return explainModelError(sameNumeric(numeric, m.Scaler), sg)
}

// explainModelError is err as a *config.ConfigError, a feature mismatch
// explained against the configuration; nil stays nil.
func explainModelError(err error, sg config.Segmentation) error {
	var fe *featureMismatch
	if errors.As(err, &fe) {
		return modelError(fe.explain(sg))
	}
	if err != nil {
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
		return &featureMismatch{model: want, run: got}
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

// featureMismatch is a model trained on other numeric features than the
// run's, in name or order.
type featureMismatch struct {
	model, run []string
}

func (e *featureMismatch) Error() string {
	return fmt.Sprintf("the model was trained on the numeric features %s, and this run has %s: run it with the model's segmentation.features",
		list(e.model), list(e.run))
}

// explain says where a run's features part from the model's: the
// configuration's segmentation.features (or the default set, when it lists
// none) naming others than the model file's, the missing and the extra
// ones; or, where they name the model's, the features the inputs do not
// supply, with the input column each needs.
func (e *featureMismatch) explain(sg config.Segmentation) error {
	configured, source := sg.Features, "the configuration's segmentation.features list"
	if len(configured) == 0 {
		configured, source = config.DefaultFeatures, "the configuration lists no segmentation.features, so the run takes the default set"
	}
	var names []string
	for _, f := range configured {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, e.model) {
		var diff []string
		if missing := without(e.model, names); len(missing) > 0 {
			diff = append(diff, "missing the model's "+list(missing))
		}
		if extra := without(names, e.model); len(extra) > 0 {
			diff = append(diff, "with "+list(extra)+", which the model does not have")
		}
		if len(diff) == 0 {
			diff = append(diff, "in another order")
		}
		return fmt.Errorf("the model file %s was trained on the features %s; %s %s: %s. List the model's features, in its order, in segmentation.features, or train a model on the configuration's",
			sg.Model, list(e.model), source, list(names), strings.Join(diff, ", "))
	}
	var lacking []string
	for _, f := range without(e.model, e.run) {
		if need := config.CustomerFeatures[f]; need != "" {
			lacking = append(lacking, fmt.Sprintf("%s (it needs input column %s)", f, need))
		} else {
			lacking = append(lacking, f)
		}
	}
	return fmt.Errorf("the model file %s was trained on the features %s, as the configuration asks, but these inputs do not supply %s: "+
		"run it on inputs that have the column, or use a model trained without the feature", sg.Model, list(e.model), strings.Join(lacking, ", "))
}

// without is the names of a not in b, in a's order.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func list(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
