package segment

import (
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// miniBatch fits one restart of mini-batch k-means (Sculley 2010, "Web-scale
// k-means clustering", WWW): the centres are seeded by greedy k-means++ on a
// random sample of 3 batches, then each step draws a batch of rows (with
// replacement), labels it against the current centres and moves each centre
// to the weighted mean of every row it has been given so far (a learning rate
// of the batch's weight over the centre's total). The steps shrink as the
// centres gather weight, so a tolerance on their moves would stop it early
// and is not used: it stops when an exponentially smoothed batch inertia has
// not improved for 10 steps, when no centre moves, or after maxIter passes'
// worth of batches; then every row is labelled once against the final
// centres.
//
// Batches are labelled in parallel in fixed chunks and folded into the
// centres in batch order, so the result does not depend on the threads.
func (p *problem) miniBatch(k, trials, batch, maxIter int, rng *rand.Rand) *Result {
	const patience = 10
	d := p.d
	batch = min(batch, p.n)

	// Seed on a sample, drawn without replacement.
	initSize := min(p.n, max(3*batch, 10*k))
	perm := rng.Perm(p.n)[:initSize]
	slices.Sort(perm)
	sample := mat.NewDense(initSize, d, nil)
	var sw []float64
	if p.w != nil {
		sw = make([]float64, initSize)
	}
	for t, i := range perm {
		copy(sample.RawRowView(t), p.row(i))
		if sw != nil {
			sw[t] = p.w[i]
		}
	}
	sub := newProblem(sample, sw, p.threads)
	if sub.sum(func(i int) float64 { return sub.weight(i) }, make([]float64, sub.chunks)) == 0 {
		sub = newProblem(sample, nil, p.threads) // every sampled row has weight 0
	}
	centers := sub.seed(k, trials, rng, nil)

	counts := make([]float64, k)
	idx := make([]int, batch)
	labels := make([]int, batch)
	dist := make([]float64, batch)
	sums := make([]float64, k*d)
	ws := make([]float64, k)
	res := &Result{}
	steps := max(1, maxIter*((p.n+batch-1)/batch))
	bestEWA, ewa, stale := math.Inf(1), math.NaN(), 0
	for step := 1; step <= steps; step++ {
		for b := range idx {
			idx[b] = rng.IntN(p.n)
		}
		chunks := (batch + chunkRows - 1) / chunkRows
		bp := &problem{n: batch, threads: p.threads, chunks: chunks}
		bp.parallel(func(_, lo, hi int) {
			for b := lo; b < hi; b++ {
				labels[b], dist[b] = nearest(p.row(idx[b]), centers, k, d)
			}
		})
		clear(sums)
		clear(ws)
		var inert, wtot float64
		for b, i := range idx {
			w, j := p.weight(i), labels[b]
			ws[j] += w
			wtot += w
			inert += w * dist[b]
			s := sums[j*d : (j+1)*d]
			for t, v := range p.row(i) {
				s[t] += w * v
			}
		}
		var shift float64
		for j := range k {
			if ws[j] == 0 {
				continue
			}
			counts[j] += ws[j]
			c := centers[j*d : (j+1)*d]
			for t := range c {
				// c ← c + (Σw·x − Σw·c) / count, the running weighted mean.
				v := c[t] + (sums[j*d+t]-ws[j]*c[t])/counts[j]
				shift += (v - c[t]) * (v - c[t])
				c[t] = v
			}
		}
		res.Iterations = step
		if shift == 0 {
			res.Converged = true
			break
		}
		if wtot > 0 {
			mean := inert / wtot
			if math.IsNaN(ewa) {
				ewa = mean
			} else {
				alpha := math.Min(1, 2*float64(batch)/float64(p.n+1))
				ewa = ewa*(1-alpha) + mean*alpha
			}
		}
		if ewa < bestEWA {
			bestEWA, stale = ewa, 0
		} else if stale++; stale >= patience {
			res.Converged = true
			break
		}
	}
	p.finish(centers, k, p.scratchFor(k).st, res)
	return res
}
