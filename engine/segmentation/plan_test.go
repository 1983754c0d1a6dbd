package segmentation

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// AssignRows gives the rows asked for the segments Assign gives them with
// the same model, in the order asked, over chunk boundaries; it refuses a
// matrix a training has scaled, and a model of other features.
func TestAssignRowsAsAssign(t *testing.T) {
	trained, err := TrainK(Input{Features: groups(3)}, settings(3), nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.json")
	if err := trained.Model.Write(path); err != nil {
		t.Fatal(err)
	}
	fm := groups(4)
	st := settings(3)
	st.Segmentation.Model = path
	all, err := Assign(Input{Features: groups(4)}, st)
	if err != nil {
		t.Fatal(err)
	}
	rows := []int{599, 0, 300, 17, 450, 17}
	got, err := AssignRows(trained.Model, fm, rows, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int32, len(rows))
	for i, r := range rows {
		want[i] = all.SegmentOf[r]
	}
	if !slices.Equal(got, want) {
		t.Errorf("AssignRows %v, want Assign's %v", got, want)
	}
	defer func(n int) { assignChunk = n }(assignChunk)
	assignChunk = 7 // chunks of 7 rows: the last one shorter
	every := make([]int, 600)
	for i := range every {
		every[i] = i
	}
	if got, err := AssignRows(trained.Model, fm, every, 2); err != nil || !slices.Equal(got, all.SegmentOf) {
		t.Errorf("AssignRows of every row differs from Assign (%v)", err)
	}

	other := groups(4)
	other.Specs[1].Name = "tenure_days"
	if _, err := AssignRows(trained.Model, other, rows, 1); err == nil || !strings.Contains(err.Error(), "numeric features orders, net_revenue") {
		t.Errorf("a model of other features: %v", err)
	}
	if _, err := TrainK(Input{Features: fm}, settings(3), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := AssignRows(trained.Model, fm, rows, 1); err == nil {
		t.Error("a matrix a training scaled was assigned")
	}
}
