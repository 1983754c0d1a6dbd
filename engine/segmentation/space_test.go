package segmentation

import (
	"strconv"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/segment"
)

// The feature space is the numeric features in order with their scaling,
// the sparse families with their weights, and the clip: the values of a
// sparse family may change from run to run within the same space.
func TestFeatureSpaceDiff(t *testing.T) {
	base := []segment.FeatureSpec{{Name: "recency_days", Transform: "log1p"}, {Name: "orders"}, {Name: "category=a", Method: "none", Weight: 2},
		{Name: "category=b", Method: "none", Weight: 2}}
	prev := &segment.Scaler{Features: base, Clip: 5}
	for _, c := range []struct {
		name  string
		specs []segment.FeatureSpec
		clip  float64
		want  string // the differences, joined by "; "
	}{
		{"same", base, 5, ""},
		{"weight 1 given", []segment.FeatureSpec{base[0], {Name: "orders", Weight: 1}, base[2], base[3]}, 5, ""},
		{"other category values", []segment.FeatureSpec{base[0], base[1], {Name: "category=c", Method: "none", Weight: 2}}, 5, ""},
		{"fewer features", base[1:], 5, "feature recency_days only in the previous model"},
		{"another feature", []segment.FeatureSpec{base[0], {Name: "monetary"}, base[2]}, 5,
			"feature orders only in the previous model; feature monetary only in this run"},
		{"other order", []segment.FeatureSpec{base[1], base[0], base[2]}, 5, "features in another order: orders, recency_days, previously recency_days, orders"},
		{"other transform", []segment.FeatureSpec{{Name: "recency_days"}, base[1], base[2]}, 5,
			"feature recency_days: transform none, method none, weight 1, previously transform log1p, method none, weight 1"},
		{"sparse weight", []segment.FeatureSpec{base[0], base[1], {Name: "category=a", Method: "none", Weight: 1}}, 5, "columns category=*: weight 1, previously 2"},
		{"no sparse", base[:2], 5, "columns category=* only in the previous model"},
		{"clip", base, 0, "outlier_clip 0, previously 5"},
	} {
		if got := strings.Join(FeatureSpaceDiff(prev, c.specs, c.clip), "; "); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// A training whose previous model is of another feature space numbers its
// segments afresh above the floor, as a first training does, instead of
// matching them.
func TestTrainKAcrossFeatureSpaces(t *testing.T) {
	st := settings(3)
	first, err := TrainK(Input{Features: groups(1)}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	same, err := TrainK(Input{Features: groups(2), Previous: first.Model, IDFloor: 3}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if same.Quality.Source != "retrained" || ids(same) != "1 2 3" {
		t.Errorf("same space: source %s, IDs %s; want retrained, 1 2 3", same.Quality.Source, ids(same))
	}
	fm := groups(2)
	fm.Specs[1].Weight = 3
	other, err := TrainK(Input{Features: fm, Previous: first.Model, IDFloor: 3}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if other.Quality.Source != "trained" || ids(other) != "4 5 6" {
		t.Errorf("other space: source %s, IDs %s; want trained, 4 5 6", other.Quality.Source, ids(other))
	}
}

func ids(o *Outcome) string {
	var s []string
	for _, sg := range o.Segments {
		s = append(s, strconv.Itoa(sg.ID))
	}
	return strings.Join(s, " ")
}
