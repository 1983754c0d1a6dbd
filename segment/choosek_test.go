package segment

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// simplexBlobs returns rows around k centres at sep·e_c (the vertices of a
// regular simplex, all pairwise sep·√2 apart) in d >= k dimensions, with
// unit Gaussian spread, and the true cluster of each row. sizes gives the
// rows per cluster.
func simplexBlobs(sizes []int, d int, sep float64, seed uint64) (*mat.Dense, []int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	n := 0
	for _, s := range sizes {
		n += s
	}
	x := mat.NewDense(n, d, nil)
	truth := make([]int, 0, n)
	for c, s := range sizes {
		for range s {
			i := len(truth)
			truth = append(truth, c)
			for j := range d {
				v := rng.NormFloat64()
				if j == c {
					v += sep
				}
				x.Set(i, j, v)
			}
		}
	}
	return x, truth
}

func equalSizes(k, each int) []int {
	s := make([]int, k)
	for i := range s {
		s[i] = each
	}
	return s
}

// bruteSilhouette is the textbook definition, row by row against all rows.
func bruteSilhouette(x *mat.Dense, labels []int, k int) float64 {
	n, _ := x.Dims()
	size := make([]int, k)
	for _, l := range labels {
		size[l]++
	}
	var total float64
	for i := range n {
		if size[labels[i]] == 1 {
			continue // s(i) = 0
		}
		sums := make([]float64, k)
		for j := range n {
			if j != i {
				sums[labels[j]] += bruteDist(x, i, j)
			}
		}
		a := sums[labels[i]] / float64(size[labels[i]]-1)
		b := math.Inf(1)
		for c := range k {
			if c != labels[i] && size[c] > 0 {
				b = math.Min(b, sums[c]/float64(size[c]))
			}
		}
		total += (b - a) / math.Max(a, b)
	}
	return total / float64(n)
}

func bruteDist(x *mat.Dense, i, j int) float64 {
	var v mat.VecDense
	v.SubVec(x.RowView(i), x.RowView(j))
	return mat.Norm(&v, 2)
}

func TestSilhouetteExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n, k = 60, 4
	x := mat.NewDense(n, 2, nil)
	labels := make([]int, n)
	for i := range n {
		labels[i] = rng.IntN(3) // cluster 3 gets a single row below
		x.Set(i, 0, rng.NormFloat64()+2*float64(labels[i]))
		x.Set(i, 1, rng.NormFloat64())
	}
	labels[17] = 3
	want := bruteSilhouette(x, labels, k)
	for _, sample := range []int{0, -1, n, 10 * n} {
		got := Silhouette(x, labels, k, sample, 1)
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("sample %d: silhouette %v, brute force %v", sample, got, want)
		}
	}
	// One non-empty cluster: undefined.
	if got := Silhouette(x, make([]int, n), 2, 0, 1); !math.IsNaN(got) {
		t.Errorf("one cluster: silhouette %v, want NaN", got)
	}
}

func TestSilhouetteSeparated(t *testing.T) {
	x, truth := simplexBlobs([]int{1500, 900, 400, 30}, 4, 40, 1)
	exact := Silhouette(x, truth, 4, 0, 1)
	if exact < 0.95 {
		t.Errorf("exact silhouette of separated blobs %v, want near 1", exact)
	}
	for _, seed := range []uint64{1, 2, 3} {
		est := Silhouette(x, truth, 4, 300, seed)
		if math.Abs(est-exact) > 0.01 {
			t.Errorf("seed %d: sampled silhouette %v, exact %v", seed, est, exact)
		}
		// Through a reference sample as well.
		if ref := silhouette(x, truth, 4, 300, 500, seed); math.Abs(ref-exact) > 0.01 {
			t.Errorf("seed %d: silhouette against a reference sample %v, exact %v", seed, ref, exact)
		}
	}
	// A wrong clustering scores lower.
	wrong := make([]int, len(truth))
	for i := range wrong {
		wrong[i] = i % 4
	}
	if w := Silhouette(x, wrong, 4, 0, 1); w > 0.1 {
		t.Errorf("random labels score %v", w)
	}
}

func TestStratifyKeepsSmallClusters(t *testing.T) {
	members := [][]int{make([]int, 5000), make([]int, 30), make([]int, 120), nil}
	for i := range members[0] {
		members[0][i] = i
	}
	for i := range members[1] {
		members[1][i] = 5000 + i
	}
	for i := range members[2] {
		members[2][i] = 5030 + i
	}
	s := stratify(members, 5150, 200, rand.New(rand.NewPCG(1, 1)))
	want := []int{194, 30, 50, 0} // round(200·5000/5150) = 194; 30 is all; floor 50
	for c := range want {
		if len(s[c]) != want[c] {
			t.Errorf("cluster %d: %d rows sampled, want %d", c, len(s[c]), want[c])
		}
		seen := map[int]bool{}
		for t2, i := range s[c] {
			if seen[i] || (t2 > 0 && i < s[c][t2-1]) {
				t.Fatalf("cluster %d: sample not distinct and sorted: %v", c, s[c])
			}
			seen[i] = true
		}
	}
}

// TestCalinskiHarabaszDaviesBouldin works both indices out by hand on seven
// points in three clusters:
//
//	C0 = (0,0) (2,0)          mean (1,0)   W0 = 1+1 = 2        S0 = 1
//	C1 = (10,0) (10,2) (10,4) mean (10,2)  W1 = 4+0+4 = 8      S1 = 4/3
//	C2 = (0,10) (0,12)        mean (0,11)  W2 = 1+1 = 2        S2 = 1
//
// Overall mean (32/7, 4); total sum of squares 1104/7 + 152 = 2168/7, so
// W = 12 and B = 2168/7 − 12 = 2084/7, and CH = (B/2)/(W/4) = 4168/84.
// Mean distances: ‖m0−m1‖ = √85, ‖m0−m2‖ = √122, ‖m1−m2‖ = √181; R01 =
// (7/3)/√85 ≈ 0.2531, R02 = 2/√122 ≈ 0.1811, R12 = (7/3)/√181 ≈ 0.1734, so
// the worst per cluster are R01, R01, R02 and DB = (2·R01 + R02)/3.
func TestCalinskiHarabaszDaviesBouldin(t *testing.T) {
	x := mat.NewDense(7, 2, []float64{0, 0, 2, 0, 10, 0, 10, 2, 10, 4, 0, 10, 0, 12})
	labels := []int{0, 0, 1, 1, 1, 2, 2}
	if got, want := CalinskiHarabasz(x, labels, 3), 4168.0/84; math.Abs(got-want) > 1e-12*want {
		t.Errorf("CH %v, want %v", got, want)
	}
	r01, r02 := (7.0/3)/math.Sqrt(85), 2/math.Sqrt(122)
	if got, want := DaviesBouldin(x, labels, 3), (2*r01+r02)/3; math.Abs(got-want) > 1e-12 {
		t.Errorf("DB %v, want %v", got, want)
	}
	// Two clusters, C0 and C1 ∪ C2 (mean (6, 5.6)), with label 2 unused:
	// W = 2 + x part (16+16+16+36+36) + y part (31.36+12.96+2.56+19.36+40.96)
	// = 229.2, B = 2168/7 − W, CH = (B/1)/(W/5).
	labels2 := []int{0, 0, 1, 1, 1, 1, 1}
	w := 2 + (16.0 + 16 + 16 + 36 + 36) + (31.36 + 12.96 + 2.56 + 19.36 + 40.96)
	b := 2168.0/7 - w
	if got, want := CalinskiHarabasz(x, labels2, 3), b*5/w; math.Abs(got-want) > 1e-9*want {
		t.Errorf("CH with two clusters %v, want %v", got, want)
	}
	// One cluster: undefined. Every row alone would be n−1 < k: undefined.
	if got := CalinskiHarabasz(x, make([]int, 7), 1); !math.IsNaN(got) {
		t.Errorf("CH of one cluster %v, want NaN", got)
	}
	if got := DaviesBouldin(x, make([]int, 7), 1); !math.IsNaN(got) {
		t.Errorf("DB of one cluster %v, want NaN", got)
	}
	// Clusters without spread: CH is 1 by convention, DB 0.
	y := mat.NewDense(4, 1, []float64{1, 1, 5, 5})
	if got := CalinskiHarabasz(y, []int{0, 0, 1, 1}, 2); got != 1 {
		t.Errorf("CH of point clusters %v, want 1", got)
	}
	if got := DaviesBouldin(y, []int{0, 0, 1, 1}, 2); got != 0 {
		t.Errorf("DB of point clusters %v, want 0", got)
	}
}

func TestStability(t *testing.T) {
	x, _ := simplexBlobs(equalSizes(3, 300), 3, 20, 5)
	if s := Stability(x, KMeans{K: 3, NInit: 3, Seed: 1}, 5, 1); s != 1 {
		t.Errorf("stability of the true k on separated blobs %v, want 1", s)
	}
	// Uniform noise has no structure: k = 7 partitions move.
	rng := rand.New(rand.NewPCG(9, 9))
	u := mat.NewDense(600, 2, nil)
	for i := range 600 {
		u.Set(i, 0, rng.Float64())
		u.Set(i, 1, rng.Float64())
	}
	if s := Stability(u, KMeans{K: 7, NInit: 1, Seed: 1}, 5, 1); s > 0.95 {
		t.Errorf("stability of k=7 on uniform noise %v, want it clearly below 1", s)
	}
	if s := Stability(x, KMeans{K: 3}, 0, 1); !math.IsNaN(s) {
		t.Errorf("no bootstraps: %v, want NaN", s)
	}
}

func TestChooseKFindsTrueK(t *testing.T) {
	for _, k := range []int{3, 5} {
		x, truth := simplexBlobs(equalSizes(k, 1500/k+50*k), k, 10, uint64(k))
		ch, err := ChooseK(x, nil, KMeans{NInit: 3, Seed: 1}, ChooseOptions{MinK: 2, MaxK: 8, MinSize: 0.02, Bootstraps: 4, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		if ch.Chosen != k {
			t.Errorf("true k=%d: chose %d (%s)", k, ch.Chosen, ch.Reason)
			for _, r := range ch.Rows {
				t.Logf("%+v", r)
			}
			continue
		}
		if len(ch.Rows) != 7 || ch.Rows[0].K != 2 || ch.Rows[6].K != 8 {
			t.Errorf("rows for k %d..%d, want 2..8", ch.Rows[0].K, ch.Rows[len(ch.Rows)-1].K)
		}
		if ari := AdjustedRandIndex(ch.Result.Labels, truth); ari != 1 {
			t.Errorf("true k=%d: chosen fit has ARI %v against the truth", k, ari)
		}
		row := ch.Rows[k-2]
		if row.Stability != 1 || row.Silhouette < 0.7 || row.Inertia != ch.Result.Inertia {
			t.Errorf("true k=%d: row %+v", k, row)
		}
		// The other indices agree on the true k.
		for _, r := range ch.Rows {
			if r.K != k && (r.CalinskiHarabasz >= row.CalinskiHarabasz || r.DaviesBouldin <= row.DaviesBouldin) {
				t.Errorf("true k=%d: k=%d has CH %v, DB %v; true k has %v, %v", k, r.K, r.CalinskiHarabasz, r.DaviesBouldin, row.CalinskiHarabasz, row.DaviesBouldin)
			}
		}
	}
}

func TestChooseKMinSize(t *testing.T) {
	// Three big blobs and a tiny far one, 1% of the rows.
	x, _ := simplexBlobs([]int{660, 660, 660, 20}, 4, 12, 4)
	opts := ChooseOptions{MinK: 2, MaxK: 6, Bootstraps: 3, Seed: 1}
	km := KMeans{NInit: 3, Seed: 1}
	free, err := ChooseK(x, nil, km, opts)
	if err != nil {
		t.Fatal(err)
	}
	if free.Chosen != 4 {
		t.Errorf("without a minimum size: chose %d (%s), want 4", free.Chosen, free.Reason)
	}
	opts.MinSize = 0.02
	ch, err := ChooseK(x, nil, km, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := ch.Rows[4-2]; r.Eligible || math.Abs(r.SmallestShare-0.01) > 1e-12 {
		t.Errorf("k=4: smallest share %v, eligible %v; want 0.01, not eligible", r.SmallestShare, r.Eligible)
	}
	if ch.Chosen != 3 {
		t.Errorf("with MinSize 0.02: chose %d (%s), want 3", ch.Chosen, ch.Reason)
	}
	// Weights move the shares: the tiny blob weighted up is eligible.
	w := make([]float64, 2000)
	for i := range w {
		w[i] = 1
		if i >= 1980 {
			w[i] = 5
		}
	}
	wch, err := ChooseK(x, w, km, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := wch.Rows[4-2]; !r.Eligible || math.Abs(r.SmallestShare-100.0/2080) > 1e-12 {
		t.Errorf("weighted k=4: smallest share %v, eligible %v; want 100/2080, eligible", r.SmallestShare, r.Eligible)
	}
	// Nothing eligible: the table, no choice, an error.
	opts.MinSize = 0.4
	none, err := ChooseK(x, nil, km, opts)
	if !errors.Is(err, ErrNoEligibleK) || none == nil || none.Chosen != 0 || none.Result != nil || len(none.Rows) != 5 {
		t.Errorf("MinSize 0.4: %v, %+v", err, none)
	}
}

func TestChooseKErrors(t *testing.T) {
	x, _ := simplexBlobs([]int{5, 5}, 2, 10, 1)
	for _, o := range []ChooseOptions{{MinK: 1, MaxK: 3}, {MinK: 4, MaxK: 3}, {MinK: 2, MaxK: 10}, {MinSize: 1}, {MinSize: -0.1}, {MinSize: math.NaN()}} {
		if _, err := ChooseK(x, nil, KMeans{}, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := ChooseK(x, []float64{1}, KMeans{}, ChooseOptions{MaxK: 3}); err == nil {
		t.Error("bad weights: no error")
	}
}

func TestPickKRule(t *testing.T) {
	rows := []KRow{
		{K: 2, Silhouette: 0.60, Stability: 0.95, Eligible: true},
		{K: 3, Silhouette: 0.70, Stability: 0.70, Eligible: true},  // best silhouette, unstable
		{K: 4, Silhouette: 0.66, Stability: 0.90, Eligible: true},  // tie within 0.005 with k=5
		{K: 5, Silhouette: 0.664, Stability: 0.85, Eligible: true}, // best among stable
		{K: 6, Silhouette: 0.90, Stability: 0.99, Eligible: false}, // too small a cluster
	}
	if k, why := pickK(rows, 0.02, true); k != 4 {
		t.Errorf("chose %d (%s), want 4", k, why)
	}
	if k, why := pickK(rows, 0.02, false); k != 3 {
		t.Errorf("without stability: chose %d (%s), want 3", k, why)
	}
	// None stable: those within 0.05 of the best stability (k=2, 3).
	for i := range rows {
		rows[i].Stability -= 0.3
	}
	rows[1].Stability = 0.62
	if k, why := pickK(rows, 0.02, true); k != 3 {
		t.Errorf("none stable: chose %d (%s), want 3", k, why)
	}
}

// TestChooseKDeterministic runs ChooseK on more rows than one chunk and a
// sampled silhouette under GOMAXPROCS 1 and 2: identical results.
func TestChooseKDeterministic(t *testing.T) {
	x, _ := simplexBlobs(equalSizes(4, 1300), 4, 3, 8) // overlapping: many iterations
	run := func() *KChoice {
		ch, err := ChooseK(x, nil, KMeans{NInit: 2, Seed: 3}, ChooseOptions{MinK: 2, MaxK: 5, SilhouetteSample: 800, Bootstraps: 2, Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	one := run()
	oneRef := silhouette(x, one.Result.Labels, one.Chosen, 700, 1500, 5)
	runtime.GOMAXPROCS(2)
	two := run()
	twoRef := silhouette(x, two.Result.Labels, two.Chosen, 700, 1500, 5)
	if !reflect.DeepEqual(one, two) {
		t.Errorf("GOMAXPROCS 1 and 2 differ:\n%+v\n%+v", one.Rows, two.Rows)
	}
	if oneRef != twoRef {
		t.Errorf("silhouette against a reference sample: %v and %v", oneRef, twoRef)
	}
}

// TestFiguresAreChooseKRows: the figures of one clustering are the row
// ChooseK records for its k, stability apart, and follow the sample and
// seed they are given.
func TestFiguresAreChooseKRows(t *testing.T) {
	x, _ := simplexBlobs([]int{900, 700, 400}, 3, 4, 2)
	km := KMeans{NInit: 2, Seed: 3}
	opts := ChooseOptions{MinK: 3, MaxK: 3, MinSize: 0.1, SilhouetteSample: 600, Bootstraps: 2, Seed: 4}
	ch, err := ChooseK(x, nil, km, opts)
	if err != nil {
		t.Fatal(err)
	}
	km.K = 3
	res, err := km.Fit(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := Figures(x, nil, res.Labels, 3, res.Inertia, opts)
	if !math.IsNaN(got.Stability) {
		t.Errorf("stability %v, want NaN", got.Stability)
	}
	want := ch.Rows[0]
	got.Stability = want.Stability
	if got != want {
		t.Errorf("Figures = %+v, ChooseK's row %+v", got, want)
	}
	if s := Silhouette(x, res.Labels, 3, 600, 4); got.Silhouette != s {
		t.Errorf("silhouette %v, want %v (sample 600, seed 4)", got.Silhouette, s)
	}
	if other := Figures(x, nil, res.Labels, 3, res.Inertia, ChooseOptions{SilhouetteSample: 600, Seed: 5}); other.Silhouette == got.Silhouette {
		t.Errorf("silhouette %v with seed 5 as with seed 4: the seed is not used", other.Silhouette)
	}
	if exact := Figures(x, nil, res.Labels, 3, res.Inertia, ChooseOptions{SilhouetteSample: -1}); exact.Silhouette != Silhouette(x, res.Labels, 3, 0, 0) {
		t.Errorf("negative sample: silhouette %v, want the exact one", exact.Silhouette)
	}
}
