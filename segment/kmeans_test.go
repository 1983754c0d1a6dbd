package segment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/mat"
)

// blobs returns n points around k centres spaced sep apart in d dimensions,
// with unit spread, and the true cluster of each point.
func blobs(n, k, d int, sep float64, seed uint64) (*mat.Dense, []int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = sep * rng.NormFloat64()
		}
	}
	x := mat.NewDense(n, d, nil)
	truth := make([]int, n)
	for i := range n {
		c := i % k
		truth[i] = c
		for j := range d {
			x.Set(i, j, centres[c][j]+rng.NormFloat64())
		}
	}
	return x, truth
}

func TestRecoversSeparatedBlobs(t *testing.T) {
	for _, k := range []int{2, 5, 8} {
		x, truth := blobs(5000, k, 6, 20, uint64(k))
		res, err := KMeans{K: k, Seed: 1}.Fit(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ari := AdjustedRandIndex(res.Labels, truth); ari != 1 {
			t.Errorf("k=%d: ARI %v, want 1", k, ari)
		}
		if !res.Converged {
			t.Errorf("k=%d: not converged after %d iterations", k, res.Iterations)
		}
		if len(res.Inertias) != 10 || res.Inertia != slices.Min(res.Inertias) {
			t.Errorf("k=%d: kept inertia %v is not the least of %v", k, res.Inertia, res.Inertias)
		}
		var sum float64
		for i, d := range res.Distances {
			sum += d
			c := res.Centroids.RawRowView(res.Labels[i])
			if want := sqDist(x.RawRowView(i), c); math.Abs(want-d) > 1e-9*want {
				t.Fatalf("row %d: distance %v, want %v to its own centroid", i, d, want)
			}
		}
		if !scalar.EqualWithinRel(sum, res.Inertia, 1e-12) {
			t.Errorf("inertia %v, sum of distances %v", res.Inertia, sum)
		}
	}
}

// TestSameResultAnyThreads checks the result is bit-identical whatever the
// number of threads or GOMAXPROCS: work is split in fixed chunks and
// reduced in chunk order.
func TestSameResultAnyThreads(t *testing.T) {
	x, _ := blobs(3*chunkRows+17, 6, 5, 2, 3) // overlapping blobs: many iterations
	fit := func(threads int) *Result {
		res, err := KMeans{K: 6, NInit: 3, Seed: 42, Threads: threads}.Fit(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	ref := fit(1)
	if ref.Iterations < 3 {
		t.Fatalf("only %d iterations: the data does not exercise the loop", ref.Iterations)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		for _, threads := range []int{0, 2, 7} {
			got := fit(threads)
			if !slices.Equal(got.Labels, ref.Labels) || !slices.Equal(got.Centroids.RawMatrix().Data, ref.Centroids.RawMatrix().Data) ||
				got.Inertia != ref.Inertia || !slices.Equal(got.Inertias, ref.Inertias) || got.Iterations != ref.Iterations {
				t.Errorf("GOMAXPROCS %d, threads %d: result differs from the 1-thread result", procs, threads)
			}
		}
	}
}

// TestInertiaNeverRises runs the same restart for 1, 2, 3, ... iterations:
// Lloyd's steps can only lower the inertia.
func TestInertiaNeverRises(t *testing.T) {
	x, _ := blobs(4000, 7, 4, 1.5, 5)
	prev := math.Inf(1)
	for it := 1; it <= 30; it++ {
		res, err := KMeans{K: 7, NInit: 1, MaxIter: it, Tol: 1e-300, Seed: 9}.Fit(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Inertia > prev*(1+1e-12) {
			t.Fatalf("inertia rose from %v to %v at iteration %d", prev, res.Inertia, it)
		}
		prev = res.Inertia
		if res.Converged {
			break
		}
	}
}

func TestWeightsEqualDuplicatedRows(t *testing.T) {
	x, _ := blobs(600, 3, 3, 12, 11)
	var dup [][]float64
	w := make([]float64, 600)
	for i := range 600 {
		w[i] = float64(1 + i%3)
		for range int(w[i]) {
			dup = append(dup, x.RawRowView(i))
		}
	}
	xd := mat.NewDense(len(dup), 3, slices.Concat(dup...))
	a, err := KMeans{K: 3, Seed: 1}.Fit(x, w)
	if err != nil {
		t.Fatal(err)
	}
	b, err := KMeans{K: 3, Seed: 2}.Fit(xd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !scalar.EqualWithinRel(a.Inertia, b.Inertia, 1e-9) {
		t.Errorf("weighted inertia %v, duplicated-rows inertia %v", a.Inertia, b.Inertia)
	}
	// Same centroids up to order.
	ca, cb := centroidRows(a.Centroids), centroidRows(b.Centroids)
	for i := range ca {
		if !floats.EqualApprox(ca[i], cb[i], 1e-9) {
			t.Errorf("centroid %d: weighted %v, duplicated %v", i, ca[i], cb[i])
		}
	}
}

func centroidRows(c *mat.Dense) [][]float64 {
	r, _ := c.Dims()
	rows := make([][]float64, r)
	for i := range rows {
		rows[i] = slices.Clone(c.RawRowView(i))
	}
	slices.SortFunc(rows, func(a, b []float64) int { return slices.Compare(a, b) })
	return rows
}

func TestEmptyClusterRepair(t *testing.T) {
	// From centres 0, 10 and 1000, the third cluster gets no row; it is
	// re-seeded with the row farthest from its centroid: of 1 and 11, both
	// at distance 1, the lower index.
	x := mat.NewDense(6, 1, []float64{0, 0, 1, 10, 10, 11})
	p := newProblem(x, nil, 1)
	res := p.lloyd([]float64{0, 10, 1000}, 100, 0, false)
	if res.EmptyRepairs != 1 {
		t.Errorf("%d repairs, want 1", res.EmptyRepairs)
	}
	if want := []int{0, 0, 2, 1, 1, 1}; !slices.Equal(res.Labels, want) {
		t.Errorf("labels %v, want %v", res.Labels, want)
	}
	if got := mat.Col(nil, 0, res.Centroids); !floats.EqualApprox(got, []float64{0, 31.0 / 3, 1}, 1e-12) {
		t.Errorf("centroids %v", got)
	}
}

func TestFitErrors(t *testing.T) {
	x := mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 6})
	nan := mat.NewDense(3, 2, []float64{1, 2, math.NaN(), 4, 5, 6})
	cases := []struct {
		km KMeans
		x  *mat.Dense
		w  []float64
	}{
		{KMeans{K: 0}, x, nil},
		{KMeans{K: 4}, x, nil},
		{KMeans{K: 2}, nan, nil},
		{KMeans{K: 2}, x, []float64{1, -1, 1}},
		{KMeans{K: 2}, x, []float64{1, 1}},
		{KMeans{K: 2, NInit: -1}, x, nil},
	}
	for i, c := range cases {
		if _, err := c.km.Fit(c.x, c.w); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

func TestAssignMatchesFit(t *testing.T) {
	x, _ := blobs(5000, 4, 3, 3, 17)
	res, err := KMeans{K: 4, Seed: 5}.Fit(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	labels, dist := Assign(nil, nil, x, res.Centroids, 2)
	if !slices.Equal(labels, res.Labels) || !slices.Equal(dist, res.Distances) {
		t.Error("Assign with the fitted centroids disagrees with the fit's labels")
	}
}

func TestAdjustedRandIndex(t *testing.T) {
	cases := []struct {
		a, b []int
		want float64
	}{
		{[]int{0, 0, 1, 1}, []int{0, 0, 1, 1}, 1},
		{[]int{0, 0, 1, 1}, []int{5, 5, 3, 3}, 1}, // relabelled
		// Worked by hand: contingency [[2 1 0] [0 1 2]]: index 2, row pairs 6,
		// column pairs 3, expected 6·3/15 = 1.2, max 4.5: (2−1.2)/(4.5−1.2).
		{[]int{0, 0, 0, 1, 1, 1}, []int{0, 0, 1, 1, 2, 2}, 0.8 / 3.3},
		{[]int{0, 0, 1, 1}, []int{0, 1, 0, 1}, -0.5},
		{[]int{0, 0, 0}, []int{1, 1, 1}, 1},
	}
	for _, c := range cases {
		if got := AdjustedRandIndex(c.a, c.b); !scalar.EqualWithinAbs(got, c.want, 1e-12) {
			t.Errorf("ARI(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	// From the table: the hand-worked case above, and ragged rows.
	if got := AdjustedRandIndexTable([][]int64{{2, 1, 0}, {0, 1, 2}}); !scalar.EqualWithinAbs(got, 0.8/3.3, 1e-12) {
		t.Errorf("ARI of [[2 1 0] [0 1 2]] = %v, want %v", got, 0.8/3.3)
	}
	if got := AdjustedRandIndexTable([][]int64{{3}, {0, 3}}); got != 1 {
		t.Errorf("ARI of a diagonal table with a ragged row = %v, want 1", got)
	}
}

func TestScaler(t *testing.T) {
	x := mat.NewDense(5, 4, []float64{
		1, 0, 5, 7,
		2, 1, 5, -1,
		3, 3, 5, 2,
		4, 7, 5, 9,
		5, 15, 5, 0,
	})
	specs := []FeatureSpec{
		{Name: "a"},
		{Name: "b", Transform: TransformLog1p},
		{Name: "const"},
		{Name: "c", Method: MethodRobust, Weight: 2},
	}
	s, err := FitScaler(x, specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	// a: mean 3, population sd √2. const: scale 1. c: median 2, IQR 7−0 = 7.
	want := []struct{ center, scale float64 }{{3, math.Sqrt2}, {-1, -1}, {5, 1}, {2, 7}}
	for j, w := range want {
		if w.scale < 0 {
			continue
		}
		if !scalar.EqualWithinAbs(s.Center[j], w.center, 1e-12) || !scalar.EqualWithinAbs(s.Scale[j], w.scale, 1e-12) {
			t.Errorf("%s: center %v scale %v, want %v %v", specs[j].Name, s.Center[j], s.Scale[j], w.center, w.scale)
		}
	}
	z := &mat.Dense{}
	s.Transform(z, x)
	if got := z.At(3, 3); !scalar.EqualWithinAbs(got, (9.0-2)/7*2, 1e-12) {
		t.Errorf("robust weighted value %v, want %v", got, (9.0-2)/7*2)
	}
	if got := z.At(0, 1); !scalar.EqualWithinAbs(got, (0-s.Center[1])/s.Scale[1], 1e-12) {
		t.Errorf("log1p(0) scaled to %v", got)
	}
	back := &mat.Dense{}
	s.InverseTransform(back, z)
	if !mat.EqualApprox(back, x, 1e-12) {
		t.Errorf("inverse transform does not round-trip:\n%v", mat.Formatted(back))
	}
	// Negative values survive log1p both ways.
	neg := mat.NewDense(2, 1, []float64{-3, 3})
	sn, _ := FitScaler(neg, []FeatureSpec{{Name: "n", Transform: TransformLog1p, Method: MethodNone}}, nil)
	zn := &mat.Dense{}
	sn.Transform(zn, neg)
	if !scalar.EqualWithinAbs(zn.At(0, 0), -math.Log(4), 1e-12) {
		t.Errorf("log1p(-3) = %v, want -log 4", zn.At(0, 0))
	}

	if _, err := FitScaler(mat.NewDense(2, 1, []float64{1, math.Inf(1)}), []FeatureSpec{{Name: "spend"}}, nil); err == nil {
		t.Error("no error for an infinite value")
	}
	if _, err := FitScaler(x, specs[:2], nil); err == nil {
		t.Error("no error for too few specs")
	}
	if _, err := FitScaler(x, []FeatureSpec{{Name: "a", Method: "zscore"}, specs[1], specs[2], specs[3]}, nil); err == nil {
		t.Error("no error for an unknown method")
	}
}

func ExampleKMeans_Fit() {
	x := mat.NewDense(6, 2, []float64{
		1, 1, 1.2, 0.8, 0.9, 1.1,
		8, 8, 8.1, 7.9, 7.8, 8.2,
	})
	res, err := KMeans{K: 2, Seed: 1}.Fit(x, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("same cluster:", res.Labels[0] == res.Labels[1], res.Labels[3] == res.Labels[4], res.Labels[0] != res.Labels[3])
	fmt.Printf("inertia %.3f, converged %v\n", res.Inertia, res.Converged)
	// Output:
	// same cluster: true true true
	// inertia 0.187, converged true
}

func ExampleAdjustedRandIndex() {
	truth := []int{0, 0, 0, 1, 1, 1}
	found := []int{7, 7, 7, 3, 3, 3} // the same partition, other labels
	fmt.Println(AdjustedRandIndex(truth, found))
	// Output: 1
}

func ExampleAdjustedRandIndexTable() {
	// 4 customers in segment 1 of one run, 2 in segment 2; the other run
	// splits the first into two. Index 3, row pairs 7, column pairs 3:
	// (3 − 7·3/15) / ((7 + 3)/2 − 7·3/15) = 1.6/3.6.
	table := [][]int64{
		{2, 2, 0},
		{0, 0, 2},
	}
	fmt.Printf("%.3f\n", AdjustedRandIndexTable(table))
	// Output: 0.444
}

func ExampleFitScaler() {
	spend := mat.NewDense(4, 1, []float64{0, 9, 99, 999})
	s, _ := FitScaler(spend, []FeatureSpec{{Name: "spend", Transform: TransformLog1p}}, nil)
	z := &mat.Dense{}
	s.Transform(z, spend)
	fmt.Printf("%.3f\n", mat.Col(nil, 0, z))
	// Output: [-1.342 -0.447 0.447 1.342]
}

func BenchmarkKMeans(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		if n == 1_000_000 && testing.Short() {
			continue
		}
		x, _ := blobs(n, 8, 12, 3, 1)
		for _, a := range []Algorithm{Lloyd, Hamerly, MiniBatch} {
			b.Run(fmt.Sprintf("n=%d/d=12/k=8/%s", n, a), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := (KMeans{K: 8, NInit: 1, Seed: 1, Algorithm: a}).Fit(x, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestHamerlyMatchesLloyd checks the accelerated iteration gives Lloyd's
// result bit for bit from the same seeding: labels, centroids, inertia and
// iteration count, on data that takes many iterations, with weights, and
// with more clusters than the data has groups (so that bounds are tight).
func TestHamerlyMatchesLloyd(t *testing.T) {
	cases := []struct {
		n, k, d, groups int
		sep             float64
		weighted        bool
	}{
		{5000, 6, 5, 6, 1.5, false},
		{5000, 10, 3, 4, 2, true},
		{3*chunkRows + 5, 4, 12, 8, 0.5, false},
		{2000, 2, 1, 2, 4, true},
		{500, 25, 2, 3, 1, false},
	}
	for ci, c := range cases {
		x, _ := blobs(c.n, c.groups, c.d, c.sep, uint64(ci))
		var w []float64
		if c.weighted {
			rng := rand.New(rand.NewPCG(7, uint64(ci)))
			w = make([]float64, c.n)
			for i := range w {
				w[i] = float64(rng.IntN(4)) // zeros included
			}
		}
		fit := func(a Algorithm) *Result {
			res, err := KMeans{K: c.k, NInit: 3, Seed: uint64(ci), Algorithm: a, Tol: 1e-8}.Fit(x, w)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		lloyd, ham := fit(Lloyd), fit(Hamerly)
		if lloyd.Iterations < 5 {
			t.Errorf("case %d: only %d iterations, the case does not exercise the bounds", ci, lloyd.Iterations)
		}
		if !slices.Equal(lloyd.Labels, ham.Labels) || !slices.Equal(lloyd.Centroids.RawMatrix().Data, ham.Centroids.RawMatrix().Data) ||
			lloyd.Inertia != ham.Inertia || !slices.Equal(lloyd.Inertias, ham.Inertias) || lloyd.Iterations != ham.Iterations ||
			lloyd.EmptyRepairs != ham.EmptyRepairs || lloyd.Converged != ham.Converged {
			t.Errorf("case %d: Hamerly (inertia %v, %d iterations) differs from Lloyd (inertia %v, %d iterations)",
				ci, ham.Inertia, ham.Iterations, lloyd.Inertia, lloyd.Iterations)
		}
	}
}

// TestHamerlyEmptyClusterRepair drives both iterations through the repair
// of an empty cluster: duplicated points and more clusters than distinct
// places to put them.
func TestHamerlyEmptyClusterRepair(t *testing.T) {
	x := mat.NewDense(12, 1, []float64{0, 0, 0, 0, 1, 1, 1, 1, 10, 10, 10, 50})
	for seed := range uint64(20) {
		var res [2]*Result
		for i, a := range []Algorithm{Lloyd, Hamerly} {
			r, err := KMeans{K: 4, NInit: 1, Seed: seed, Algorithm: a}.Fit(x, nil)
			if err != nil {
				t.Fatal(err)
			}
			res[i] = r
		}
		if !slices.Equal(res[0].Labels, res[1].Labels) || res[0].Inertia != res[1].Inertia || res[0].EmptyRepairs != res[1].EmptyRepairs {
			t.Errorf("seed %d: Lloyd %v (%d repairs), Hamerly %v (%d repairs)", seed, res[0].Labels, res[0].EmptyRepairs, res[1].Labels, res[1].EmptyRepairs)
		}
	}
}

func TestMiniBatch(t *testing.T) {
	x, truth := blobs(40_000, 6, 8, 12, 21)
	full, err := KMeans{K: 6, NInit: 3, Seed: 2}.Fit(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	fit := func(threads int) *Result {
		res, err := KMeans{K: 6, NInit: 3, Seed: 2, Algorithm: MiniBatch, BatchSize: 512, Threads: threads}.Fit(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	mb := fit(1)
	if ari := AdjustedRandIndex(mb.Labels, truth); ari != 1 {
		t.Errorf("mini-batch ARI %v on separated blobs, want 1", ari)
	}
	// With separated blobs the mini-batch centres are means of large
	// samples of each blob: the inertia is within a fraction of a percent.
	if rel := mb.Inertia/full.Inertia - 1; rel < 0 || rel > 0.005 {
		t.Errorf("mini-batch inertia %v, full %v: relative excess %v", mb.Inertia, full.Inertia, rel)
	}
	// Each step touches 512 rows: far fewer than the 40,000 of a full pass.
	if steps := mb.Iterations; steps*512 > 20*40_000 {
		t.Errorf("mini-batch took %d steps", steps)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	if again := fit(2); !slices.Equal(again.Labels, mb.Labels) || again.Inertia != mb.Inertia {
		t.Error("mini-batch result depends on the number of threads")
	}
}

// A start from given centres joins the restarts as the last one and is
// kept unless a seeded restart is better by more than the margin.
func TestInitialCentres(t *testing.T) {
	// Three tight groups on a line at 0, 10 and 20.
	var rows []float64
	for g := range 3 {
		for i := range 50 {
			rows = append(rows, float64(10*g)+0.01*float64(i%7), 0.01*float64(i%5))
		}
	}
	x := mat.NewDense(len(rows)/2, 2, rows)
	good := mat.NewDense(3, 2, []float64{0, 0, 10, 0, 20, 0})
	// Two centres in the first group and one between the others: Lloyd
	// keeps the first group split and the other two merged, a far worse
	// optimum.
	poor := mat.NewDense(3, 2, []float64{-0.01, 0, 0.05, 0, 15, 0})
	plain, err := KMeans{K: 3, NInit: 4, Seed: 1}.Fit(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		init     *mat.Dense
		margin   float64
		wantInit bool
	}{
		{"good start", good, 0, true},
		{"poor start", poor, 0.01, false},
		{"poor start, huge margin", poor, 1e6, true},
	} {
		var calls []int
		km := KMeans{K: 3, NInit: 4, Seed: 1, Init: c.init, InitMargin: c.margin, Progress: func(done, total int) { calls = append(calls, done, total) }}
		res, err := km.Fit(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Inertias) != 5 || !slices.Equal(res.Inertias[:4], plain.Inertias) {
			t.Errorf("%s: inertias %v, want the 4 seeded ones %v and the start's", c.name, res.Inertias, plain.Inertias)
		}
		if got := res.Restart == 4; got != c.wantInit {
			t.Errorf("%s: kept restart %d (inertias %v)", c.name, res.Restart, res.Inertias)
		}
		if c.init == poor && !(res.Inertias[4] > 10*plain.Inertia) {
			t.Errorf("%s: the start's inertia %v is not the worse optimum (best %v)", c.name, res.Inertias[4], plain.Inertia)
		}
		if res.Inertia != res.Inertias[res.Restart] {
			t.Errorf("%s: inertia %v, that of the kept restart %v", c.name, res.Inertia, res.Inertias[res.Restart])
		}
		// The labels are those of the kept centroids.
		labels, _ := Assign(nil, nil, x, res.Centroids, 1)
		if !slices.Equal(labels, res.Labels) {
			t.Errorf("%s: labels are not those of the kept centroids", c.name)
		}
		if want := []int{1, 5, 2, 5, 3, 5, 4, 5, 5, 5}; !slices.Equal(calls, want) {
			t.Errorf("%s: progress calls %v, want %v", c.name, calls, want)
		}
	}
	if _, err := (KMeans{K: 3, Init: mat.NewDense(2, 2, nil)}).Fit(x, nil); err == nil {
		t.Error("initial centres of the wrong shape accepted")
	}
}
