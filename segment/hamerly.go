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
// The scratch step state must hold the first assignment step from centers
// (lloyd's first step), with upper the rows' distances to their centres and
// lower 0, as begin leaves them. The centre sums are recomputed from the
// labels in every iteration, in the same chunks and row order as lloyd, so
// the centres, and hence every later step, are bit-identical to lloyd's.
//
// A step records every row's exact distance, which lloyd's result holds,
// only when few rows moved in the step before: then it is likely the last,
// and when its centres do not move the final labelling pass is not needed.
func (p *problem) hamerly(centers, upper, lower []float64, maxIter int, tol float64) *Result {
	k, d := len(centers)/p.d, p.d
	st := p.scratchFor(k).st
	half := make([]float64, k) // s(c)
	mv := centreMoves{moves: make([]float64, k)}
	old := make([]float64, k*d)
	res := &Result{}
	// The first step, begin's, is exact; no row's label differs from the
	// owner the seeding gave it.
	exact, changed := true, 0
	for it := 1; it <= maxIter; it++ {
		moved := true // the first step moves every label from "none" in lloyd
		if it > 1 {
			exact = changed <= p.n/1000
			p.boundedAssign(centers, k, st, upper, lower, half, &mv, exact)
			changed = movedRows(st)
			moved = changed > 0
		}
		copy(old, centers)
		repairs := 0
		var shift float64
		if slices.Contains(p.clusterWeights(st, k), 0) {
			// Empty-cluster repair needs every row's exact distance to its
			// centre, as lloyd has it; the rows it moves sit on their new
			// centre.
			if !exact {
				p.parallel(func(c, lo, hi int) {
					for i := lo; i < hi; i++ {
						a := st.labels[i]
						st.dist[i] = sqDist(p.row(i), centers[a*d:(a+1)*d])
					}
				})
			}
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
		if exact && repairs == 0 && slices.Equal(old, centers) {
			// The centres did not move: the labels and distances of the
			// step are those of a final one (as in lloyd).
			res.Converged = true
			p.collect(centers, k, st, res)
			return res
		}
		mv.measure(old, centers, d)
		if (!moved && repairs == 0) || shift <= tol {
			res.Converged = true
			break
		}
	}
	// The final labels, distances and inertia, as lloyd's last assignment
	// step computes them, skipping the searches the bounds make needless.
	p.boundedAssign(centers, k, st, upper, lower, half, &mv, true)
	p.collect(centers, k, st, res)
	return res
}

// centreMoves is how far each centre moved in the last update, with the
// largest move (of centre first) and the largest among the others.
type centreMoves struct {
	moves  []float64
	first  int
	second float64
}

// measure records the moves from old to centers.
func (mv *centreMoves) measure(old, centers []float64, d int) {
	mv.first, mv.second = -1, 0
	for j := range mv.moves {
		mv.moves[j] = math.Sqrt(sqDist(old[j*d:(j+1)*d], centers[j*d:(j+1)*d]))
		switch {
		case mv.first < 0 || mv.moves[j] > mv.moves[mv.first]:
			if mv.first >= 0 {
				mv.second = mv.moves[mv.first]
			}
			mv.first = j
		case mv.moves[j] > mv.second:
			mv.second = mv.moves[j]
		}
	}
}

// boundedAssign is the assignment step of the Hamerly iteration: it first
// loosens every row's bounds by the centre moves mv, then labels the row
// with its nearest centre (ties to the lowest index), searching only where
// the bounds allow a change, and accumulates the per-chunk sums for the
// next centres. With exact, it also records every row's exact squared
// distance and the per-chunk inertia, as lloyd's assign does.
func (p *problem) boundedAssign(centers []float64, k int, st *stepState, upper, lower, half []float64, mv *centreMoves, exact bool) {
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
	pb := newPointBlocks(k, d)
	pb.setAll(centers)
	p.parallel(func(c, lo, hi int) {
		sums, ws := st.sums[c], st.wsum[c]
		clear(sums)
		clear(ws)
		var stack [resultStack]float64
		buf, stride, batch := pb.resultBuf(stack[:]), pb.stride(), pb.batch()
		// Per row of a batch (pb.batch() <= batchFloats/lanes): whether its
		// bounds call for a search, and its distance to its centre, -1
		// when not known.
		var search [batchFloats / lanes]bool
		var dds [batchFloats / lanes]float64
		moved := 0
		var inert float64
		for b0 := lo; b0 < hi; b0 += batch {
			b1 := min(b0+batch, hi)
			need := 0
			for i := b0; i < b1; i++ {
				a := st.labels[i]
				u := upper[i] + mv.moves[a]
				l := lower[i]
				if a == mv.first {
					l -= mv.second
				} else {
					l -= mv.moves[mv.first]
				}
				bound := max(half[a], l) * (1 - boundSlack)
				dd := -1.0
				if exact || u*(1+boundSlack) >= bound {
					dd = sqDist(p.row(i), centers[a*d:(a+1)*d])
				}
				srch := false
				if u*(1+boundSlack) >= bound {
					u = math.Sqrt(dd)
					srch = u*(1+boundSlack) >= bound
				}
				if srch {
					need++
				}
				upper[i], lower[i] = u, l
				search[i-b0], dds[i-b0] = srch, dd
			}
			// Many searches: one call of the block kernel for the batch.
			whole := need*4 >= b1-b0
			if whole {
				pb.dists(buf, p.x[b0*d:b1*d])
			}
			for i := b0; i < b1; i++ {
				r, a, dd := p.row(i), st.labels[i], dds[i-b0]
				if search[i-b0] {
					res := buf[(i-b0)*stride:][:stride]
					if !whole {
						pb.dists(res, r)
					}
					best, bd, second := nearest2(res[:k])
					if best != a {
						moved++
						st.labels[i], a = best, best
					}
					dd = bd
					upper[i], lower[i] = math.Sqrt(bd), math.Sqrt(second)
				}
				w := p.weight(i)
				if exact {
					st.dist[i] = dd
					inert += w * dd
				}
				ws[a] += w
				addRow(sums[a*d:(a+1)*d], r, w)
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

// nearest2 returns the index of the least of dist (the lowest on ties),
// its value, and the second least value.
func nearest2(dist []float64) (int, float64, float64) {
	best, bd, second := 0, math.Inf(1), math.Inf(1)
	for j, dd := range dist {
		if dd < bd {
			best, bd, second = j, dd, bd
		} else if dd < second {
			second = dd
		}
	}
	return best, bd, second
}
