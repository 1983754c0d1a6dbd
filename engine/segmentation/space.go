package segmentation

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/crmseg/crmseg/segment"
)

// FeatureSpaceDiff says how the feature space of a model (its scaler)
// differs from that of features specs scaled with outlier clip clip: the
// numeric features in order, each with its transform, method and weight;
// the families of sparse columns (the part of "dimension=value" before
// '=') with their weight, whatever values the data has; and the clip.
// Empty when they are the same space: only then are segments matched
// across the two, and hysteresis applied.
func FeatureSpaceDiff(model *segment.Scaler, specs []segment.FeatureSpec, clip float64) []string {
	prevNum, prevSparse := splitSpace(model.Features)
	num, sparse := splitSpace(specs)
	var diff []string
	prevNames, names := featureNames(prevNum), featureNames(num)
	for _, n := range prevNames {
		if !slices.Contains(names, n) {
			diff = append(diff, "feature "+n+" only in the previous model")
		}
	}
	for _, n := range names {
		if !slices.Contains(prevNames, n) {
			diff = append(diff, "feature "+n+" only in this run")
		}
	}
	if len(diff) == 0 && !slices.Equal(prevNames, names) {
		diff = append(diff, fmt.Sprintf("features in another order: %s, previously %s", strings.Join(names, ", "), strings.Join(prevNames, ", ")))
	}
	for _, f := range num {
		i := slices.IndexFunc(prevNum, func(p segment.FeatureSpec) bool { return p.Name == f.Name })
		if i >= 0 && describe(prevNum[i]) != describe(f) {
			diff = append(diff, fmt.Sprintf("feature %s: %s, previously %s", f.Name, describe(f), describe(prevNum[i])))
		}
	}
	for _, dim := range slices.Sorted(maps.Keys(prevSparse)) {
		if _, ok := sparse[dim]; !ok {
			diff = append(diff, "columns "+dim+"=* only in the previous model")
		}
	}
	for _, dim := range slices.Sorted(maps.Keys(sparse)) {
		w, ok := prevSparse[dim]
		switch {
		case !ok:
			diff = append(diff, "columns "+dim+"=* only in this run")
		case w != sparse[dim]:
			diff = append(diff, fmt.Sprintf("columns %s=*: weight %g, previously %g", dim, sparse[dim], w))
		}
	}
	if model.Clip != clip {
		diff = append(diff, fmt.Sprintf("outlier_clip %g, previously %g", clip, model.Clip))
	}
	return diff
}

// splitSpace splits feature specs into the numeric ones, in order, and the
// weight of each family of sparse columns.
func splitSpace(specs []segment.FeatureSpec) ([]segment.FeatureSpec, map[string]float64) {
	var num []segment.FeatureSpec
	sparse := map[string]float64{}
	for _, f := range specs {
		if dim, _, ok := strings.Cut(f.Name, "="); ok {
			sparse[dim] = weightOf(f)
			continue
		}
		num = append(num, f)
	}
	return num, sparse
}

func featureNames(specs []segment.FeatureSpec) []string {
	names := make([]string, len(specs))
	for i, f := range specs {
		names[i] = f.Name
	}
	return names
}

// weightOf is a feature's weight: 0 stands for a weight not given, 1.
func weightOf(f segment.FeatureSpec) float64 {
	if f.Weight == 0 {
		return 1
	}
	return f.Weight
}

// describe is how a numeric feature is scaled, as the difference names it.
func describe(f segment.FeatureSpec) string {
	return fmt.Sprintf("transform %s, method %s, weight %g", orNone(string(f.Transform)), orNone(string(f.Method)), weightOf(f))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// sameSpace is in without its previous model (and the previous run's
// assignment, which hysteresis compares with) when the model's feature
// space is not the run's (FeatureSpaceDiff): its segments would be
// matched, and named, across spaces that have nothing to do with each
// other. The segments then get new IDs, and the log says why.
func (in Input) sameSpace(st Settings) Input {
	if in.Previous == nil || in.Previous.Scaler == nil {
		return in
	}
	diff := FeatureSpaceDiff(in.Previous.Scaler, in.Features.Specs, st.Segmentation.OutlierClip)
	if len(diff) == 0 {
		return in
	}
	st.log().Warn("segments not matched to the previous model, whose feature space differs from this run's: they get new IDs and names",
		"previous_model_run_id", in.Previous.RunID, "differences", strings.Join(diff, "; "))
	in.Previous, in.PreviousAssignment = nil, nil
	return in
}
