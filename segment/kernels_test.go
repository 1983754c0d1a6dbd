package segment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// forEachSeeding runs fn once with each way of seeding: pruned (the
// default) and with the block kernel over every row (see seedPrune).
func forEachSeeding(t testing.TB, fn func(name string)) {
	t.Helper()
	defer func(p bool) { seedPrune = p }(seedPrune)
	for _, p := range []bool{true, false} {
		seedPrune = p
		name := "pruned"
		if !p {
			name = "block"
		}
		fn(name)
	}
}

// randomCoords fills a slice with values of mixed signs and magnitudes, so
// that the order of the additions shows in the last bits.
func randomCoords(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4))
	}
	return v
}

// TestKernelsAgreeBitForBit checks the block kernel against the distance
// of two points, lane by lane, on random data of widths 1 to
// 40 with a few rows at a time: the same bits, not just close.
func TestKernelsAgreeBitForBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	func(level string) {
		for d := 1; d <= 40; d++ {
			for rep := range 10 {
				rows := 1 + rep%4
				x := randomCoords(rng, rows*d)
				m := 1 + rng.IntN(2*lanes+3) // one to three blocks, the last one partly live
				pts := randomCoords(rng, m*d)
				pb := newPointBlocks(m, d)
				pb.setAll(pts)
				out := make([]float64, rows*pb.stride())
				pb.dists(out, x)
				for i := range rows {
					for l := range m {
						want := sqDist(x[i*d:(i+1)*d], pts[l*d:(l+1)*d])
						if got := out[i*pb.stride()+l]; math.Float64bits(got) != math.Float64bits(want) {
							t.Fatalf("%s, d=%d, row %d, point %d of %d: block kernel %v, scalar %v", level, d, i, l, m, got, want)
						}
					}
				}
			}
		}
	}("scalar")
}

// TestSqDistOrder pins the documented summation order with cases worked
// by hand (ulp(2⁵⁴) = 4, ties round to even).
func TestSqDistOrder(t *testing.T) {
	big := float64(1 << 27) // its square is 2⁵⁴
	cases := []struct {
		diff []float64
		why  string
	}{
		// s0 = 1 + 2⁵⁴ → 2⁵⁴, s1 = s2 = s3 = 1: (2⁵⁴ + 1) + 2 → 2⁵⁴;
		// a left-to-right sum gives 2⁵⁴ + 4.
		{[]float64{1, 1, 1, 1, big}, "four accumulators"},
		// s0 = 1, s1 = 2⁵⁴ + 1 → 2⁵⁴, s2 = 1, s3 = 0: (1 + 2⁵⁴) + 1 → 2⁵⁴;
		// with the trailing coordinates all in s0, (3 + 2⁵⁴) gives 2⁵⁴ + 4.
		{[]float64{0, big, 0, 0, 1, 1, 1}, "trailing coordinates by j mod 4"},
	}
	want := math.Ldexp(1, 54)
	for _, c := range cases {
		if got := sqDist(c.diff, make([]float64, len(c.diff))); got != want {
			t.Errorf("%s: sqDist %v, want 2^54 = %v", c.why, got, want)
		}
	}
	func(level string) {
		for _, c := range cases {
			d := len(c.diff)
			pb := newPointBlocks(4, d)
			pb.set(3, c.diff) // point 3; points 0 to 2 are the origin
			out := make([]float64, pb.stride())
			pb.dists(out, make([]float64, d))
			if out[3] != want || out[0] != 0 {
				t.Errorf("%s, %s: block kernel %v, want 2^54 for point 3 and 0 for point 0", level, c.why, out[:4])
			}
		}
	}("scalar")
}

// referenceSeed is greedy k-means++ written plainly, one row at a time:
// every row's weighted distance to the nearest chosen centre, candidates
// drawn in proportion to it, and each candidate's potential summed in full.
// Sums go chunk by chunk, as the package adds them up.
func referenceSeed(x []float64, n, d int, w []float64, k, trials int, rng *rand.Rand) []float64 {
	weight := func(i int) float64 {
		if w == nil {
			return 1
		}
		return w[i]
	}
	chunkSums := func(f func(i int) float64) ([]float64, float64) {
		var parts []float64
		var total float64
		for lo := 0; lo < n; lo += chunkRows {
			var s float64
			for i := lo; i < min(lo+chunkRows, n); i++ {
				s += f(i)
			}
			parts = append(parts, s)
			total += s
		}
		return parts, total
	}
	draw := func(f func(i int) float64) int {
		parts, total := chunkSums(f)
		target := rng.Float64() * total
		// The chunk the target falls in, or the last one with mass when
		// rounding carries the target past the end.
		in, last := -1, 0
		for c, s := range parts {
			if s <= 0 {
				continue
			}
			last = c
			if target < s {
				in = c
				break
			}
			target -= s
		}
		if in < 0 {
			in, target = last, math.Inf(1)
		}
		pick := in * chunkRows
		for i := in * chunkRows; i < min((in+1)*chunkRows, n); i++ {
			if v := f(i); v > 0 {
				pick = i
				if target < v {
					return i
				}
				target -= v
			}
		}
		return pick
	}
	row := func(i int) []float64 { return x[i*d : (i+1)*d] }
	centers := make([]float64, 0, k*d)
	centers = append(centers, row(draw(weight))...)
	closest := make([]float64, n)
	for i := range n {
		closest[i] = weight(i) * sqDist(row(i), centers[:d])
	}
	for c := 1; c < k; c++ {
		_, pot := chunkSums(func(i int) float64 { return closest[i] })
		cands := make([]int, trials)
		for t := range cands {
			if pot > 0 {
				cands[t] = draw(func(i int) float64 { return closest[i] })
			} else {
				cands[t] = rng.IntN(n)
			}
		}
		best, bestPot := 0, math.Inf(1)
		for t, cand := range cands {
			_, cp := chunkSums(func(i int) float64 {
				return min(closest[i], weight(i)*sqDist(row(i), row(cand)))
			})
			if cp < bestPot {
				best, bestPot = t, cp
			}
		}
		centers = append(centers, row(cands[best])...)
		for i := range n {
			closest[i] = min(closest[i], weight(i)*sqDist(row(i), row(cands[best])))
		}
	}
	return centers
}

// TestSeedMatchesReference checks the one-pass-per-centre seeding against
// the plain one, bit for bit: with and without weights (zeros included),
// pruned and with the block kernel, alone and in groups of restarts. It also checks the
// owners and distances it leaves against a full search over the chosen
// centres, and the first assignment step it leaves against assign's.
func TestSeedMatchesReference(t *testing.T) {
	x, _ := blobs(3*chunkRows+11, 9, 4, 6, 13)
	n, d := x.Dims()
	w := make([]float64, n)
	for i := range w {
		w[i] = float64(i%5) / 2
	}
	for _, weights := range [][]float64{nil, w} {
		// 64 candidates: 195 lanes, several blocks; 300 clusters: owners
		// held in int32, not a byte.
		for _, kt := range [][2]int{{12, 5}, {5, 9}, {3, 1}, {1, 3}, {4, maxTrials}, {300, 2}} {
			k, trials := kt[0], kt[1]
			want := make([][]float64, maxGroup)
			for r := range want {
				want[r] = referenceSeed(x.RawMatrix().Data, n, d, weights, k, trials, rand.New(rand.NewPCG(3, uint64(r))))
			}
			forEachSeeding(t, func(level string) {
				for g := 1; g <= maxGroup; g++ {
					p := newProblem(x, weights, 2)
					rngs := make([]*rand.Rand, g)
					for r := range rngs {
						rngs[r] = rand.New(rand.NewPCG(3, uint64(r)))
					}
					st := p.scratchFor(k).st
					sds := p.seedGroup(k, trials, rngs, p.seedRowsFor(g, k))
					p.settleGroup(sds, k)
					for r, sd := range sds {
						p.begin(sd, st, nil)
						if !slices.Equal(sd.centers, want[r]) {
							t.Fatalf("%s, weighted %v, k=%d, trials=%d, restart %d of a group of %d: seeding differs from the reference",
								level, weights != nil, k, trials, r, g)
						}
						for i := range n {
							dists := make([]float64, k)
							for c := range k {
								dists[c] = sqDist(p.row(i), sd.centers[c*d:(c+1)*d])
							}
							owner := slices.Index(dists, slices.Min(dists))
							if sd.rows.owner.get(i) != owner || sd.rows.dist[i] != dists[owner] {
								t.Fatalf("%s, k=%d: row %d has owner %d at %v, want %d at %v", level, k, i,
									sd.rows.owner.get(i), sd.rows.dist[i], owner, dists[owner])
							}
						}
						// The step settleGroup and begin made is the one assign makes.
						labels, dist := slices.Clone(st.labels), slices.Clone(st.dist)
						sums, inert := slices.Concat(st.sums...), slices.Clone(st.inert)
						for i := range st.labels {
							st.labels[i] = -1
						}
						p.assign(sd.centers, k, st)
						if !slices.Equal(labels, st.labels) || !slices.Equal(dist, st.dist) ||
							!slices.Equal(sums, slices.Concat(st.sums...)) || !slices.Equal(inert, st.inert) || movedRows(st) != n {
							t.Fatalf("%s, k=%d, restart %d of %d: the settled first step differs from assign's", level, k, r, g)
						}
					}
				}
			})
		}
	}
}

// TestFitSameAtEveryLevel checks a whole fit, Lloyd and Hamerly, gives the
// same bits whether the seeding prunes or uses the block kernel, on data
// that takes many iterations.
func TestFitSameAtEveryLevel(t *testing.T) {
	x, _ := blobs(2*chunkRows+100, 5, 13, 1.5, 8)
	for _, a := range []Algorithm{Lloyd, Hamerly} {
		var ref *Result
		forEachSeeding(t, func(level string) {
			res, err := KMeans{K: 9, NInit: 2, Seed: 3, Algorithm: a, Tol: 1e-10}.Fit(x, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = res
				if res.Iterations < 5 {
					t.Errorf("%s: only %d iterations", a, res.Iterations)
				}
				return
			}
			if !slices.Equal(res.Labels, ref.Labels) || !slices.Equal(res.Centroids.RawMatrix().Data, ref.Centroids.RawMatrix().Data) ||
				!slices.Equal(res.Distances, ref.Distances) || !slices.Equal(res.Inertias, ref.Inertias) || res.Iterations != ref.Iterations {
				t.Errorf("%s with %s seeding differs from the pruned fit", a, level)
			}
		})
	}
}

// reportCPU reports the process's CPU time (user and system, all threads)
// per operation, a steadier figure than wall time on a shared machine, where
// the system tells it (cputime_unix_test.go): call it before the loop and
// defer the function it returns; *n counts the operations.
func reportCPU(b *testing.B, n *uint64) func() {
	start := cpuTime()
	return func() {
		if end := cpuTime(); *n > 0 && end > 0 {
			b.ReportMetric(float64((end-start).Nanoseconds())/float64(*n), "cpu-ns/op")
		}
	}
}

// benchBlobs is the data of make bench-kmeans in shape: 1,000,000 rows, 12
// features, 8 blobs whose centres have standard deviation 3.
func benchBlobs(b *testing.B) *problem {
	if testing.Short() {
		b.Skip("1,000,000 rows")
	}
	x, _ := blobs(1_000_000, 8, 12, 3, 1)
	return newProblem(x, nil, runtime.GOMAXPROCS(0))
}

// BenchmarkSeed times one greedy k-means++ seeding of the bench-kmeans data,
// pruned and with the block kernel.
func BenchmarkSeed(b *testing.B) {
	p := benchBlobs(b)
	forEachSeeding(b, func(level string) {
		b.Run(level, func(b *testing.B) {
			b.ReportAllocs()
			r := uint64(0)
			defer reportCPU(b, &r)()
			for b.Loop() {
				p.seed(8, 4, rand.New(rand.NewPCG(0, r)), nil)
				r++
			}
		})
	})
}

// BenchmarkFitBench times the whole fit of make bench-kmeans (k = 8, ten
// restarts, Hamerly).
func BenchmarkFitBench(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000,000 rows")
	}
	x, _ := blobs(1_000_000, 8, 12, 3, 1)
	func(level string) {
		b.Run(level, func(b *testing.B) {
			b.ReportAllocs()
			var n uint64
			defer reportCPU(b, &n)()
			for b.Loop() {
				if _, err := (KMeans{K: 8}).Fit(x, nil); err != nil {
					b.Fatal(err)
				}
				n++
			}
		})
	}("scalar")
}

// BenchmarkDistanceKernels times the block kernel against calls of the
// scalar distance, for 8 and 16 points, d = 12, on 4096 rows (in cache)
// and on 1,000,000 (streamed from memory).
func BenchmarkDistanceKernels(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	const d = 12
	pts := randomCoords(rng, 2*lanes*d)
	for _, n := range []int{4096, 1_000_000} {
		if n > 4096 && testing.Short() {
			continue
		}
		rows := randomCoords(rng, n*d)
		for _, m := range []int{lanes, 2 * lanes} {
			pb := newPointBlocks(m, d)
			pb.setAll(pts)
			func(level string) {
				b.Run(fmt.Sprintf("n=%d/m=%d/block/%s", n, m, level), func(b *testing.B) {
					out := make([]float64, pb.batch()*pb.stride())
					var k uint64
					defer reportCPU(b, &k)()
					for b.Loop() {
						for lo := 0; lo < n; lo += pb.batch() {
							pb.dists(out, rows[lo*d:min(lo+pb.batch(), n)*d])
						}
						k++
					}
				})
			}("scalar")
			b.Run(fmt.Sprintf("n=%d/m=%d/single", n, m), func(b *testing.B) {
				var s float64
				var k uint64
				defer reportCPU(b, &k)()
				for b.Loop() {
					for i := 0; i < len(rows); i += d {
						for l := range m {
							s += sqDist(rows[i:i+d], pts[l*d:])
						}
					}
					k++
				}
				_ = s
			})
		}
	}
}

// TestBestRestartRelabelled checks the result of a fit whose best restart
// is not its last one, whose labels and distances come from labelling the
// rows again: they are those of a fit that stops at the best restart, where
// it is the last one.
func TestBestRestartRelabelled(t *testing.T) {
	x, _ := blobs(2*chunkRows+7, 6, 3, 1.2, 21)
	for _, a := range []Algorithm{Hamerly, Lloyd} {
		all, err := KMeans{K: 6, NInit: 8, Seed: 4, Algorithm: a}.Fit(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if all.Restart == 7 {
			t.Fatalf("%s: the best restart is the last one; the case does not test relabelling", a)
		}
		upTo, err := KMeans{K: 6, NInit: all.Restart + 1, Seed: 4, Algorithm: a}.Fit(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if upTo.Restart != all.Restart || !slices.Equal(upTo.Labels, all.Labels) || !slices.Equal(upTo.Distances, all.Distances) ||
			!slices.Equal(upTo.Centroids.RawMatrix().Data, all.Centroids.RawMatrix().Data) || upTo.Inertia != all.Inertia {
			t.Errorf("%s: best restart %d relabelled differs from the fit that ends with it", a, all.Restart)
		}
	}
}
