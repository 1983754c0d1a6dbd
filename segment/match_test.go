package segment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// bruteAssignment is the least total cost over every injective map of the
// rows of the smaller side into the other, by enumeration.
func bruteAssignment(cost [][]float64) float64 {
	n, m := len(cost), len(cost[0])
	at := func(i, j int) float64 { return cost[i][j] }
	if n > m {
		n, m = m, n
		at = func(i, j int) float64 { return cost[j][i] }
	}
	best := math.Inf(1)
	used := make([]bool, m)
	var walk func(i int, sum float64)
	walk = func(i int, sum float64) {
		if i == n {
			best = math.Min(best, sum)
			return
		}
		for j := range m {
			if !used[j] {
				used[j] = true
				walk(i+1, sum+at(i, j))
				used[j] = false
			}
		}
	}
	walk(0, 0)
	return best
}

func randomCost(rng *rand.Rand, n, m int) [][]float64 {
	c := make([][]float64, n)
	for i := range c {
		c[i] = make([]float64, m)
		for j := range c[i] {
			c[i][j] = rng.Float64()*10 - 2
		}
	}
	return c
}

func TestHungarianBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, shape := range [][2]int{{5, 5}, {4, 6}, {6, 4}, {1, 3}, {3, 1}, {7, 7}} {
		for trial := range 40 {
			n, m := shape[0], shape[1]
			cost := randomCost(rng, n, m)
			if trial%4 == 0 { // integer costs: many ties
				for i := range cost {
					for j := range cost[i] {
						cost[i][j] = math.Floor(cost[i][j] / 3)
					}
				}
			}
			got := Hungarian(cost)
			if len(got) != n {
				t.Fatalf("%d×%d: %d answers", n, m, len(got))
			}
			var sum float64
			seen := map[int]bool{}
			unassigned := 0
			for i, j := range got {
				if j < 0 {
					unassigned++
					continue
				}
				if j >= m || seen[j] {
					t.Fatalf("%d×%d: invalid assignment %v", n, m, got)
				}
				seen[j] = true
				sum += cost[i][j]
			}
			if unassigned != max(0, n-m) {
				t.Fatalf("%d×%d: %d rows unassigned in %v", n, m, unassigned, got)
			}
			if want := bruteAssignment(cost); math.Abs(sum-want) > 1e-9 {
				t.Errorf("%d×%d trial %d: cost %v, brute force %v (%v)", n, m, trial, sum, want, got)
			}
			if again := Hungarian(cost); !slices.Equal(again, got) {
				t.Fatalf("%d×%d: not deterministic: %v then %v", n, m, got, again)
			}
		}
	}
}

func TestHungarianEdges(t *testing.T) {
	if got := Hungarian(nil); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := Hungarian([][]float64{{}, {}}); !slices.Equal(got, []int{-1, -1}) {
		t.Errorf("no columns: %v", got)
	}
	// All ties: the identity, by lowest index.
	if got := Hungarian([][]float64{{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("all ties: %v", got)
	}
	for _, bad := range [][][]float64{{{1, 2}, {3}}, {{1, math.Inf(1)}}, {{math.NaN()}}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%v: no panic", bad)
				}
			}()
			Hungarian(bad)
		}()
	}
}

// matchPrev returns k well-spread centroids in d dimensions.
func matchPrev(k, d int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 11))
	c := mat.NewDense(k, d, nil)
	for i := range k {
		for j := range d {
			c.Set(i, j, 10*rng.NormFloat64())
		}
	}
	return c
}

// perturbedRows returns the given rows of c, in that order, each moved by
// noise of scale eps.
func perturbedRows(c *mat.Dense, rows []int, eps float64, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 12))
	_, d := c.Dims()
	out := mat.NewDense(len(rows), d, nil)
	for t, i := range rows {
		for j := range d {
			out.Set(t, j, c.At(i, j)+eps*rng.NormFloat64())
		}
	}
	return out
}

func TestMatchCentroidsPermutation(t *testing.T) {
	prev := matchPrev(8, 4, 1)
	perm := []int{5, 2, 7, 0, 3, 1, 6, 4}
	next := perturbedRows(prev, perm, 0.3, 2)
	for _, maxDist := range []float64{0, 5} {
		m := MatchCentroids(prev, next, maxDist)
		if !slices.Equal(m.Next, perm) {
			t.Errorf("maxDist %v: matched %v, want %v", maxDist, m.Next, perm)
		}
		for j, i := range perm {
			if m.Prev[i] != j {
				t.Errorf("maxDist %v: Prev[%d] = %d, want %d", maxDist, i, m.Prev[i], j)
			}
			if want := pointDist(prev.RawRowView(i), next.RawRowView(j)); m.Dist[j] != want || want > 2 {
				t.Errorf("maxDist %v: Dist[%d] = %v, want %v", maxDist, j, m.Dist[j], want)
			}
		}
		if len(m.Splits) != 0 || len(m.Merges) != 0 {
			t.Errorf("maxDist %v: splits %v, merges %v", maxDist, m.Splits, m.Merges)
		}
	}
}

func TestMatchCentroidsNewSegment(t *testing.T) {
	prev := matchPrev(5, 3, 3)
	perm := []int{3, 0, 4, 1, 2}
	base := perturbedRows(prev, perm, 0.2, 4)
	// A sixth, far centroid, inserted at position 2.
	far := []float64{200, -150, 90}
	rows := [][]float64{base.RawRowView(0), base.RawRowView(1), far, base.RawRowView(2), base.RawRowView(3), base.RawRowView(4)}
	next := mat.NewDense(6, 3, slices.Concat(rows...))
	want := []int{3, 0, -1, 4, 1, 2}
	for _, maxDist := range []float64{0, 5} {
		m := MatchCentroids(prev, next, maxDist)
		if !slices.Equal(m.Next, want) {
			t.Errorf("maxDist %v: matched %v, want %v", maxDist, m.Next, want)
		}
		if len(m.Merges) != 0 || len(m.Splits) != 1 {
			t.Fatalf("maxDist %v: splits %v, merges %v", maxDist, m.Splits, m.Merges)
		}
		s := m.Splits[0]
		nearest, nd := -1, math.Inf(1)
		for i := range 5 {
			if d := pointDist(far, prev.RawRowView(i)); d < nd {
				nearest, nd = i, d
			}
		}
		if s.Next != 2 || s.From != nearest || s.Dist != nd || m.Dist[2] != nd || s.New != (maxDist > 0) {
			t.Errorf("maxDist %v: split %+v, want from %d at %v", maxDist, s, nearest, nd)
		}
	}
}

func TestMatchCentroidsMerged(t *testing.T) {
	prev := matchPrev(5, 3, 5)
	// Previous centroid 4 sits next to 1; the new model lost it.
	for j := range 3 {
		prev.Set(4, j, prev.At(1, j)+1)
	}
	next := perturbedRows(prev, []int{2, 1, 0, 3}, 0.1, 6)
	m := MatchCentroids(prev, next, 0)
	if want := []int{2, 1, 0, 3}; !slices.Equal(m.Next, want) {
		t.Errorf("matched %v, want %v", m.Next, want)
	}
	if want := []int{2, 1, 0, 3, -1}; !slices.Equal(m.Prev, want) {
		t.Errorf("Prev %v, want %v", m.Prev, want)
	}
	if len(m.Splits) != 0 || len(m.Merges) != 1 {
		t.Fatalf("splits %v, merges %v", m.Splits, m.Merges)
	}
	// Merged into the new centroid continuing previous 1: new index 1.
	if g := m.Merges[0]; g.Prev != 4 || g.Into != 1 || g.Retired || g.Dist != pointDist(prev.RawRowView(4), next.RawRowView(1)) {
		t.Errorf("merge %+v, want previous 4 into new 1", g)
	}
	// Previous 4 is √3 from previous 1: with a threshold above that it is
	// still merged...
	if g := MatchCentroids(prev, next, 3).Merges; len(g) != 1 || g[0].Retired {
		t.Errorf("maxDist 3: merges %+v", g)
	}
	// ... and with one below it, retired.
	if g := MatchCentroids(prev, next, 0.5).Merges; len(g) != 1 || !g[0].Retired {
		t.Errorf("maxDist 0.5: merges %+v", g)
	}
}

// TestMatchCentroidsThreshold checks that a close pair is kept rather than
// broken up for two matches just under the threshold, and that pairs over
// it are dropped.
func TestMatchCentroidsThreshold(t *testing.T) {
	prev := mat.NewDense(2, 1, []float64{0, 1.8})
	next := mat.NewDense(2, 1, []float64{0.1, -0.9})
	// Pairs: p0–n0 0.1, p0–n1 0.9, p1–n0 1.7, p1–n1 2.7. With maxDist 2,
	// matching both (p0–n1, p1–n0) costs 2.6; keeping p0–n0 and leaving
	// p1, n1 apart costs 0.1 + 2 = 2.1.
	m := MatchCentroids(prev, next, 2)
	if !slices.Equal(m.Next, []int{0, -1}) || !slices.Equal(m.Prev, []int{0, -1}) {
		t.Errorf("matched %v / %v, want [0 -1] / [0 -1]", m.Next, m.Prev)
	}
	if len(m.Splits) != 1 || m.Splits[0].From != 0 || m.Splits[0].New {
		t.Errorf("splits %+v", m.Splits)
	}
	if len(m.Merges) != 1 || m.Merges[0].Into != 0 || m.Merges[0].Retired {
		t.Errorf("merges %+v", m.Merges)
	}
	// Without a threshold, the least total distance: 0.1 + 2.7 > 0.9 + 1.7.
	if m := MatchCentroids(prev, next, 0); !slices.Equal(m.Next, []int{1, 0}) {
		t.Errorf("no threshold: matched %v, want [1 0]", m.Next)
	}
	// Everything beyond a tiny threshold: nothing matched.
	m = MatchCentroids(prev, next, 0.01)
	if !slices.Equal(m.Next, []int{-1, -1}) || len(m.Splits) != 2 || len(m.Merges) != 2 || !m.Splits[0].New || !m.Merges[1].Retired {
		t.Errorf("tiny threshold: %+v", m)
	}
}

func ExampleHungarian() {
	cost := [][]float64{
		{4, 1, 3},
		{2, 0, 5},
		{3, 2, 2},
	}
	fmt.Println(Hungarian(cost))
	// Output: [1 0 2]
}
