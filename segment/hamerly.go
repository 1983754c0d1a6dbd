package segment

import (
	"math"
	"slices"
)

// boundSlack widens every bound comparison of the Hamerly iteration. The
// bounds are built from rounded distances; a row is skipped only when its
// bounds separate the centres by more than any rounding could explain, so
// that skipping never changes a label Lloyd's exhaustive search would give.
const boundSlack = 1e-9

// hamerly iterates from the given centres like lloyd, with the same result,
// but skips the distance computations the triangle inequality makes
// needless (Hamerly 2010, "Making k-means even faster", SIAM SDM). Each row
// keeps an upper bound u on the distance to its centre and a lower bound l
// on the distance to every other centre; s(c) is half the distance from c
// to the centre nearest it. A row whose u is below max(s(c), l) cannot have
// changed cluster. After the centres move, u grows by the move of the row's
// centre and l shrinks by the largest move of another centre.
//
// centers must come from seed, whose owners and bounds it starts from: the
// owners are the labels lloyd's first step gives. The centre sums are
// recomputed from the labels in every iteration, in the same chunks and row
// order as lloyd, so the centres, and hence every later step, are
// bit-identical to lloyd's.
func (p *problem) hamerly(centers []float64, maxIter int, tol float64) *Result {
	k, d := len(centers)/p.d, p.d
	sc := p.scratchFor(k)
	st, upper, lower := sc.st, sc.upper, sc.lower
	p.parallel(func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			st.labels[i] = int(sc.owner[i])
			upper[i], lower[i] = math.Sqrt(sc.ownerDist[i]), sc.second[i]
		}
	})
	half := make([]float64, k)  // s(c)
	moves := make([]float64, k) // distance each centre moved in the last update
	old := make([]float64, k*d)
	res := &Result{}
	for it := 1; it <= maxIter; it++ {
		p.boundedAssign(centers, k, st, upper, lower, half, false)
		// The first step moves every label from "none" in lloyd.
		moved := it == 1 || slices.Contains(st.moved, true)
		copy(old, centers)
		repairs := 0
		var shift float64
		if slices.Contains(p.clusterWeights(st, k), 0) {
			// Empty-cluster repair needs every row's exact distance to its
			// centre, as lloyd has it; the rows it moves sit on their new
			// centre.
			p.parallel(func(c, lo, hi int) {
				for i := lo; i < hi; i++ {
					a := st.labels[i]
					st.dist[i] = sqDist(p.row(i), centers[a*d:(a+1)*d])
				}
			})
			before := slices.Clone(st.labels)
			shift, repairs = p.update(centers, k, st)
			for i, a := range st.labels {
				if a != before[i] {
					upper[i], lower[i] = 0, 0
				}
			}
			res.EmptyRepairs += repairs
		} else {
			shift, _ = p.update(centers, k, st)
		}
		res.Iterations = it
		p.moveBounds(old, centers, moves, st.labels, upper, lower)
		if (!moved && repairs == 0) || shift <= tol {
			res.Converged = true
			break
		}
	}
	// The final labels, distances and inertia, as lloyd's last assignment
	// step computes them, skipping the searches the bounds make needless.
	p.boundedAssign(centers, k, st, upper, lower, half, true)
	p.collect(centers, k, st, res)
	return res
}

// boundedAssign is the assignment step of the Hamerly iteration: it labels
// every row with its nearest centre (ties to the lowest index), searching
// only where the bounds allow a change, and accumulates the per-chunk
// sums for the next centres. With final, it also records every row's exact
// squared distance and the per-chunk inertia, as lloyd's assign does.
func (p *problem) boundedAssign(centers []float64, k int, st *stepState, upper, lower, half []float64, final bool) {
	d := p.d
	for j := range k {
		m := math.Inf(1)
		for o := range k {
			if o != j {
				m = min(m, sqDist(centers[j*d:(j+1)*d], centers[o*d:(o+1)*d]))
			}
		}
		half[j] = math.Sqrt(m) / 2
	}
	p.parallel(func(c, lo, hi int) {
		sums, ws := st.sums[c], st.wsum[c]
		clear(sums)
		clear(ws)
		moved := false
		var inert float64
		for i := lo; i < hi; i++ {
			r := p.row(i)
			a := st.labels[i]
			bound := max(half[a], lower[i]) * (1 - boundSlack)
			dd := -1.0 // squared distance to centre a, when known
			if upper[i]*(1+boundSlack) >= bound {
				dd = sqDist(r, centers[a*d:(a+1)*d])
				upper[i] = math.Sqrt(dd)
				if upper[i]*(1+boundSlack) >= bound {
					best, bd, second := nearest2(r, centers, k, d)
					if best != a {
						moved = true
						st.labels[i], a = best, best
					}
					dd = bd
					upper[i], lower[i] = math.Sqrt(bd), math.Sqrt(second)
				}
			}
			w := p.weight(i)
			if final {
				if dd < 0 {
					dd = sqDist(r, centers[a*d:(a+1)*d])
				}
				st.dist[i] = dd
				inert += w * dd
			}
			ws[a] += w
			s := sums[a*d : (a+1)*d]
			for j, v := range r {
				s[j] += w * v
			}
		}
		st.moved[c], st.inert[c] = moved, inert
	})
}

// clusterWeights adds up the per-chunk cluster weights in chunk order.
func (p *problem) clusterWeights(st *stepState, k int) []float64 {
	ws := make([]float64, k)
	for c := range p.chunks {
		for j, v := range st.wsum[c] {
			ws[j] += v
		}
	}
	return ws
}

// moveBounds loosens the bounds by how far the centres moved from old.
func (p *problem) moveBounds(old, centers, moves []float64, labels []int, upper, lower []float64) {
	d := p.d
	k := len(moves)
	first, second := -1, 0.0 // the largest move and the largest among the others
	for j := range k {
		moves[j] = math.Sqrt(sqDist(old[j*d:(j+1)*d], centers[j*d:(j+1)*d]))
		switch {
		case first < 0 || moves[j] > moves[first]:
			if first >= 0 {
				second = moves[first]
			}
			first = j
		case moves[j] > second:
			second = moves[j]
		}
	}
	p.parallel(func(c, lo, hi int) {
		for i := lo; i < hi; i++ {
			a := labels[i]
			upper[i] += moves[a]
			if a == first {
				lower[i] -= second
			} else {
				lower[i] -= moves[first]
			}
		}
	})
}

// nearest2 returns the nearest centre to r (ties to the lowest index), its
// squared distance, and the squared distance to the second nearest.
func nearest2(r, centers []float64, k, d int) (int, float64, float64) {
	best, bd, second := 0, math.Inf(1), math.Inf(1)
	for j := range k {
		dd := sqDist(r, centers[j*d:(j+1)*d])
		if dd < bd {
			best, bd, second = j, dd, bd
		} else if dd < second {
			second = dd
		}
	}
	return best, bd, second
}
