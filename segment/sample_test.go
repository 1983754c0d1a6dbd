package segment

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// customerLike returns n rows shaped like the engine's scaled customer
// features (37 columns), drawn from a mixture of six groups of unequal
// size: 15 log-normal amounts and counts, standardised (skewed, heavy
// right tails); 10 shares in [0, 1], doubled (as a share weight of 2
// gives); and three categorical attributes of four levels, one-hot (12
// columns). The groups overlap: k-means finds local optima of close
// inertia.
func customerLike(n int, seed uint64) *mat.Dense {
	const numeric, shares, cats, levels = 15, 10, 3, 4
	const d = numeric + shares + cats*levels
	rng := rand.New(rand.NewPCG(seed, 37))
	props := []float64{0.33, 0.24, 0.16, 0.13, 0.09, 0.05}
	type group struct {
		mu, shareMean []float64
		level         [][]float64 // per attribute, level probabilities
	}
	groups := make([]group, len(props))
	for g := range groups {
		gr := group{mu: make([]float64, numeric), shareMean: make([]float64, shares)}
		for j := range gr.mu {
			gr.mu[j] = 0.6 * rng.NormFloat64()
		}
		for j := range gr.shareMean {
			gr.shareMean[j] = rng.Float64()
		}
		for range cats {
			p := make([]float64, levels)
			var s float64
			for l := range p {
				p[l] = rng.ExpFloat64()
				s += p[l]
			}
			for l := range p {
				p[l] /= s
			}
			gr.level = append(gr.level, p)
		}
		groups[g] = gr
	}
	x := mat.NewDense(n, d, nil)
	for i := range n {
		u, g := rng.Float64(), 0
		for g < len(props)-1 && u >= props[g] {
			u -= props[g]
			g++
		}
		gr, row := groups[g], x.RawRowView(i)
		for j := range numeric {
			row[j] = math.Exp(gr.mu[j] + 0.7*rng.NormFloat64())
		}
		for j := range shares {
			row[numeric+j] = 2 * min(1, max(0, gr.shareMean[j]+0.25*rng.NormFloat64()))
		}
		for a, p := range gr.level {
			u, l := rng.Float64(), 0
			for l < levels-1 && u >= p[l] {
				u -= p[l]
				l++
			}
			row[numeric+shares+a*levels+l] = 1
		}
	}
	// Standardise the amounts, as the engine's scaler does.
	for j := range numeric {
		var s, ss float64
		for i := range n {
			s += x.At(i, j)
		}
		mean := s / float64(n)
		for i := range n {
			ss += (x.At(i, j) - mean) * (x.At(i, j) - mean)
		}
		sd := math.Sqrt(ss / float64(n))
		for i := range n {
			x.Set(i, j, (x.At(i, j)-mean)/sd)
		}
	}
	return x
}

// TestSampledRestartsMatchFull fits data larger than the automatic sample
// with sampled restarts (the default) and with full restarts: the sampled
// fit's inertia must be within 0.5% of the best of the full restarts, and
// its clustering agree with theirs (adjusted Rand index at least 0.95).
// Each case also runs with a sample ten times smaller than the automatic
// one.
func TestSampledRestartsMatchFull(t *testing.T) {
	if testing.Short() {
		t.Skip("full restarts on 150,000 rows")
	}
	overlapping, _ := blobs(150_000, 8, 12, 1.2, 7)
	for _, c := range []struct {
		name string
		x    *mat.Dense
		k    int
	}{
		{"overlapping blobs", overlapping, 8},
		{"customer-like", customerLike(150_000, 3), 6},
	} {
		full, err := KMeans{K: c.k, Seed: 1, SampleSize: -1}.Fit(c.x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if full.SampleRows != 150_000 {
			t.Fatalf("%s: full restarts ran on %d rows", c.name, full.SampleRows)
		}
		for _, size := range []int{0, 5_000} {
			res, err := KMeans{K: c.k, Seed: 1, SampleSize: size}.Fit(c.x, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := min(150_000, max(sampleFloor, samplePerCluster*c.k))
			if size > 0 {
				want = size
			}
			if res.SampleRows != want {
				t.Errorf("%s, sample %d: restarts ran on %d rows, want %d", c.name, size, res.SampleRows, want)
			}
			rel := res.Inertia/full.Inertia - 1
			ari := AdjustedRandIndex(res.Labels, full.Labels)
			t.Logf("%s, sample %d rows: inertia %.6g against %.6g for full restarts (%+.3g%%), ARI %.4f, %d finishing iterations",
				c.name, res.SampleRows, res.Inertia, full.Inertia, 100*rel, ari, res.Iterations)
			if rel > 0.005 {
				t.Errorf("%s, sample %d: inertia %v, more than 0.5%% above the full restarts' %v", c.name, size, res.Inertia, full.Inertia)
			}
			if ari < 0.95 {
				t.Errorf("%s, sample %d: adjusted Rand index %v with the full restarts' clustering", c.name, size, ari)
			}
			checkResult(t, c.name, c.x, nil, res)
		}
	}
}

// checkResult checks a result is self-consistent: labels and distances
// those of its centroids, inertia their sum, Inertias holding it at the
// kept restart, and, for full restarts, no other fresh restart's entry
// below it.
func checkResult(t *testing.T, name string, x *mat.Dense, w []float64, res *Result) {
	t.Helper()
	labels, dist := Assign(nil, nil, x, res.Centroids, 1)
	if !slices.Equal(labels, res.Labels) || !slices.Equal(dist, res.Distances) {
		t.Errorf("%s: labels or distances are not those of the centroids", name)
	}
	var inertia float64
	for i, d := range dist {
		if w == nil {
			inertia += d
		} else {
			inertia += w[i] * d
		}
	}
	if math.Abs(inertia-res.Inertia) > 1e-9*inertia {
		t.Errorf("%s: inertia %v, sum of distances %v", name, res.Inertia, inertia)
	}
	if res.Inertias[res.Restart] != res.Inertia {
		t.Errorf("%s: inertia %v, kept restart %d's %v", name, res.Inertia, res.Restart, res.Inertias[res.Restart])
	}
	if m := slices.Min(res.Inertias); m < res.Inertia && res.SampleRows == len(res.Labels) && res.Restart < len(res.Inertias)-1 {
		t.Errorf("%s: a restart's inertia %v is below the kept one's %v", name, m, res.Inertia)
	}
}

// TestSampledSameAnyThreads checks a fit with sampled restarts is
// bit-identical whatever the number of threads or GOMAXPROCS.
func TestSampledSameAnyThreads(t *testing.T) {
	x := customerLike(3*chunkRows+17, 5)
	for _, a := range []Algorithm{Hamerly, Lloyd} {
		fit := func(threads int) *Result {
			res, err := KMeans{K: 6, NInit: 4, Seed: 42, Threads: threads, SampleSize: 1500, Algorithm: a}.Fit(x, nil)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		ref := fit(1)
		if ref.SampleRows != 1500 {
			t.Fatalf("%s: restarts ran on %d rows", a, ref.SampleRows)
		}
		checkResult(t, string(a), x, nil, ref)
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
			for _, procs := range []int{1, 2} {
				runtime.GOMAXPROCS(procs)
				for _, threads := range []int{0, 1, 2, 7} {
					got := fit(threads)
					if !slices.Equal(got.Labels, ref.Labels) || !slices.Equal(got.Centroids.RawMatrix().Data, ref.Centroids.RawMatrix().Data) ||
						got.Inertia != ref.Inertia || !slices.Equal(got.Inertias, ref.Inertias) || got.Iterations != ref.Iterations ||
						!slices.Equal(got.Distances, ref.Distances) {
						t.Errorf("%s, GOMAXPROCS %d, threads %d: result differs from the 1-thread result", a, procs, threads)
					}
				}
			}
		}()
	}
}

// TestSampledWarmStart checks the warm start with sampled restarts: it is
// compared with the best fresh restart on all the rows, and kept within
// the margin.
func TestSampledWarmStart(t *testing.T) {
	x := customerLike(20_000, 9)
	fresh, err := KMeans{K: 5, NInit: 3, Seed: 2, SampleSize: 2000}.Fit(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A start from the fresh fit's centroids, moved a little, converges
	// back to about the same optimum.
	init := mat.DenseCopyOf(fresh.Centroids)
	init.Apply(func(i, j int, v float64) float64 { return v + 0.05*math.Sin(float64(7*i+j)) }, init)
	for _, margin := range []float64{0, 0.5} {
		res, err := KMeans{K: 5, NInit: 3, Seed: 2, SampleSize: 2000, Init: init, InitMargin: margin}.Fit(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Inertias[:3], fresh.Inertias) {
			t.Errorf("margin %v: fresh inertias %v, want %v", margin, res.Inertias[:3], fresh.Inertias)
		}
		warm := res.Inertias[3]
		wantWarm := warm <= fresh.Inertia*(1+margin)
		if got := res.Restart == 3; got != wantWarm {
			t.Errorf("margin %v: kept restart %d; warm start's inertia %v, best fresh %v", margin, res.Restart, warm, fresh.Inertia)
		}
		if margin > 0 && !wantWarm {
			t.Errorf("margin %v: warm start's inertia %v not within the margin of %v", margin, warm, fresh.Inertia)
		}
		checkResult(t, "warm start", x, nil, res)
	}
}

// TestSampledWeights checks the sample keeps the rows' weights: rows of
// weight 0 far from the rest draw no centre, and a fit whose sample holds
// only rows of weight 0 falls back to every row.
func TestSampledWeights(t *testing.T) {
	x, _ := blobs(10_000, 3, 4, 8, 3)
	w := make([]float64, 10_000)
	for i := range w {
		w[i] = 1
		if i%10 == 0 {
			// Far away, weight 0: they must not pull a centre.
			x.Set(i, 0, 1e3)
			w[i] = 0
		}
	}
	res, err := KMeans{K: 3, Seed: 4, SampleSize: 1000}.Fit(x, w)
	if err != nil {
		t.Fatal(err)
	}
	for c := range 3 {
		if res.Centroids.At(c, 0) > 100 {
			t.Errorf("centre %d at %v: pulled by rows of weight 0", c, res.Centroids.RawRowView(c))
		}
	}
	checkResult(t, "weights", x, w, res)

	zero := make([]float64, 10_000)
	zero[9_999] = 1 // one row weighs, too few to be sure to be sampled
	res, err = KMeans{K: 1, NInit: 1, Seed: 4, SampleSize: 10}.Fit(x, zero)
	if err != nil {
		t.Fatal(err)
	}
	if res.SampleRows != 10 && res.SampleRows != 10_000 {
		t.Errorf("restarts ran on %d rows", res.SampleRows)
	}
	if !slices.Equal(res.Centroids.RawRowView(0), x.RawRowView(9_999)) {
		t.Errorf("centre %v, want the one row of weight 1, %v", res.Centroids.RawRowView(0), x.RawRowView(9_999))
	}
}

// BenchmarkFitCustomers times the engine's k-means stage in shape: k = 6,
// ten restarts, Hamerly, on 1,000,000 customer-like rows of 37 features,
// with full restarts (sample=off), sampled ones (sample=auto, 50,000
// rows) and samples of other sizes. It reports the inertia, to compare.
func BenchmarkFitCustomers(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000,000 rows")
	}
	x := customerLike(1_000_000, 1)
	for _, c := range []struct {
		name string
		size int
	}{{"sample=off", -1}, {"sample=auto", 0}, {"sample=5000", 5000}, {"sample=20000", 20_000}, {"sample=100000", 100_000}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var n uint64
			defer reportCPU(b, &n)()
			for b.Loop() {
				res, err := (KMeans{K: 6, NInit: 10, SampleSize: c.size}).Fit(x, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.Inertia, "inertia")
				n++
			}
		})
	}
}

// BenchmarkFigures times the quality figures the engine computes after a
// fit on 1,000,000 customer-like rows, k = 6: the silhouette on a sample of
// 2000 (a bounded cost whatever the rows), Calinski-Harabasz and
// Davies-Bouldin (one pass each).
func BenchmarkFigures(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000,000 rows")
	}
	x := customerLike(1_000_000, 1)
	res, err := (KMeans{K: 6, NInit: 2, Seed: 1}).Fit(x, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []struct {
		name string
		fn   func() float64
	}{
		{"silhouette", func() float64 { return Silhouette(x, res.Labels, 6, 2000, 1) }},
		{"calinski-harabasz", func() float64 { return CalinskiHarabasz(x, res.Labels, 6) }},
		{"davies-bouldin", func() float64 { return DaviesBouldin(x, res.Labels, 6) }},
	} {
		b.Run(f.name, func(b *testing.B) {
			var n uint64
			defer reportCPU(b, &n)()
			for b.Loop() {
				f.fn()
				n++
			}
		})
	}
}
