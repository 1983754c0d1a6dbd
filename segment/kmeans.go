package segment

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// chunkRows is the fixed number of rows a unit of parallel work covers.
// Partial sums are kept per chunk and added in chunk order, so results do
// not depend on how many threads share the chunks.
const chunkRows = 2048

// KMeans holds the settings of a k-means fit. The zero value of every field
// but K is a sensible default.
type KMeans struct {
	K int // number of clusters, at least 1
	// NInit is the number of restarts from different seedings; the one with
	// the lowest inertia is kept (ties go to the earliest). 0 means 10.
	NInit int
	// MaxIter caps the Lloyd iterations of one restart. 0 means 300.
	MaxIter int
	// Tol stops a restart when the squared centroid shift of an iteration,
	// summed over clusters, is at most Tol times the mean per-feature
	// variance of the data (scikit-learn's convention). 0 means 1e-4.
	Tol float64
	// Seed drives the seeding: restart i draws from its own PCG stream
	// (Seed, i), so restarts do not depend on each other.
	Seed uint64
	// Threads caps the goroutines used; 0 means GOMAXPROCS. The result is
	// the same for every value.
	Threads int
	// LocalTrials is the number of candidates the greedy k-means++ seeding
	// tries per centre, at most 64; 0 means 2 + ⌊ln K⌋.
	LocalTrials int
	// Algorithm is the iteration scheme; empty means Hamerly.
	Algorithm Algorithm
	// BatchSize is the number of rows per step of mini-batch k-means; 0
	// means 1024. Other algorithms ignore it.
	BatchSize int
}

// Algorithm names an iteration scheme of k-means.
type Algorithm string

// Algorithms. Lloyd and Hamerly give identical results from the same start;
// Hamerly skips most distance computations once clusters settle. MiniBatch
// approximates: it moves the centres with small random batches of rows and
// touches every row only to label it at the end, for inputs too large to
// iterate over fully.
const (
	Lloyd     Algorithm = "lloyd"
	Hamerly   Algorithm = "hamerly"
	MiniBatch Algorithm = "minibatch"
)

// Result is a fitted clustering with the statistics of the fit.
type Result struct {
	Centroids    *mat.Dense // K × d, in the space of the data
	Labels       []int      // cluster of each row, 0..K-1
	Distances    []float64  // squared distance of each row to its centroid
	Sizes        []int      // rows per cluster
	Inertia      float64    // weighted sum of Distances
	Iterations   int        // Lloyd iterations of the kept restart
	Converged    bool       // whether the kept restart met the tolerance before MaxIter
	Restart      int        // index of the kept restart
	Inertias     []float64  // final inertia of every restart
	EmptyRepairs int        // clusters re-seeded after emptying, in the kept restart
}

func (km KMeans) defaults() KMeans {
	if km.NInit == 0 {
		km.NInit = 10
	}
	if km.MaxIter == 0 {
		km.MaxIter = 300
	}
	if km.Tol == 0 {
		km.Tol = 1e-4
	}
	if km.Threads <= 0 {
		km.Threads = runtime.GOMAXPROCS(0)
	}
	if km.LocalTrials == 0 {
		km.LocalTrials = 2 + int(math.Log(float64(km.K)))
	}
	if km.Algorithm == "" {
		km.Algorithm = Hamerly
	}
	if km.BatchSize == 0 {
		km.BatchSize = 1024
	}
	return km
}

// Fit clusters the rows of x into K clusters with k-means: greedy k-means++
// seeding (Arthur & Vassilvitskii 2007, "k-means++: the advantages of careful
// seeding"; the greedy variant tries LocalTrials candidates per centre and
// keeps the one that lowers the potential most), then Lloyd's iterations
// (Lloyd 1982): assign every row to its nearest centroid, move every
// centroid to the weighted mean of its rows, until the centroids move less
// than the tolerance. A cluster left empty is re-seeded with the row farthest
// from its centroid. weights, one per row and non-negative, weigh rows in the
// seeding, the means and the inertia; nil means uniform.
func (km KMeans) Fit(x *mat.Dense, weights []float64) (*Result, error) {
	n, d := x.Dims()
	if km.K < 1 {
		return nil, fmt.Errorf("segment: k = %d, want at least 1", km.K)
	}
	if km.LocalTrials > maxTrials {
		return nil, fmt.Errorf("segment: LocalTrials = %d, want at most %d", km.LocalTrials, maxTrials)
	}
	if km.NInit < 0 || km.MaxIter < 0 || km.Tol < 0 || km.LocalTrials < 0 || km.BatchSize < 0 {
		return nil, errors.New("segment: NInit, MaxIter, Tol, LocalTrials and BatchSize must not be negative")
	}
	switch km.Algorithm {
	case "", Lloyd, Hamerly, MiniBatch:
	default:
		return nil, fmt.Errorf("segment: unknown algorithm %q, want lloyd, hamerly or minibatch", km.Algorithm)
	}
	if n < km.K {
		return nil, fmt.Errorf("segment: %d rows for k = %d clusters", n, km.K)
	}
	if weights != nil {
		if len(weights) != n {
			return nil, fmt.Errorf("segment: %d weights for %d rows", len(weights), n)
		}
		for i, w := range weights {
			if !(w >= 0) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("segment: weight of row %d is %v, want a finite value >= 0", i, w)
			}
		}
	}
	raw := x.RawMatrix()
	for i := range n {
		for _, v := range raw.Data[i*raw.Stride : i*raw.Stride+d] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("segment: row %d holds %v", i, v)
			}
		}
	}
	km = km.defaults()
	p := newProblem(x, weights, km.Threads)
	tol := km.Tol * p.meanVariance()

	var best *Result
	inertias := make([]float64, km.NInit)
	for r := range km.NInit {
		rng := rand.New(rand.NewPCG(km.Seed, uint64(r)))
		var res *Result
		switch km.Algorithm {
		case Lloyd:
			res = p.lloyd(p.seed(km.K, km.LocalTrials, rng), km.MaxIter, tol)
		case Hamerly:
			res = p.hamerly(p.seed(km.K, km.LocalTrials, rng), km.MaxIter, tol)
		case MiniBatch:
			res = p.miniBatch(km.K, km.LocalTrials, km.BatchSize, km.MaxIter, rng)
		}
		res.Restart = r
		inertias[r] = res.Inertia
		if best == nil || res.Inertia < best.Inertia {
			// The labels and distances live in buffers the next restart
			// reuses.
			res.Labels, res.Distances = slices.Clone(res.Labels), slices.Clone(res.Distances)
			best = res
		}
	}
	best.Inertias = inertias
	return best, nil
}

// problem is the data of one fit, laid out for the kernels.
type problem struct {
	x       []float64 // row-major, stride d
	n, d    int
	w       []float64 // nil = uniform
	threads int
	chunks  int
	scr     *scratch // buffers reused from restart to restart
}

func newProblem(x *mat.Dense, w []float64, threads int) *problem {
	n, d := x.Dims()
	raw := x.RawMatrix()
	data := raw.Data
	if raw.Stride != d {
		data = make([]float64, n*d)
		for i := range n {
			copy(data[i*d:(i+1)*d], raw.Data[i*raw.Stride:])
		}
	}
	return &problem{x: data[:n*d], n: n, d: d, w: w, threads: threads, chunks: (n + chunkRows - 1) / chunkRows}
}

func (p *problem) weight(i int) float64 {
	if p.w == nil {
		return 1
	}
	return p.w[i]
}

func (p *problem) row(i int) []float64 { return p.x[i*p.d : (i+1)*p.d] }

// parallel runs fn on every chunk, on at most p.threads goroutines. fn must
// write only to state owned by its chunk.
func (p *problem) parallel(fn func(chunk, lo, hi int)) {
	if p.threads <= 1 || p.chunks <= 1 {
		for c := range p.chunks {
			fn(c, c*chunkRows, min((c+1)*chunkRows, p.n))
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, p.chunks)
	for c := range p.chunks {
		next <- c
	}
	close(next)
	for range min(p.threads, p.chunks) {
		wg.Go(func() {
			for c := range next {
				fn(c, c*chunkRows, min((c+1)*chunkRows, p.n))
			}
		})
	}
	wg.Wait()
}

// meanVariance is the mean over features of the (unweighted) variance.
func (p *problem) meanVariance() float64 {
	mean := make([]float64, p.d)
	for i := range p.n {
		for j, v := range p.row(i) {
			mean[j] += v
		}
	}
	var total float64
	for j := range mean {
		mean[j] /= float64(p.n)
	}
	for i := range p.n {
		for j, v := range p.row(i) {
			total += (v - mean[j]) * (v - mean[j])
		}
	}
	return total / float64(p.n) / float64(p.d)
}

// sqDist is the squared Euclidean distance of a and b (len(b) >= len(a)),
// summed in four interleaved accumulators.
func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		t0, t1, t2, t3 := a[i]-b[i], a[i+1]-b[i+1], a[i+2]-b[i+2], a[i+3]-b[i+3]
		s0 += t0 * t0
		s1 += t1 * t1
		s2 += t2 * t2
		s3 += t3 * t3
	}
	for ; i < len(a); i++ {
		t := a[i] - b[i]
		s0 += t * t
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDistBelow is sqDist, but gives up (returning +Inf) as soon as the
// partial sum shows the result cannot be below bound (or equal to it, when
// orEqual). Each accumulator only grows and floating-point addition is
// monotone, so a partial sum at or over the bound means the full sum is too:
// the answer is exactly that of comparing sqDist with bound.
func sqDistBelow(a, b []float64, bound float64, orEqual bool) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		t0, t1, t2, t3 := a[i]-b[i], a[i+1]-b[i+1], a[i+2]-b[i+2], a[i+3]-b[i+3]
		s0 += t0 * t0
		s1 += t1 * t1
		s2 += t2 * t2
		s3 += t3 * t3
		if p := (s0 + s1) + (s2 + s3); p > bound || (!orEqual && p == bound) {
			return math.Inf(1)
		}
	}
	for ; i < len(a); i++ {
		t := a[i] - b[i]
		s0 += t * t
	}
	return (s0 + s1) + (s2 + s3)
}

// nearest returns the nearest centre to r and its squared distance, ties to
// the lowest index. It starts from the centre guess (the row's previous
// label), which is usually the answer, so that most other distances are
// abandoned early; the result does not depend on the guess.
func nearest(r, centers []float64, k, d, guess int) (int, float64) {
	if guess < 0 || guess >= k {
		guess = 0
	}
	best, bd := guess, sqDist(r, centers[guess*d:(guess+1)*d])
	for j := range k {
		if j == guess {
			continue
		}
		// A lower index wins a tie, so it must be kept when equal.
		dd := sqDistBelow(r, centers[j*d:(j+1)*d], bd, j < best)
		if dd < bd || (dd == bd && j < best) {
			best, bd = j, dd
		}
	}
	return best, bd
}

// maxTrials caps the candidates per centre of the greedy seeding.
const maxTrials = 64

// seedPruning lets the seeding skip distances the triangle inequality
// makes needless; tests turn it off to compare with the exhaustive seeding.
var seedPruning = true

// seed picks k initial centres by greedy k-means++.
//
// Every row keeps its nearest chosen centre (its owner, lowest index on
// ties) and its squared distance to it. A candidate at least twice as far
// from the owner as the row is cannot be nearer to the row than the owner
// (triangle inequality), so the row's distance to it is not computed: the
// row's contribution is the same as if it were, and the seeding the same as
// an exhaustive one. The owners are the labels a first assignment step
// would give; with a lower bound on each row's distance to its other
// centres, kept along the way, they let the Hamerly iteration start without
// a full search.
func (p *problem) seed(k, trials int, rng *rand.Rand) []float64 {
	d := p.d
	sc := p.scratchFor(k)
	centers := make([]float64, k*d)
	closest := sc.closest // weighted squared distance to the nearest chosen centre
	owner, ownerDist, second := sc.owner, sc.ownerDist, sc.second
	partial := make([]float64, p.chunks)

	// The first centre: a row drawn with probability proportional to weight.
	first := p.draw(rng.Float64()*p.sum(func(i int) float64 { return p.weight(i) }, partial), partial, func(i int) float64 { return p.weight(i) })
	copy(centers[:d], p.row(first))
	p.parallel(func(c, lo, hi int) {
		for i := lo; i < hi; i++ {
			owner[i] = 0
			ownerDist[i] = sqDist(p.row(i), centers[:d])
			second[i] = math.Inf(1)
			closest[i] = p.weight(i) * ownerDist[i]
		}
	})
	pot := p.sum(func(i int) float64 { return closest[i] }, partial)

	ccs := make([]float64, trials*k) // squared distances from each candidate to the chosen centres
	trialSums := make([][]float64, trials)
	for t := range trialSums {
		trialSums[t] = make([]float64, p.chunks)
	}
	for c := 1; c < k; c++ {
		bestPot := math.Inf(1)
		// Candidates are drawn before any is evaluated, all against the
		// same potential, as the greedy variant prescribes.
		cands := make([]int, trials)
		for t := range cands {
			if pot > 0 {
				cands[t] = p.draw(rng.Float64()*pot, partial, func(i int) float64 { return closest[i] })
			} else {
				cands[t] = rng.IntN(p.n) // every row sits on a centre already
			}
		}
		// All candidates are evaluated in one pass over the rows, each
		// summed in its own per-chunk partials. draw reuses partial: its
		// chunk sums of closest are recomputed for the next draw below.
		candRows := make([][]float64, trials)
		for t, cand := range cands {
			cr := p.row(cand)
			candRows[t] = cr
			for o := range c {
				ccs[t*k+o] = sqDist(cr, centers[o*d:(o+1)*d])
			}
		}
		p.parallel(func(ch, lo, hi int) {
			var sums [maxTrials]float64
			for i := lo; i < hi; i++ {
				r, o, w := p.row(i), owner[i], p.weight(i)
				bound := 4 * ownerDist[i] * (1 + boundSlack)
				if !seedPruning {
					bound = math.Inf(1)
				}
				for t, cr := range candRows {
					v := closest[i]
					if ccs[t*k+int(o)] <= bound {
						if dd := w * sqDist(r, cr); dd < v {
							v = dd
						}
					}
					sums[t] += v
				}
			}
			for t := range cands {
				trialSums[t][ch] = sums[t]
			}
		})
		bestT := 0
		for t := range cands {
			cp := 0.0
			for _, s := range trialSums[t] {
				cp += s
			}
			if cp < bestPot {
				bestPot, bestT = cp, t
			}
		}
		cr := candRows[bestT]
		cc := ccs[bestT*k : (bestT+1)*k]
		copy(centers[c*d:(c+1)*d], cr)
		p.parallel(func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				o := owner[i]
				if seedPruning && cc[o] > 4*ownerDist[i]*(1+boundSlack) {
					// The new centre is at least this far from the row.
					second[i] = min(second[i], math.Sqrt(cc[o])-math.Sqrt(ownerDist[i]))
					continue
				}
				dd := sqDist(p.row(i), cr)
				if w := p.weight(i) * dd; w < closest[i] {
					closest[i] = w
				}
				if dd < ownerDist[i] {
					second[i] = min(second[i], math.Sqrt(ownerDist[i]))
					owner[i], ownerDist[i] = int32(c), dd
				} else {
					second[i] = min(second[i], math.Sqrt(dd))
				}
			}
		})
		pot = p.sum(func(i int) float64 { return closest[i] }, partial)
	}
	return centers
}

// scratch holds the per-row buffers of one restart, reused by the next.
type scratch struct {
	closest, ownerDist, second []float64
	owner                      []int32
	upper, lower               []float64
	st                         *stepState
}

// scratchFor returns the problem's scratch buffers, allocating them once.
func (p *problem) scratchFor(k int) *scratch {
	if p.scr == nil || len(p.scr.st.wsum[0]) != k {
		p.scr = &scratch{
			closest: make([]float64, p.n), ownerDist: make([]float64, p.n), second: make([]float64, p.n),
			owner: make([]int32, p.n), upper: make([]float64, p.n), lower: make([]float64, p.n),
			st: p.newState(k),
		}
	}
	return p.scr
}

// sum adds f over all rows in chunk order, leaving each chunk's sum in partial.
func (p *problem) sum(f func(i int) float64, partial []float64) float64 {
	p.parallel(func(c, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			s += f(i)
		}
		partial[c] = s
	})
	var total float64
	for _, s := range partial {
		total += s
	}
	return total
}

// draw returns the row at which the running sum of f passes target, given
// the chunk sums of f in partial. Rows with f = 0 are never drawn; should
// rounding carry target past the end, the last row with mass is drawn.
func (p *problem) draw(target float64, partial []float64, f func(i int) float64) int {
	last := 0
	for c, s := range partial {
		if s <= 0 {
			continue
		}
		last = c
		if target < s {
			return p.drawIn(c, target, f)
		}
		target -= s
	}
	return p.drawIn(last, math.Inf(1), f)
}

func (p *problem) drawIn(c int, target float64, f func(i int) float64) int {
	pick := c * chunkRows
	for i := c * chunkRows; i < min((c+1)*chunkRows, p.n); i++ {
		v := f(i)
		if v <= 0 {
			continue
		}
		pick = i
		if target < v {
			return i
		}
		target -= v
	}
	return pick
}

// assignStep labels every row with its nearest centre (ties to the lowest
// index) and accumulates per-chunk weighted sums for the next centres.
type stepState struct {
	labels []int
	dist   []float64
	sums   [][]float64 // per chunk: k×d weighted coordinate sums
	wsum   [][]float64 // per chunk: k weights
	inert  []float64   // per chunk: weighted inertia
	moved  []bool      // per chunk: whether any label changed
}

func (p *problem) newState(k int) *stepState {
	st := &stepState{
		labels: make([]int, p.n),
		dist:   make([]float64, p.n),
		sums:   make([][]float64, p.chunks),
		wsum:   make([][]float64, p.chunks),
		inert:  make([]float64, p.chunks),
		moved:  make([]bool, p.chunks),
	}
	for c := range p.chunks {
		st.sums[c] = make([]float64, k*p.d)
		st.wsum[c] = make([]float64, k)
	}
	for i := range st.labels {
		st.labels[i] = -1
	}
	return st
}

func (p *problem) assign(centers []float64, k int, st *stepState) {
	d := p.d
	p.parallel(func(c, lo, hi int) {
		sums, ws := st.sums[c], st.wsum[c]
		clear(sums)
		clear(ws)
		var inert float64
		moved := false
		for i := lo; i < hi; i++ {
			r := p.row(i)
			best, bd := nearest(r, centers, k, d, st.labels[i])
			if st.labels[i] != best {
				moved = true
				st.labels[i] = best
			}
			st.dist[i] = bd
			w := p.weight(i)
			inert += w * bd
			ws[best] += w
			s := sums[best*d : (best+1)*d]
			for j, v := range r {
				s[j] += w * v
			}
		}
		st.inert[c], st.moved[c] = inert, moved
	})
}

// update computes the new centres from the chunk sums, re-seeding empty
// clusters, and returns the squared shift and the number of repairs.
func (p *problem) update(centers []float64, k int, st *stepState) (shift float64, repairs int) {
	d := p.d
	sums := make([]float64, k*d)
	ws := make([]float64, k)
	for c := range p.chunks {
		for j, v := range st.sums[c] {
			sums[j] += v
		}
		for j, v := range st.wsum[c] {
			ws[j] += v
		}
	}
	for j := range k {
		if ws[j] > 0 {
			continue
		}
		// Move the row farthest from its centre (lowest index on ties), out
		// of a cluster that keeps at least one other row, into cluster j.
		far, fd := -1, -1.0
		counts := make([]int, k)
		for _, l := range st.labels {
			counts[l]++
		}
		for i, dd := range st.dist {
			if dd > fd && counts[st.labels[i]] > 1 && p.weight(i) > 0 {
				far, fd = i, dd
			}
		}
		if far < 0 {
			continue // fewer distinct rows than clusters: leave it empty
		}
		old, w := st.labels[far], p.weight(far)
		for t, v := range p.row(far) {
			sums[old*d+t] -= w * v
			sums[j*d+t] = w * v
		}
		ws[old] -= w
		ws[j] = w
		st.labels[far] = j
		st.dist[far] = 0
		repairs++
	}
	for j := range k {
		if ws[j] <= 0 {
			continue
		}
		c := centers[j*d : (j+1)*d]
		for t := range c {
			v := sums[j*d+t] / ws[j]
			shift += (v - c[t]) * (v - c[t])
			c[t] = v
		}
	}
	return shift, repairs
}

// lloyd iterates from the given centres and returns the fitted result.
func (p *problem) lloyd(centers []float64, maxIter int, tol float64) *Result {
	k := len(centers) / p.d
	st := p.scratchFor(k).st
	for i := range st.labels {
		st.labels[i] = -1
	}
	res := &Result{}
	for it := 1; it <= maxIter; it++ {
		p.assign(centers, k, st)
		moved := slices.Contains(st.moved, true)
		shift, repairs := p.update(centers, k, st)
		res.EmptyRepairs += repairs
		res.Iterations = it
		if (!moved && repairs == 0) || shift <= tol {
			res.Converged = true
			break
		}
	}
	p.finish(centers, k, st, res)
	return res
}

// finish labels every row against the final centres and fills in the
// result's centroids, labels, distances, sizes and inertia.
func (p *problem) finish(centers []float64, k int, st *stepState, res *Result) {
	p.assign(centers, k, st)
	p.collect(centers, k, st, res)
}

// collect fills in the result's centroids, labels, distances, sizes and
// inertia from the state of a final assignment step.
func (p *problem) collect(centers []float64, k int, st *stepState, res *Result) {
	res.Centroids = mat.NewDense(k, p.d, centers)
	res.Labels = st.labels
	res.Distances = st.dist
	res.Sizes = make([]int, k)
	for _, l := range st.labels {
		res.Sizes[l]++
	}
	for _, v := range st.inert {
		res.Inertia += v
	}
}

// Assign labels every row of x with its nearest centroid (ties to the
// lowest index) and its squared distance. labels and dist are filled if long
// enough and allocated otherwise; threads 0 means GOMAXPROCS.
func Assign(labels []int, dist []float64, x, centroids *mat.Dense, threads int) ([]int, []float64) {
	n, d := x.Dims()
	k, cd := centroids.Dims()
	if cd != d {
		panic(fmt.Sprintf("segment: centroids have %d columns, data %d", cd, d))
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if len(labels) < n {
		labels = make([]int, n)
	}
	if len(dist) < n {
		dist = make([]float64, n)
	}
	p := newProblem(x, nil, threads)
	centers := newProblem(centroids, nil, 1).x
	st := &stepState{labels: labels[:n], dist: dist[:n], sums: make([][]float64, p.chunks), wsum: make([][]float64, p.chunks),
		inert: make([]float64, p.chunks), moved: make([]bool, p.chunks)}
	for c := range p.chunks {
		st.sums[c] = make([]float64, k*d)
		st.wsum[c] = make([]float64, k)
	}
	p.assign(centers, k, st)
	return st.labels, st.dist
}
