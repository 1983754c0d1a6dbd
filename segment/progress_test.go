package segment

import (
	"slices"
	"testing"
)

// TestProgressHook checks that Progress is told of every restart, in
// order, and that watching does not change the fit.
func TestProgressHook(t *testing.T) {
	x, _ := blobs(600, 3, 4, 6, 1)
	for _, alg := range []Algorithm{Lloyd, Hamerly, MiniBatch} {
		km := KMeans{K: 3, NInit: 5, Seed: 9, Algorithm: alg}
		plain, err := km.Fit(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		var calls [][2]int
		km.Progress = func(done, total int) { calls = append(calls, [2]int{done, total}) }
		watched, err := km.Fit(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := [][2]int{{1, 5}, {2, 5}, {3, 5}, {4, 5}, {5, 5}}
		if !slices.Equal(calls, want) {
			t.Errorf("%s: progress calls %v, want %v", alg, calls, want)
		}
		if watched.Inertia != plain.Inertia || !slices.Equal(watched.Labels, plain.Labels) || !slices.Equal(watched.Inertias, plain.Inertias) {
			t.Errorf("%s: the fit changed when watched: inertia %v vs %v", alg, watched.Inertia, plain.Inertia)
		}
	}
}
