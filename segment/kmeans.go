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
	// Progress, when set, is called after each restart with the number of
	// restarts done and their total (NInit, plus one with Init), on the
	// goroutine that called Fit. It is for progress displays and does not
	// change the result.
	Progress func(done, total int)
	// Init, when set (K rows of the data's width), is one more start after
	// the seeded restarts: Lloyd's iterations from these centres, such as
	// the previous night's centroids. It is restart NInit. Its result is
	// kept unless a seeded restart's inertia is lower by more than
	// InitMargin, relative (0: the lowest inertia wins, as for any
	// restart), so that a refit on slightly changed data can stay with the
	// previous solution rather than jump to another local optimum of
	// about the same quality.
	Init       *mat.Dense
	InitMargin float64
	// SampleSize is the number of rows the seeded restarts run on. With
	// fewer rows than the data holds, the NInit restarts are seeded and
	// iterated to convergence on a uniform sample of that many rows, drawn
	// without replacement from the PCG stream (Seed, 1<<63), each sampled
	// row keeping its weight; the restart of least inertia on the sample
	// is then iterated to convergence on all the rows from the centres it
	// reached. Restarts cost most where they start far from a minimum;
	// finishing one from centres already near it takes a few passes. The
	// warm start (Init) runs on all the rows and is compared with the
	// finished restart there. 0 means max(50,000, 2,000·K) rows, or every
	// row when there are no more, so that results on smaller data are those
	// of full restarts; negative means every row. MiniBatch ignores it (it
	// samples already).
	SampleSize int
}

// Automatic sample size (see KMeans.SampleSize): at least sampleFloor rows,
// and samplePerCluster per cluster.
const (
	sampleFloor      = 50_000
	samplePerCluster = 2_000
)

// sampleStream is the PCG stream, with the seed, of the sample's draws;
// restart r draws from stream r.
const sampleStream = 1 << 63

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
	Centroids  *mat.Dense // K × d, in the space of the data
	Labels     []int      // cluster of each row, 0..K-1
	Distances  []float64  // squared distance of each row to its centroid
	Sizes      []int      // rows per cluster
	Inertia    float64    // weighted sum of Distances
	Iterations int        // Lloyd iterations of the kept restart
	Converged  bool       // whether the kept restart met the tolerance before MaxIter
	Restart    int        // index of the kept restart
	// Inertias holds the inertia of every restart: its final one on all
	// the rows, or, for restarts run on a sample (see KMeans.SampleSize),
	// its final one on the sample scaled by the total weight over the
	// sample's (an estimate of the inertia of its centres on all the rows),
	// except for the kept one, whose entry is its inertia once finished on
	// all the rows (Inertia, unless the warm start was kept).
	Inertias     []float64
	EmptyRepairs int // clusters re-seeded after emptying, in the kept restart
	// SampleRows is the number of rows the seeded restarts ran on: the
	// number of rows unless they ran on a sample. Iterations, Converged and
	// EmptyRepairs of a sampled restart are those of its finish on all the
	// rows.
	SampleRows int
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
	n, _ := x.Dims()
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
	if km.Init != nil {
		if r, c := km.Init.Dims(); r != km.K || c != x.RawMatrix().Cols {
			return nil, fmt.Errorf("segment: initial centres are %d×%d, want %d×%d", r, c, km.K, x.RawMatrix().Cols)
		}
		if !(km.InitMargin >= 0) || math.IsInf(km.InitMargin, 0) {
			return nil, fmt.Errorf("segment: InitMargin = %v, want a finite value >= 0", km.InitMargin)
		}
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
	km = km.defaults()
	p := newProblem(x, weights, km.Threads)
	if i, j := p.firstNonFinite(); i >= 0 {
		return nil, fmt.Errorf("segment: row %d holds %v", i, p.row(i)[j])
	}
	tol := km.Tol * p.meanVariance()

	total := km.NInit
	if km.Init != nil {
		total++
	}
	inertias := make([]float64, total)
	// relabel: the kept result's labels and distances are no longer in
	// the scratch buffers, a later restart having reused them.
	var best *Result
	relabel := false
	if m := km.sampleRows(n); m < n && km.Algorithm != MiniBatch {
		// nil when every sampled row weighs 0: the restarts then run on
		// every row.
		best = p.sampledRestarts(km, m, tol, inertias, total)
	}
	if best == nil {
		// The labels and distances of a result live in buffers the next
		// restart reuses: a best restart that is not the last one labels
		// the rows again at the end, rather than holding a copy all along.
		p.restarts(km, tol, func(r int, res *Result) {
			res.Restart = r
			inertias[r] = res.Inertia
			if best == nil || res.Inertia < best.Inertia {
				best = res
			}
			if km.Progress != nil {
				km.Progress(r+1, total)
			}
		})
		best.SampleRows = n
		relabel = best.Restart != km.NInit-1
	}
	if km.Init != nil {
		init := p.lloyd(slices.Clone(mat.DenseCopyOf(km.Init).RawMatrix().Data), km.MaxIter, tol, false)
		init.Restart, init.SampleRows = km.NInit, best.SampleRows
		inertias[km.NInit] = init.Inertia
		if init.Inertia <= best.Inertia*(1+km.InitMargin) {
			best, relabel = init, false
		} else {
			relabel = true
		}
		if km.Progress != nil {
			km.Progress(total, total)
		}
	}
	if relabel {
		st := p.scratchFor(km.K).st
		p.assign(best.Centroids.RawMatrix().Data, km.K, st)
		best.Labels, best.Distances = st.labels, st.dist
	}
	best.Inertias = inertias
	return best, nil
}

// restarts runs the NInit seeded restarts on the problem's rows, handing
// each result to keep as it is done. The labels and distances of a result
// live in scratch buffers the next restart reuses.
func (p *problem) restarts(km KMeans, tol float64, keep func(r int, res *Result)) {
	rng := func(r int) *rand.Rand { return rand.New(rand.NewPCG(km.Seed, uint64(r))) }
	if km.Algorithm == MiniBatch {
		for r := range km.NInit {
			keep(r, p.miniBatch(km.K, km.LocalTrials, km.BatchSize, km.MaxIter, rng(r)))
		}
		return
	}
	// Restarts are seeded in groups that share their passes over the rows,
	// then iterated one by one.
	for r0 := 0; r0 < km.NInit; {
		rngs := make([]*rand.Rand, min(maxGroup, km.NInit-r0))
		for i := range rngs {
			rngs[i] = rng(r0 + i)
		}
		sc := p.scratchFor(km.K)
		sds := p.seedGroup(km.K, km.LocalTrials, rngs, p.seedRowsFor(len(rngs), km.K))
		p.settleGroup(sds, km.K)
		for i, sd := range sds {
			if km.Algorithm == Lloyd {
				p.begin(sd, sc.st, nil)
				keep(r0+i, p.lloyd(sd.centers, km.MaxIter, tol, true))
			} else {
				lower := p.lowerFor()
				p.begin(sd, sc.st, lower)
				keep(r0+i, p.hamerly(sd.centers, sd.rows.dist, lower, km.MaxIter, tol))
			}
		}
		r0 += len(rngs)
	}
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

// firstNonFinite returns the first row holding a NaN or an infinity and
// the column of the first such value in it, or -1, -1.
func (p *problem) firstNonFinite() (int, int) {
	first := make([]int, p.chunks) // per chunk, its first such row or -1
	p.parallel(func(c, lo, hi int) {
		first[c] = -1
		for i := lo; i < hi && first[c] < 0; i++ {
			for _, v := range p.row(i) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					first[c] = i
					break
				}
			}
		}
	})
	for _, i := range first {
		if i >= 0 {
			for j, v := range p.row(i) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return i, j
				}
			}
		}
	}
	return -1, -1
}

// meanVariance is the mean over features of the (unweighted) variance,
// each sum made by chunks and added up in chunk order.
func (p *problem) meanVariance() float64 {
	d := p.d
	part := make([]float64, p.chunks*d) // per chunk: the sum of each feature
	p.parallel(func(c, lo, hi int) {
		s := part[c*d : (c+1)*d]
		for i := lo; i < hi; i++ {
			for j, v := range p.row(i) {
				s[j] += v
			}
		}
	})
	mean := make([]float64, d)
	for c := range p.chunks {
		for j, v := range part[c*d : (c+1)*d] {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(p.n)
	}
	p.parallel(func(c, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			for j, v := range p.row(i) {
				s += (v - mean[j]) * (v - mean[j])
			}
		}
		part[c] = s
	})
	var total float64
	for _, s := range part[:p.chunks] {
		total += s
	}
	return total / float64(p.n) / float64(p.d)
}

// nearest returns the nearest centre to r and its squared distance, ties to
// the lowest index.
func nearest(r, centers []float64, k, d int) (int, float64) {
	best, bd := 0, sqDist(r, centers[:d])
	for j := 1; j < k; j++ {
		if dd := sqDist(r, centers[j*d:(j+1)*d]); dd < bd {
			best, bd = j, dd
		}
	}
	return best, bd
}

// seedPrune makes the seeding skip the distances the triangle inequality
// shows cannot change a row's owner or potential (prunedDists), rather
// than measure every row against every lane with the block kernel. Both
// give the same bits; pruning is faster, and tests run both.
var seedPrune = true

// maxTrials caps the candidates per centre of the greedy seeding.
const maxTrials = 64

// maxGroup caps the restarts seeded together (see seedGroup). Each one
// holds 9 bytes per row (12 past 256 clusters) while it waits for its
// iterations.
const maxGroup = 3

// seedRows is what the seeding of one restart knows of every row: its
// owner, the nearest chosen centre (lowest index on ties), and its squared
// distance to it. The owners are the labels, and the distances those, a
// first assignment step from the chosen centres gives.
type seedRows struct {
	owner owners
	dist  []float64
}

// owners holds a cluster index per row: in a byte when there are at most
// 256 clusters, which keeps the seeding's memory down.
type owners struct {
	small []uint8
	wide  []int32
}

func newOwners(n, k int) owners {
	if k <= 256 {
		return owners{small: make([]uint8, n)}
	}
	return owners{wide: make([]int32, n)}
}

func (o owners) get(i int) int {
	if o.small != nil {
		return int(o.small[i])
	}
	return int(o.wide[i])
}

func (o owners) set(i, c int) {
	if o.small != nil {
		o.small[i] = uint8(c)
		return
	}
	o.wide[i] = int32(c)
}

// seeding is one restart's greedy k-means++ under way.
type seeding struct {
	rng       *rand.Rand
	rows      *seedRows
	centers   []float64 // k × d; the first c are chosen
	pending   int       // the centre chosen last, whose update the rows still await; -1 if none
	partial   []float64 // chunk sums of the potential, the pending centre included
	pot       float64   // their total
	cands     []int     // the candidates for the next centre
	trialSums [][]float64
	first     *stepState // the first assignment step's chunk sums, once settled
	laneDist  []float64  // for pruning: see measureLanes
}

// seed picks k initial centres by greedy k-means++ (see seedGroup), leaving
// every row's owner and distance in the problem's scratch. With st, it
// also makes into st the first assignment step from the centres, as assign
// would (labels, distances, chunk sums and inertia).
func (p *problem) seed(k, trials int, rng *rand.Rand, st *stepState) []float64 {
	sds := p.seedGroup(k, trials, []*rand.Rand{rng}, p.seedRowsFor(1, k))
	p.settleGroup(sds, k)
	if st != nil {
		p.begin(sds[0], st, nil)
	}
	return sds[0].centers
}

// seedGroup picks k initial centres for each of len(rngs) restarts by
// greedy k-means++: the first centre is a row drawn with probability
// proportional to its weight; each next one is the best of trials
// candidates, drawn with probability proportional to the potential, the
// weighted squared distance to the nearest chosen centre, the one whose
// choice leaves the least total potential (Arthur & Vassilvitskii 2007;
// the greedy variant is scikit-learn's).
//
// A row's potential is w·dist, dist being the distance to its owner (the
// minimum of w times the distances, since rounding a product by w ≥ 0 is
// monotone). One pass over the rows serves each new centre of every
// restart of the group, all measured in the lanes of one block kernel: it
// moves the rows to the centre chosen last, and scores the candidates for
// the next one. The winner's per-chunk sums are the chunk sums of the
// potential once it is added, which is all the next draws need besides the
// rows of the one chunk they land in, so the winner's update waits for the
// next pass; settleGroup makes the last one. Restarts seeded together share
// every read of the rows; each draws from its own rng as it would alone,
// so the centres are the same whatever the group.
func (p *problem) seedGroup(k, trials int, rngs []*rand.Rand, rows []*seedRows) []*seeding {
	d := p.d
	g := len(rngs)
	sds := make([]*seeding, g)
	wsum := make([]float64, p.chunks)
	totalW := p.sum(p.weight, wsum)
	first := newPointBlocks(g, d)
	for r, rng := range rngs {
		sd := &seeding{rng: rng, rows: rows[r], centers: make([]float64, k*d), pending: -1,
			partial: make([]float64, p.chunks), cands: make([]int, trials), trialSums: make([][]float64, trials)}
		for t := range sd.trialSums {
			sd.trialSums[t] = make([]float64, p.chunks)
		}
		// The first centre: a row drawn with probability proportional to weight.
		copy(sd.centers[:d], p.row(p.draw(rng.Float64()*totalW, wsum, p.weight)))
		first.set(r, sd.centers[:d])
		sds[r] = sd
	}
	p.parallel(func(ch, lo, hi int) {
		var sums [maxGroup]float64
		var stack [resultStack]float64
		buf, stride := first.resultBuf(stack[:]), first.stride()
		for b0 := lo; b0 < hi; b0 += first.batch() {
			b1 := min(b0+first.batch(), hi)
			first.dists(buf, p.x[b0*d:b1*d])
			for i := b0; i < b1; i++ {
				for r, dd := range buf[(i-b0)*stride:][:g] {
					rows[r].owner.set(i, 0)
					rows[r].dist[i] = dd
					sums[r] += p.weighted(i, dd)
				}
			}
		}
		for r, sd := range sds {
			sd.partial[ch] = sums[r]
		}
	})
	for _, sd := range sds {
		for _, s := range sd.partial {
			sd.pot += s
		}
	}

	// Restart r's lanes: r·(1+trials) holds its pending centre, the next
	// trials its candidates.
	per := 1 + trials
	pb := newPointBlocks(g*per, d)
	prune := seedPrune
	for c := 1; c < k; c++ {
		for r, sd := range sds {
			sd.drawCandidates(p, c)
			if sd.pending >= 0 {
				pb.set(r*per, sd.centers[sd.pending*d:(sd.pending+1)*d])
			}
			for t, cand := range sd.cands {
				pb.set(r*per+1+t, p.row(cand))
			}
			if prune {
				sd.measureLanes(p, c)
			}
		}
		p.parallel(func(ch, lo, hi int) {
			var sums [maxGroup * maxTrials]float64
			var stack [resultStack]float64
			buf, stride := pb.resultBuf(stack[:]), pb.stride()
			for b0 := lo; b0 < hi; b0 += pb.batch() {
				b1 := min(b0+pb.batch(), hi)
				if prune {
					for r, sd := range sds {
						sd.prunedDists(p, buf, stride, r*per, b0, b1)
					}
				} else {
					pb.dists(buf, p.x[b0*d:b1*d])
				}
				for r, sd := range sds {
					sd.score(p, buf, stride, r*per, b0, b1, sums[r*trials:(r+1)*trials])
				}
			}
			for r, sd := range sds {
				for t := range trials {
					sd.trialSums[t][ch] = sums[r*trials+t]
				}
			}
		})
		for _, sd := range sds {
			sd.choose(p, c)
		}
	}
	return sds
}

// measureLanes sets laneDist to the squared distances from the points of
// the restart's lanes (its pending centre, then its candidates) to its c
// chosen centres, lane by lane.
func (sd *seeding) measureLanes(p *problem, c int) {
	d := p.d
	sd.laneDist = sd.laneDist[:0]
	for l := range 1 + len(sd.cands) {
		var pt []float64
		switch {
		case l > 0:
			pt = p.row(sd.cands[l-1])
		case sd.pending >= 0:
			pt = sd.centers[sd.pending*d : (sd.pending+1)*d]
		}
		for o := range c {
			dd := math.Inf(1)
			if pt != nil {
				dd = sqDist(pt, sd.centers[o*d:(o+1)*d])
			}
			sd.laneDist = append(sd.laneDist, dd)
		}
	}
}

// prunedDists stands in for the block kernel (see seedPrune): it fills
// the restart's lanes of buf for rows b0 to b1 as the kernel would, except
// that it leaves +Inf where the row's owner is nearer than the lane's point
// for sure, which score takes exactly as it would the distance. A point at
// least twice as far from the owner as the row cannot be nearer to the row
// than the owner (triangle inequality; boundSlack covers the rounding). The
// owner is the one the pending centre leaves, as score will find it.
func (sd *seeding) prunedDists(p *problem, buf []float64, stride, lane, b0, b1 int) {
	d, c, nl := p.d, len(sd.laneDist)/(1+len(sd.cands)), 1+len(sd.cands)
	for i := b0; i < b1; i++ {
		r, o, od := p.row(i), sd.rows.owner.get(i), sd.rows.dist[i]
		res := buf[(i-b0)*stride+lane:][:nl]
		for l := range res {
			res[l] = math.Inf(1)
			if sd.laneDist[l*c+o] > 4*od*(1+boundSlack) {
				continue
			}
			if l == 0 {
				res[0] = sqDist(r, sd.centers[sd.pending*d:(sd.pending+1)*d])
				if res[0] < od {
					o, od = sd.pending, res[0]
				}
			} else {
				res[l] = sqDist(r, p.row(sd.cands[l-1]))
			}
		}
	}
}

// score takes the block kernel's results for rows b0 to b1 (row i's from
// buf[(i-b0)*stride+lane]: its distance to the pending centre in lane
// lane, to the candidates in the next ones), moves the rows to the pending
// centre and adds each row's potential with each candidate to sums, in row
// order.
func (sd *seeding) score(p *problem, buf []float64, stride, lane, b0, b1 int, sums []float64) {
	od := sd.rows.dist[b0:b1]
	if sd.pending >= 0 {
		for i := range od {
			if dd := buf[i*stride+lane]; dd < od[i] {
				sd.rows.owner.set(b0+i, sd.pending)
				od[i] = dd
			}
		}
	}
	var w []float64
	if p.w != nil {
		w = p.w[b0:b1]
	}
	addMins(sums, od, w, buf, stride, lane+1)
}

// drawCandidates draws the candidates for centre c: all against the same
// potential, before any is evaluated, as the greedy variant prescribes.
func (sd *seeding) drawCandidates(p *problem, c int) {
	d := p.d
	// The potential of row i, once the pending centre is added.
	potential := func(i int) float64 { return p.weighted(i, sd.rows.dist[i]) }
	if sd.pending >= 0 {
		pc := sd.centers[sd.pending*d : (sd.pending+1)*d]
		potential = func(i int) float64 { return p.weighted(i, min(sd.rows.dist[i], sqDist(p.row(i), pc))) }
	}
	for t := range sd.cands {
		if sd.pot > 0 {
			sd.cands[t] = p.draw(sd.rng.Float64()*sd.pot, sd.partial, potential)
		} else {
			sd.cands[t] = sd.rng.IntN(p.n) // every row sits on a centre already
		}
	}
}

// choose makes the candidate whose potential is least (the earliest on
// ties) centre c.
func (sd *seeding) choose(p *problem, c int) {
	d := p.d
	best, bestPot := 0, math.Inf(1)
	for t, sums := range sd.trialSums {
		cp := 0.0
		for _, s := range sums {
			cp += s
		}
		if cp < bestPot {
			best, bestPot = t, cp
		}
	}
	copy(sd.centers[c*d:(c+1)*d], p.row(sd.cands[best]))
	sd.pot, sd.pending = bestPot, c
	// The winner's chunk sums are the potential's from now on.
	sd.partial, sd.trialSums[best] = sd.trialSums[best], sd.partial
}

// settleGroup moves the rows of every restart of the group to the centre
// it chose last, in one pass, which also makes for each restart the chunk
// sums, weights and inertia of the first assignment step from its centres
// (sd.first): the owners are that step's labels, and their distances its
// distances.
func (p *problem) settleGroup(sds []*seeding, k int) {
	d := p.d
	firsts := p.firstsFor(len(sds), k)
	pb := newPointBlocks(len(sds), d)
	pending := false
	for r, sd := range sds {
		sd.first = firsts[r]
		if sd.pending >= 0 {
			pb.set(r, sd.centers[sd.pending*d:(sd.pending+1)*d])
			pending = true
		}
	}
	p.parallel(func(c, lo, hi int) {
		var inert [maxGroup]float64
		for _, sd := range sds {
			clear(sd.first.sums[c])
			clear(sd.first.wsum[c])
		}
		var stack [resultStack]float64
		buf, stride := pb.resultBuf(stack[:]), pb.stride()
		for b0 := lo; b0 < hi; b0 += pb.batch() {
			b1 := min(b0+pb.batch(), hi)
			if pending {
				pb.dists(buf, p.x[b0*d:b1*d])
			}
			for r, sd := range sds {
				owner, od := sd.rows.owner, sd.rows.dist
				sums, ws := sd.first.sums[c], sd.first.wsum[c]
				for i := b0; i < b1; i++ {
					if sd.pending >= 0 {
						if dd := buf[(i-b0)*stride+r]; dd < od[i] {
							owner.set(i, sd.pending)
							od[i] = dd
						}
					}
					a, w := owner.get(i), p.weight(i)
					inert[r] += w * od[i]
					ws[a] += w
					addRow(sums[a*d:(a+1)*d], p.row(i), w)
				}
			}
		}
		for r, sd := range sds {
			// Every label moves from "none", as in assign's first step.
			sd.first.inert[c], sd.first.moved[c] = inert[r], hi-lo
		}
	})
}

// begin makes st the first assignment step of a settled restart: its chunk
// sums, and the owners and their distances as the labels and distances.
// With lower, it also turns the restart's squared distances into
// distances, the upper bounds of the Hamerly iteration, and sets the lower
// bounds to 0.
func (p *problem) begin(sd *seeding, st *stepState, lower []float64) {
	st.sums, sd.first.sums = sd.first.sums, st.sums
	st.wsum, sd.first.wsum = sd.first.wsum, st.wsum
	st.inert, sd.first.inert = sd.first.inert, st.inert
	st.moved, sd.first.moved = sd.first.moved, st.moved
	owner, od := sd.rows.owner, sd.rows.dist
	p.parallel(func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			st.labels[i], st.dist[i] = owner.get(i), od[i]
			if lower != nil {
				od[i], lower[i] = math.Sqrt(od[i]), 0
			}
		}
	})
}

// weighted is w_i·v, v itself for unit weights.
func (p *problem) weighted(i int, v float64) float64 {
	if p.w == nil {
		return v
	}
	return p.w[i] * v
}

// scratch holds the per-row buffers of the restarts, reused from one to
// the next.
type scratch struct {
	seeds  []*seedRows
	firsts []*stepState // chunk sums only, for the first steps of a group
	lower  []float64    // the Hamerly iteration's lower bounds
	st     *stepState
}

// scratchFor returns the problem's scratch buffers for k clusters,
// allocating the step state once.
func (p *problem) scratchFor(k int) *scratch {
	if p.scr == nil {
		p.scr = &scratch{}
	}
	if p.scr.st == nil || len(p.scr.st.wsum[0]) != k {
		p.scr.st = p.newState(k)
	}
	return p.scr
}

// firstsFor returns g chunk-sum states for k clusters, allocating those
// missing.
func (p *problem) firstsFor(g, k int) []*stepState {
	if p.scr == nil {
		p.scr = &scratch{}
	}
	if len(p.scr.firsts) > 0 && len(p.scr.firsts[0].wsum[0]) != k {
		p.scr.firsts = nil
	}
	for len(p.scr.firsts) < g {
		p.scr.firsts = append(p.scr.firsts, p.newChunkState(k))
	}
	return p.scr.firsts[:g]
}

// lowerFor returns the buffer of the Hamerly lower bounds.
func (p *problem) lowerFor() []float64 {
	if len(p.scr.lower) != p.n {
		p.scr.lower = make([]float64, p.n)
	}
	return p.scr.lower
}

// seedRowsFor returns g seeding row states for k clusters, allocating those
// missing.
func (p *problem) seedRowsFor(g, k int) []*seedRows {
	if p.scr == nil {
		p.scr = &scratch{}
	}
	if len(p.scr.seeds) > 0 && (p.scr.seeds[0].owner.small != nil) != (k <= 256) {
		p.scr.seeds = nil
	}
	for len(p.scr.seeds) < g {
		p.scr.seeds = append(p.scr.seeds, &seedRows{owner: newOwners(p.n, k), dist: make([]float64, p.n)})
	}
	return p.scr.seeds[:g]
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

// stepState is what an assignment step leaves: every row's label (its
// nearest centre, ties to the lowest index) and squared distance, and the
// per-chunk weighted sums the next centres are computed from.
type stepState struct {
	labels []int
	dist   []float64
	sums   [][]float64 // per chunk: k×d weighted coordinate sums
	wsum   [][]float64 // per chunk: k weights
	inert  []float64   // per chunk: weighted inertia
	moved  []int       // per chunk: rows whose label changed
}

func (p *problem) newState(k int) *stepState {
	st := p.newChunkState(k)
	st.labels, st.dist = make([]int, p.n), make([]float64, p.n)
	for i := range st.labels {
		st.labels[i] = -1
	}
	return st
}

// newChunkState is a step state with its per-chunk parts only.
func (p *problem) newChunkState(k int) *stepState {
	st := &stepState{
		sums:  make([][]float64, p.chunks),
		wsum:  make([][]float64, p.chunks),
		inert: make([]float64, p.chunks),
		moved: make([]int, p.chunks),
	}
	for c := range p.chunks {
		st.sums[c] = make([]float64, k*p.d)
		st.wsum[c] = make([]float64, k)
	}
	return st
}

// assign is one assignment step of Lloyd's iteration into st: it measures
// every row against all the centres with the block kernel, a batch of rows
// at a time.
func (p *problem) assign(centers []float64, k int, st *stepState) {
	d := p.d
	pb := newPointBlocks(k, d)
	pb.setAll(centers)
	p.parallel(func(c, lo, hi int) {
		sums, ws := st.sums[c], st.wsum[c]
		clear(sums)
		clear(ws)
		var stack [resultStack]float64
		buf, stride := pb.resultBuf(stack[:]), pb.stride()
		var inert float64
		moved := 0
		for b0 := lo; b0 < hi; b0 += pb.batch() {
			b1 := min(b0+pb.batch(), hi)
			pb.dists(buf, p.x[b0*d:b1*d])
			for i := b0; i < b1; i++ {
				dist := buf[(i-b0)*stride:][:k]
				best, bd := 0, dist[0]
				for j, dd := range dist {
					if dd < bd {
						best, bd = j, dd
					}
				}
				if st.labels[i] != best {
					moved++
					st.labels[i] = best
				}
				st.dist[i] = bd
				w := p.weight(i)
				inert += w * bd
				ws[best] += w
				addRow(sums[best*d:(best+1)*d], p.row(i), w)
			}
		}
		st.inert[c], st.moved[c] = inert, moved
	})
}

// movedRows is the number of rows whose label the last step changed.
func movedRows(st *stepState) int {
	n := 0
	for _, m := range st.moved {
		n += m
	}
	return n
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
// With assigned, the scratch step state already holds the first
// assignment step (begin put it there).
func (p *problem) lloyd(centers []float64, maxIter int, tol float64, assigned bool) *Result {
	k := len(centers) / p.d
	st := p.scratchFor(k).st
	if !assigned {
		for i := range st.labels {
			st.labels[i] = -1
		}
	}
	res := &Result{}
	old := make([]float64, len(centers))
	for it := 1; it <= maxIter; it++ {
		if it > 1 || !assigned {
			p.assign(centers, k, st)
		}
		moved := movedRows(st) > 0
		copy(old, centers)
		shift, repairs := p.update(centers, k, st)
		res.EmptyRepairs += repairs
		res.Iterations = it
		if repairs == 0 && slices.Equal(old, centers) {
			// The centres did not move: the labels and distances of the
			// step are those of a final one.
			res.Converged = true
			p.collect(centers, k, st, res)
			return res
		}
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
		inert: make([]float64, p.chunks), moved: make([]int, p.chunks)}
	for c := range p.chunks {
		st.sums[c] = make([]float64, k*d)
		st.wsum[c] = make([]float64, k)
	}
	p.assign(centers, k, st)
	return st.labels, st.dist
}

// sampleRows is the number of rows the seeded restarts run on for n rows
// (see KMeans.SampleSize).
func (km KMeans) sampleRows(n int) int {
	switch {
	case km.SampleSize < 0:
		return n
	case km.SampleSize == 0:
		return min(n, max(sampleFloor, samplePerCluster*km.K))
	}
	return min(n, max(km.SampleSize, km.K))
}

// sampledRestarts runs the seeded restarts on a sample of m rows and
// finishes the one of least inertia there on all the rows (see
// KMeans.SampleSize). It sets inertias[r] to restart r's inertia on the
// sample, scaled by the ratio of the total weight to the sample's, that of
// the kept restart to its inertia once finished. It returns nil, having
// done nothing, when every sampled row weighs 0.
func (p *problem) sampledRestarts(km KMeans, m int, tol float64, inertias []float64, total int) *Result {
	sub := p.sample(m, rand.New(rand.NewPCG(km.Seed, sampleStream)))
	if sub == nil {
		return nil
	}
	scale := p.mass() / sub.mass()
	k := km.K
	var start []float64
	kept, least := 0, math.Inf(1)
	sub.restarts(km, tol, func(r int, res *Result) {
		inertias[r] = res.Inertia * scale
		if res.Inertia < least {
			kept, least = r, res.Inertia
			start = slices.Clone(res.Centroids.RawMatrix().Data)
		}
		if km.Progress != nil {
			km.Progress(r+1, total)
		}
	})
	if start == nil {
		return nil // inertias overflowed to +Inf: let every row decide
	}
	var res *Result
	if km.Algorithm == Lloyd {
		res = p.lloyd(start, km.MaxIter, tol, false)
	} else {
		// The Hamerly iteration starts from a first assignment step, with
		// the distances as upper bounds and lower bounds 0 (as begin
		// leaves them after a seeding).
		st := p.scratchFor(k).st
		for i := range st.labels {
			st.labels[i] = -1
		}
		p.assign(start, k, st)
		upper, lower := make([]float64, p.n), p.lowerFor()
		p.parallel(func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				upper[i], lower[i] = math.Sqrt(st.dist[i]), 0
			}
		})
		res = p.hamerly(start, upper, lower, km.MaxIter, tol)
	}
	res.Restart, res.SampleRows = kept, m
	inertias[kept] = res.Inertia
	return res
}

// mass is the total weight of the rows, added by chunks in chunk order.
func (p *problem) mass() float64 {
	if p.w == nil {
		return float64(p.n)
	}
	return p.sum(func(i int) float64 { return p.w[i] }, make([]float64, p.chunks))
}

// sample returns a problem of m of the rows, drawn uniformly without
// replacement by rng (Knuth's selection sampling: one draw per row, so
// the rows keep their order), with their weights; nil if those all are 0.
func (p *problem) sample(m int, rng *rand.Rand) *problem {
	d := p.d
	x := make([]float64, 0, m*d)
	var w []float64
	if p.w != nil {
		w = make([]float64, 0, m)
	}
	var mass float64
	for i := 0; i < p.n && len(x) < m*d; i++ {
		if float64(p.n-i)*rng.Float64() >= float64(m-len(x)/d) {
			continue
		}
		x = append(x, p.row(i)...)
		if w != nil {
			w = append(w, p.w[i])
			mass += p.w[i]
		}
	}
	if w != nil && mass == 0 {
		return nil
	}
	return newProblem(mat.NewDense(m, d, x), w, p.threads)
}
