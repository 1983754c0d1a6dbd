package segment

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Hungarian solves the rectangular assignment problem: for an n×m matrix of
// costs it pairs rows with distinct columns, as many pairs as min(n, m),
// at the least total cost. It returns for each row its column, or -1 for
// the n − m rows left over when n > m.
//
// The method is the Hungarian method of Kuhn (1955, "The Hungarian method
// for the assignment problem", Naval Research Logistics Quarterly 2) and
// Munkres (1957), in the shortest-augmenting-path form of Jonker & Volgenant
// (1987, "A shortest augmenting path algorithm for dense and sparse linear
// assignment problems", Computing 38): rows are added one at a time, each by
// a Dijkstra-like search over reduced costs from the row to a free column,
// with dual potentials kept so that reduced costs stay non-negative;
// O(r²·c) time for r = min(n, m) and c = max(n, m). When n > m the
// transposed problem is solved. Ties go deterministically: the search
// always takes the lowest-index column among equally cheap ones.
//
// Every row must have the same length and every cost must be finite; it
// panics otherwise. An empty matrix gives an empty (or all -1) answer.
func Hungarian(cost [][]float64) []int {
	n := len(cost)
	m := 0
	if n > 0 {
		m = len(cost[0])
	}
	for i, r := range cost {
		if len(r) != m {
			panic(fmt.Sprintf("segment: cost row %d has %d columns, row 0 has %d", i, len(r), m))
		}
		for j, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				panic(fmt.Sprintf("segment: cost[%d][%d] is %v, want a finite value", i, j, v))
			}
		}
	}
	out := make([]int, n)
	for i := range out {
		out[i] = -1
	}
	if n == 0 || m == 0 {
		return out
	}
	if n <= m {
		return assignRows(n, m, func(i, j int) float64 { return cost[i][j] })
	}
	// More rows than columns: assign the columns to rows instead.
	cols := assignRows(m, n, func(i, j int) float64 { return cost[j][i] })
	for j, i := range cols {
		out[i] = j
	}
	return out
}

// assignRows assigns each of n rows a distinct column of m >= n, at least
// total cost c(i, j), and returns the column of each row.
func assignRows(n, m int, c func(i, j int) float64) []int {
	// Column 0 is a virtual column from which each search starts; real
	// columns are 1..m and rows 1..n, 0 meaning "none".
	u := make([]float64, n+1) // row potentials
	v := make([]float64, m+1) // column potentials
	owner := make([]int, m+1) // row assigned to each column
	prev := make([]int, m+1)  // previous column on the shortest path
	slack := make([]float64, m+1)
	done := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		owner[0] = i
		col := 0
		for j := range slack {
			slack[j] = math.Inf(1)
			done[j] = false
		}
		for {
			done[col] = true
			row := owner[col]
			delta, next := math.Inf(1), -1
			for j := 1; j <= m; j++ {
				if done[j] {
					continue
				}
				if r := c(row-1, j-1) - u[row] - v[j]; r < slack[j] {
					slack[j], prev[j] = r, col
				}
				if slack[j] < delta { // strict: the lowest index wins ties
					delta, next = slack[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if done[j] {
					u[owner[j]] += delta
					v[j] -= delta
				} else {
					slack[j] -= delta
				}
			}
			col = next
			if owner[col] == 0 {
				break
			}
		}
		// Flip the assignments along the path back to the virtual column.
		for col != 0 {
			p := prev[col]
			owner[col] = owner[p]
			col = p
		}
	}
	out := make([]int, n)
	for j := 1; j <= m; j++ {
		if owner[j] != 0 {
			out[owner[j]-1] = j - 1
		}
	}
	return out
}

// Split describes a new centroid that no previous centroid was matched to.
type Split struct {
	Next int     // the new centroid (row of next)
	From int     // the nearest previous centroid (row of prev), -1 if there is none
	Dist float64 // their Euclidean distance
	// New is true when maxDist > 0 and no previous centroid lies within it,
	// or there is no previous centroid: a segment with no predecessor
	// rather than a part split off From.
	New bool
}

// Merge describes a previous centroid that no new centroid was matched to.
type Merge struct {
	Prev int     // the previous centroid (row of prev)
	Into int     // the nearest new centroid (row of next), -1 if there is none
	Dist float64 // their Euclidean distance
	// Retired is true when maxDist > 0 and no new centroid lies within it,
	// or there is no new centroid: a segment that vanished rather than
	// merged into Into.
	Retired bool
}

// Matching pairs the centroids of a retrained model with those of the
// previous one, so that segment IDs can be carried over.
type Matching struct {
	// Next holds, for each new centroid, the index of the previous centroid
	// it continues, or -1.
	Next []int
	// Dist holds, for each new centroid, its Euclidean distance to the
	// matched previous centroid, or to the nearest previous centroid when
	// unmatched (+Inf when there are no previous centroids).
	Dist []float64
	// Prev holds, for each previous centroid, the index of the new centroid
	// matched to it, or -1.
	Prev []int
	// Splits lists the unmatched new centroids, in index order.
	Splits []Split
	// Merges lists the unmatched previous centroids, in index order.
	Merges []Merge
}

// MatchCentroids matches the new centroids (rows of next) to the previous
// ones (rows of prev), one to one, by the Hungarian method (see Hungarian)
// on their Euclidean distances, minimising the total distance of the
// matched pairs.
//
// When maxDist > 0, a pair farther apart than maxDist is not a match, and
// the assignment is solved on the costs min(distance, maxDist): leaving a
// pair unmatched costs as much as matching it at the threshold. So a close
// pair is never broken up to make room for two far ones merely to match
// more centroids, and no pair beyond the threshold is kept. With maxDist <=
// 0 every centroid of the smaller side is matched.
//
// An unmatched new centroid is reported in Splits with its nearest previous
// centroid (the segment it most likely split from, or a new segment when
// even that is beyond maxDist); an unmatched previous centroid is reported
// in Merges with its nearest new centroid (the segment it most likely merged
// into, or retired). The centroids must be in the same space (it panics if
// the column counts differ).
func MatchCentroids(prev, next *mat.Dense, maxDist float64) Matching {
	np, dp := prev.Dims()
	nn, dn := next.Dims()
	if np > 0 && nn > 0 && dp != dn {
		panic(fmt.Sprintf("segment: previous centroids have %d columns, new ones %d", dp, dn))
	}
	dist := make([][]float64, nn) // dist[j][i]: new j to previous i
	cost := make([][]float64, nn)
	for j := range nn {
		dist[j] = make([]float64, np)
		cost[j] = make([]float64, np)
		for i := range np {
			dd := pointDist(next.RawRowView(j), prev.RawRowView(i))
			dist[j][i] = dd
			cost[j][i] = dd
			if maxDist > 0 {
				cost[j][i] = min(dd, maxDist)
			}
		}
	}
	m := Matching{Next: Hungarian(cost), Dist: make([]float64, nn), Prev: make([]int, np)}
	for i := range m.Prev {
		m.Prev[i] = -1
	}
	for j, i := range m.Next {
		if i >= 0 && maxDist > 0 && dist[j][i] > maxDist {
			m.Next[j], i = -1, -1
		}
		if i >= 0 {
			m.Prev[i] = j
			m.Dist[j] = dist[j][i]
		}
	}
	far := func(d float64) bool { return maxDist > 0 && d > maxDist }
	for j, i := range m.Next {
		if i >= 0 {
			continue
		}
		from, d := -1, math.Inf(1)
		for t := range np {
			if dist[j][t] < d {
				from, d = t, dist[j][t]
			}
		}
		m.Dist[j] = d
		m.Splits = append(m.Splits, Split{Next: j, From: from, Dist: d, New: from < 0 || far(d)})
	}
	for i, j := range m.Prev {
		if j >= 0 {
			continue
		}
		into, d := -1, math.Inf(1)
		for t := range nn {
			if dist[t][i] < d {
				into, d = t, dist[t][i]
			}
		}
		m.Merges = append(m.Merges, Merge{Prev: i, Into: into, Dist: d, Retired: into < 0 || far(d)})
	}
	return m
}
