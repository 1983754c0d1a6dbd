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

// Constants of the silhouette estimate and of the k-selection rule.
const (
	// silhouetteFloor is the least number of rows a cluster contributes to
	// a stratified silhouette sample (all its rows if it has fewer), so
	// that small clusters are never left out of the estimate.
	silhouetteFloor = 50
	// silhouetteRefRows caps the reference rows against which a(i) and b(i)
	// are measured: with more rows than this, a stratified reference sample
	// of this size is used instead of all rows.
	silhouetteRefRows = 20000
	// defaultSilhouetteSample is the sample ChooseK scores when
	// ChooseOptions.SilhouetteSample is 0.
	defaultSilhouetteSample = 2000
	// defaultBootstraps is the number of resamples ChooseK fits when
	// ChooseOptions.Bootstraps is 0.
	defaultBootstraps = 10
	// defaultMaxK is the upper end of the range ChooseK tries when
	// ChooseOptions.MaxK is 0.
	defaultMaxK = 10
	// stableARI is the mean adjusted Rand index from which ChooseK deems a
	// k stable.
	stableARI = 0.8
	// stabilitySlack: when no eligible k is stable, the k whose stability
	// is within this of the best are the candidates.
	stabilitySlack = 0.05
	// silhouetteTie: candidates whose silhouette is within this of the best
	// tie, and the smallest of them is chosen.
	silhouetteTie = 0.005
)

// pointDist is the Euclidean distance of a and b (same length), summed in
// coordinate order: the quality figures' distance, not the kernels' (see
// dist.go).
func pointDist(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		t := v - b[i]
		s += t * t
	}
	return math.Sqrt(s)
}

// clusterMembers lists the rows of each cluster in row order. It panics if
// a label is outside 0..k-1 or the lengths differ.
func clusterMembers(n int, labels []int, k int) [][]int {
	if len(labels) != n {
		panic(fmt.Sprintf("segment: %d labels for %d rows", len(labels), n))
	}
	if k < 1 {
		panic(fmt.Sprintf("segment: k = %d, want at least 1", k))
	}
	members := make([][]int, k)
	for i, l := range labels {
		if l < 0 || l >= k {
			panic(fmt.Sprintf("segment: label %d of row %d is outside 0..%d", l, i, k-1))
		}
		members[l] = append(members[l], i)
	}
	return members
}

// nonEmpty counts the clusters with at least one row.
func nonEmpty(members [][]int) int {
	c := 0
	for _, m := range members {
		if len(m) > 0 {
			c++
		}
	}
	return c
}

// stratify draws about size rows, without replacement, stratified by
// cluster: cluster c of n_c rows contributes round(size·n_c/n) rows, but at
// least min(n_c, silhouetteFloor) and at most n_c. Within a cluster the rows
// are a uniform draw (partial Fisher–Yates shuffle), returned in row order.
// The total can exceed size by the floors.
func stratify(members [][]int, n, size int, rng *rand.Rand) [][]int {
	out := make([][]int, len(members))
	for c, m := range members {
		nc := len(m)
		q := int(math.Round(float64(size) * float64(nc) / float64(n)))
		q = min(max(q, min(nc, silhouetteFloor)), nc)
		if q == nc {
			out[c] = slices.Clone(m)
			continue
		}
		pool := slices.Clone(m)
		for i := range q {
			j := i + rng.IntN(nc-i)
			pool[i], pool[j] = pool[j], pool[i]
		}
		out[c] = pool[:q]
		slices.Sort(out[c])
	}
	return out
}

// Silhouette is the mean silhouette coefficient of a clustering of the rows
// of x into k clusters (Rousseeuw 1987, "Silhouettes: a graphical aid to the
// interpretation and validation of cluster analysis", Journal of
// Computational and Applied Mathematics 20), with Euclidean distances, as
// scikit-learn's silhouette_score. For row i of cluster A, a(i) is its mean
// distance to the other rows of A and b(i) the least, over the other
// non-empty clusters C, of its mean distance to the rows of C; its
// silhouette is s(i) = (b(i) − a(i)) / max(a(i), b(i)), and 0 when i is
// alone in its cluster (or a = b = 0). The result is in [−1, 1], higher
// meaning tighter and better-separated clusters.
//
// When sample <= 0 or sample >= the number of rows n, the result is exact:
// the mean of s(i) over all rows, each against all rows (O(n²) distances).
// Otherwise it is estimated from a sample stratified by cluster: a cluster
// of n_c rows contributes round(sample·n_c/n) rows, but at least
// min(n_c, 50), drawn uniformly without replacement. Each sampled row's a(i)
// and b(i) are measured against all rows when n <= 20000, and otherwise
// against a fixed reference sample of 20000 rows drawn by the same
// stratified rule (a separate draw): within a cluster the reference rows are
// a uniform draw, so the per-cluster mean distances stay unbiased. The
// cluster means of s(i) over the sample are then weighted by cluster size,
// mean = Σ_c n_c·mean_c(s) / n, so that over-sampled small clusters do not
// bias the estimate. The draws use PCG streams seeded by seed, so the result
// is deterministic; the work is spread over GOMAXPROCS goroutines, each row
// computed alone, so it does not depend on their number either.
//
// labels, one per row, must be in 0..k-1 (it panics otherwise). With fewer
// than two non-empty clusters the silhouette is undefined and the result is
// NaN. Rows count equally whatever weights the clustering was fitted with.
func Silhouette(x *mat.Dense, labels []int, k int, sample int, seed uint64) float64 {
	return silhouette(x, labels, k, sample, silhouetteRefRows, seed)
}

func silhouette(x *mat.Dense, labels []int, k, sample, refMax int, seed uint64) float64 {
	n, _ := x.Dims()
	members := clusterMembers(n, labels, k)
	if nonEmpty(members) < 2 {
		return math.NaN()
	}
	exact := sample <= 0 || sample >= n
	scored, ref := members, members
	if !exact {
		scored = stratify(members, n, sample, rand.New(rand.NewPCG(seed, 0x5111)))
		if n > refMax {
			ref = stratify(members, n, refMax, rand.New(rand.NewPCG(seed, 0x5112)))
		}
	}

	var rows []int // scored rows, cluster by cluster
	for _, s := range scored {
		rows = append(rows, s...)
	}
	s := make([]float64, len(rows))
	refs := newRefRows(x, ref)
	const block = 32
	blocks := (len(rows) + block - 1) / block
	work := func(b int) {
		t0, t1 := b*block, min((b+1)*block, len(rows))
		refs.silhouettes(s[t0:t1], rows[t0:t1], labels)
	}
	threads := min(runtime.GOMAXPROCS(0), blocks)
	if threads <= 1 {
		for b := range blocks {
			work(b)
		}
	} else {
		next := make(chan int, blocks)
		for b := range blocks {
			next <- b
		}
		close(next)
		var wg sync.WaitGroup
		for range threads {
			wg.Go(func() {
				for b := range next {
					work(b)
				}
			})
		}
		wg.Wait()
	}

	// Σ_c n_c · mean over the sample of cluster c, / n, summed in cluster order.
	var total float64
	t := 0
	for c, sc := range scored {
		if len(sc) == 0 {
			continue
		}
		var cs float64
		for range sc {
			cs += s[t]
			t++
		}
		if len(sc) == len(members[c]) {
			total += cs // the whole cluster: no reweighting needed
		} else {
			total += float64(len(members[c])) * cs / float64(len(sc))
		}
	}
	return total / float64(n)
}

// refRows are the reference rows of the silhouette, copied cluster by
// cluster into one block of memory that the block kernel streams through.
type refRows struct {
	x     *mat.Dense
	d     int
	data  []float64 // the rows, cluster by cluster
	index []int     // the row of x each one is
	start []int     // cluster c's rows are start[c] to start[c+1]
}

func newRefRows(x *mat.Dense, ref [][]int) *refRows {
	_, d := x.Dims()
	r := &refRows{x: x, d: d, start: []int{0}}
	for _, rc := range ref {
		for _, j := range rc {
			r.data = append(r.data, x.RawRowView(j)...)
			r.index = append(r.index, j)
		}
		r.start = append(r.start, len(r.index))
	}
	return r
}

// silhouettes sets s[t] to s(i) for row i = rows[t] (of cluster labels[i])
// against the reference rows (row i itself skipped): a(i), the mean
// distance to the other rows of its cluster, and b(i), the least mean
// distance to the rows of another cluster, give s(i) = (b − a) / max(a, b),
// 0 for a singleton cluster. The block kernel measures every reference row
// against all the rows at once; each row's distances are added in
// reference row order.
func (r *refRows) silhouettes(s []float64, rows, labels []int) {
	d := r.d
	pb := newPointBlocks(len(rows), d)
	for t, i := range rows {
		pb.set(t, r.x.RawRowView(i))
	}
	var stack [resultStack]float64
	buf, stride := pb.resultBuf(stack[:]), pb.stride()
	sum := make([]float64, len(rows))
	cnt := make([]int, len(rows))
	a := make([]float64, len(rows))
	b := make([]float64, len(rows))
	for t := range rows {
		a[t], b[t] = math.NaN(), math.Inf(1)
	}
	for c := range len(r.start) - 1 {
		clear(sum)
		clear(cnt)
		for b0 := r.start[c]; b0 < r.start[c+1]; b0 += pb.batch() {
			b1 := min(b0+pb.batch(), r.start[c+1])
			pb.dists(buf, r.data[b0*d:b1*d])
			for j := b0; j < b1; j++ {
				dj := buf[(j-b0)*stride:][:len(rows)]
				for t, i := range rows {
					if r.index[j] != i {
						sum[t] += math.Sqrt(dj[t])
						cnt[t]++
					}
				}
			}
		}
		for t, i := range rows {
			switch {
			case c == labels[i]:
				a[t] = sum[t] / float64(cnt[t]) // NaN for a singleton
			case cnt[t] > 0:
				b[t] = min(b[t], sum[t]/float64(cnt[t]))
			}
		}
	}
	for t := range rows {
		m := max(a[t], b[t])
		switch {
		case math.IsNaN(a[t]) || m == 0:
			s[t] = 0
		default:
			s[t] = (b[t] - a[t]) / m
		}
	}
}

// centroidsOf returns the mean of each cluster's rows (k×d) and the members.
func centroidsOf(x *mat.Dense, labels []int, k int) (*mat.Dense, [][]int) {
	n, d := x.Dims()
	members := clusterMembers(n, labels, k)
	cent := mat.NewDense(k, d, nil)
	for c, m := range members {
		if len(m) == 0 {
			continue
		}
		row := cent.RawRowView(c)
		for _, i := range m {
			for j, v := range x.RawRowView(i) {
				row[j] += v
			}
		}
		for j := range row {
			row[j] /= float64(len(m))
		}
	}
	return cent, members
}

// CalinskiHarabasz is the variance-ratio criterion of a clustering (Caliński
// & Harabasz 1974, "A dendrite method for cluster analysis", Communications
// in Statistics 3(1)), as scikit-learn's calinski_harabasz_score:
//
//	CH = [B / (k − 1)] / [W / (n − k)]
//
// where B = Σ_c n_c‖m_c − m‖² is the between-cluster dispersion (m_c the
// mean of cluster c, m the overall mean), W = Σ_i ‖x_i − m_{c(i)}‖² the
// within-cluster dispersion, and k the number of non-empty clusters. Higher
// is better. It is 1 when W = 0 (scikit-learn's convention), NaN unless
// 2 <= k <= n−1. Rows count equally; labels must be in 0..k-1 (it panics
// otherwise).
func CalinskiHarabasz(x *mat.Dense, labels []int, k int) float64 {
	n, d := x.Dims()
	cent, members := centroidsOf(x, labels, k)
	nk := nonEmpty(members)
	if nk < 2 || nk > n-1 {
		return math.NaN()
	}
	mean := make([]float64, d)
	for i := range n {
		for j, v := range x.RawRowView(i) {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	var between, within float64
	for c, m := range members {
		if len(m) == 0 {
			continue
		}
		mc := cent.RawRowView(c)
		dm := pointDist(mc, mean)
		between += float64(len(m)) * dm * dm
		for _, i := range m {
			di := pointDist(x.RawRowView(i), mc)
			within += di * di
		}
	}
	if within == 0 {
		return 1
	}
	return between * float64(n-nk) / (within * float64(nk-1))
}

// DaviesBouldin is the Davies–Bouldin index of a clustering (Davies &
// Bouldin 1979, "A cluster separation measure", IEEE Transactions on
// Pattern Analysis and Machine Intelligence 1(2)), as scikit-learn's
// davies_bouldin_score: with S_c the mean Euclidean distance of the rows of
// cluster c to its mean m_c, and R_ij = (S_i + S_j) / ‖m_i − m_j‖,
//
//	DB = (1/k) Σ_i max_{j≠i} R_ij
//
// over the k non-empty clusters. Lower is better, 0 the least. As in
// scikit-learn, a pair of coincident means contributes 0 rather than
// infinity, and the index is 0 when all S_c or all mean distances are
// within 1e-8 of zero. It is NaN with fewer than two non-empty clusters.
// Rows count equally; labels must be in 0..k-1 (it panics otherwise).
func DaviesBouldin(x *mat.Dense, labels []int, k int) float64 {
	cent, members := centroidsOf(x, labels, k)
	var live []int
	for c, m := range members {
		if len(m) > 0 {
			live = append(live, c)
		}
	}
	if len(live) < 2 {
		return math.NaN()
	}
	const atol = 1e-8
	spread := make([]float64, len(live))
	allTight := true
	for t, c := range live {
		mc := cent.RawRowView(c)
		var s float64
		for _, i := range members[c] {
			s += pointDist(x.RawRowView(i), mc)
		}
		spread[t] = s / float64(len(members[c]))
		allTight = allTight && spread[t] <= atol
	}
	sep := make([]float64, len(live)*len(live))
	allTogether := true
	for a, ca := range live {
		for b, cb := range live {
			if a != b {
				sep[a*len(live)+b] = pointDist(cent.RawRowView(ca), cent.RawRowView(cb))
				allTogether = allTogether && sep[a*len(live)+b] <= atol
			}
		}
	}
	if allTight || allTogether {
		return 0
	}
	var total float64
	for a := range live {
		worst := 0.0
		for b := range live {
			if dist := sep[a*len(live)+b]; a != b && dist > 0 {
				worst = max(worst, (spread[a]+spread[b])/dist)
			}
		}
		total += worst
	}
	return total / float64(len(live))
}

// Stability is the mean adjusted Rand index (Hubert & Arabie 1985) between
// the clustering of all rows of x by km and each of boots bootstrap
// clusterings: a bootstrap draws n rows with replacement (PCG stream
// (seed, b) for bootstrap b, which also draws the seed of its fit), fits km
// to them, then labels ALL rows of x with their nearest bootstrap centroid
// (Assign) and compares those labels with the full fit's. This is the
// resampling view of cluster stability (Ben-Hur, Elisseeff & Guyon 2002, "A
// stability based method for discovering structure in clustered data",
// Pacific Symposium on Biocomputing; Lange, Roth, Braun & Buhmann 2004,
// "Stability-based validation of clustering solutions", Neural Computation
// 16(6)): 1 means every resample finds the same partition. It is NaN when
// boots < 1 or km cannot be fitted to x.
func Stability(x *mat.Dense, km KMeans, boots int, seed uint64) float64 {
	if boots < 1 {
		return math.NaN()
	}
	full, err := km.Fit(x, nil)
	if err != nil {
		return math.NaN()
	}
	s, err := stability(x, nil, km, full.Labels, boots, seed)
	if err != nil {
		return math.NaN()
	}
	return s
}

// stability is Stability against the given labels of the full fit; with
// weights, a bootstrap draws rows uniformly and each drawn row keeps its
// weight in the fit.
func stability(x *mat.Dense, weights []float64, km KMeans, full []int, boots int, seed uint64) (float64, error) {
	n, d := x.Dims()
	xb := mat.NewDense(n, d, nil)
	var wb []float64
	if weights != nil {
		wb = make([]float64, n)
	}
	labels := make([]int, n)
	dist := make([]float64, n)
	var total float64
	for b := range boots {
		rng := rand.New(rand.NewPCG(seed, uint64(b)))
		for i := range n {
			r := rng.IntN(n)
			copy(xb.RawRowView(i), x.RawRowView(r))
			if wb != nil {
				wb[i] = weights[r]
			}
		}
		kb := km
		kb.Seed = rng.Uint64()
		res, err := kb.Fit(xb, wb)
		if err != nil {
			return math.NaN(), fmt.Errorf("segment: bootstrap %d: %w", b, err)
		}
		labels, dist = Assign(labels, dist, x, res.Centroids, km.Threads)
		total += AdjustedRandIndex(full, labels)
	}
	return total / float64(boots), nil
}

// ChooseOptions are the settings of ChooseK. The zero value of every field
// is a sensible default.
type ChooseOptions struct {
	MinK int // least k tried, at least 2; 0 means 2
	MaxK int // greatest k tried, at most n−1; 0 means max(MinK, min(10, n−1))
	// MinSize is the least share of the rows (of the total weight, when
	// weights are given) the smallest cluster must hold for a k to be
	// eligible, e.g. 0.02; 0 means no minimum. It must be in [0, 1).
	MinSize float64
	// SilhouetteSample is the number of rows the silhouette is estimated
	// from (see Silhouette); 0 means 2000, negative means all rows (exact,
	// O(n²)).
	SilhouetteSample int
	// Bootstraps is the number of bootstrap fits of the stability check; 0
	// means 10, negative turns the check off (Stability is then NaN and the
	// rule skips its stability step).
	Bootstraps int
	// Seed drives the silhouette sample and the bootstrap draws. The fits
	// themselves use the seed in the KMeans settings. The same draws serve
	// every k, so that the k are compared on common resamples.
	Seed uint64
}

// KRow holds the figures of the fit for one k.
type KRow struct {
	K                int
	Inertia          float64 // weighted within-cluster sum of squares of the fit
	Silhouette       float64 // mean silhouette (Silhouette); higher is better
	CalinskiHarabasz float64 // variance ratio (CalinskiHarabasz); higher is better
	DaviesBouldin    float64 // Davies–Bouldin index (DaviesBouldin); lower is better
	Stability        float64 // mean bootstrap ARI (Stability); NaN when turned off
	SmallestShare    float64 // share of rows (or weight) in the smallest cluster
	Eligible         bool    // SmallestShare >= MinSize
}

// KChoice is the outcome of ChooseK.
type KChoice struct {
	Rows   []KRow  // one per k tried, in increasing k
	Chosen int     // the chosen k; 0 when none is eligible
	Reason string  // why, in words
	Result *Result // the fit for the chosen k; nil when none is eligible
}

// ErrNoEligibleK is returned, wrapped, by ChooseK when no k in the range
// gives a smallest cluster of at least MinSize.
var ErrNoEligibleK = errors.New("segment: no k meets the minimum cluster size")

// ChooseK fits km for every k in opts.MinK..opts.MaxK (km.K is ignored),
// records for each the inertia, silhouette, Calinski–Harabasz and
// Davies–Bouldin indices, bootstrap stability and smallest cluster share,
// and chooses k by this rule:
//
//  1. Eligible: the smallest cluster holds at least MinSize of the rows (of
//     the weight, with weights). A segment too small to act on is not a
//     segment, however good the figures.
//  2. Stable: among the eligible k, those with stability >= 0.8 are the
//     candidates; if none reaches 0.8, those within 0.05 of the best
//     eligible stability are. A k whose partition changes when the data
//     are resampled is an artifact of this sample and seed, not structure
//     to deploy (Ben-Hur et al. 2002; Lange et al. 2004; von Luxburg 2010,
//     "Clustering stability: an overview", Foundations and Trends in
//     Machine Learning 2(3)). 0.8 mirrors Hennig's (2007, "Cluster-wise
//     assessment of cluster stability", Computational Statistics & Data
//     Analysis 52(1)) reading of bootstrap Jaccard values of 0.75–0.85 as
//     stable. Stability is a filter and not the objective because it is
//     often highest for k = 2 and can be high for a wrong k on symmetric
//     data (Ben-David, von Luxburg & Pál 2006, "A sober look at clustering
//     stability", COLT). With the check turned off every eligible k is a
//     candidate.
//  3. Separated: among the candidates, the highest silhouette wins, and
//     every candidate within 0.005 of it ties, the smallest k winning the
//     tie. The silhouette, unlike the inertia, does not improve just by
//     adding clusters; it is bounded and readable (Kaufman & Rousseeuw 1990
//     take above 0.5 as reasonable structure) and, being a mean over rows,
//     can be estimated from a stratified sample on large data. 0.005 is
//     about the sampling error of a 2000-row estimate; within it the
//     simpler segmentation is preferred. The Calinski–Harabasz and
//     Davies–Bouldin indices are reported for the analyst but do not vote.
//
// Weights, one per row or nil, go to the fits (and so to the inertia and
// the smallest share); the silhouette and the two indices count rows
// equally. When no k is eligible, ChooseK returns the choice with its Rows
// filled, Chosen 0 and a nil Result, together with an error wrapping
// ErrNoEligibleK. The result is deterministic for given input, settings and
// seeds.
//
// Every fit, the bootstrap ones included, follows km.SampleSize: on more
// rows than the sample, its restarts run on a sample of them (a bootstrap
// fit's, of its resample) and the best is finished on all of them. The
// figures cost O(n·d) each beyond the silhouette's bounded sample (see
// Silhouette), and nothing here is quadratic in n unless SilhouetteSample
// asks for the exact silhouette.
func ChooseK(x *mat.Dense, weights []float64, km KMeans, opts ChooseOptions) (*KChoice, error) {
	n, _ := x.Dims()
	if opts.MinK == 0 {
		opts.MinK = 2
	}
	if opts.MaxK == 0 {
		opts.MaxK = max(opts.MinK, min(defaultMaxK, n-1))
	}
	if opts.MinK < 2 || opts.MaxK < opts.MinK {
		return nil, fmt.Errorf("segment: k range %d..%d, want 2 <= MinK <= MaxK", opts.MinK, opts.MaxK)
	}
	if opts.MaxK > n-1 {
		return nil, fmt.Errorf("segment: MaxK = %d for %d rows, want at most %d", opts.MaxK, n, n-1)
	}
	if !(opts.MinSize >= 0 && opts.MinSize < 1) {
		return nil, fmt.Errorf("segment: MinSize = %v, want a share in [0, 1)", opts.MinSize)
	}
	boots := opts.Bootstraps
	if boots == 0 {
		boots = defaultBootstraps
	}

	choice := &KChoice{}
	for k := opts.MinK; k <= opts.MaxK; k++ {
		kk := km
		kk.K = k
		res, err := kk.Fit(x, weights)
		if err != nil {
			return nil, fmt.Errorf("segment: k = %d: %w", k, err)
		}
		row := Figures(x, weights, res.Labels, k, res.Inertia, opts)
		if boots > 0 {
			if row.Stability, err = stability(x, weights, kk, res.Labels, boots, opts.Seed); err != nil {
				return nil, fmt.Errorf("segment: k = %d: %w", k, err)
			}
		}
		choice.Rows = append(choice.Rows, row)
	}

	k, reason := pickK(choice.Rows, opts.MinSize, boots > 0)
	choice.Chosen, choice.Reason = k, reason
	if k == 0 {
		return choice, fmt.Errorf("%w: %s", ErrNoEligibleK, reason)
	}
	// Fits are deterministic: refitting gives the same result as in the
	// loop without keeping every k's labels in memory.
	kk := km
	kk.K = k
	res, err := kk.Fit(x, weights)
	if err != nil {
		return nil, fmt.Errorf("segment: k = %d: %w", k, err)
	}
	choice.Result = res
	return choice, nil
}

// Figures are the figures ChooseK records for one clustering of the rows
// of x into k clusters (labels, one per row, in 0..k-1), whose fit has the
// given inertia: the silhouette, estimated from opts.SilhouetteSample rows
// drawn with opts.Seed as ChooseK does (0 means 2000, negative all rows),
// the Calinski–Harabasz and Davies–Bouldin indices, and the share of the
// rows (of the weight, with weights) in the smallest cluster, eligible
// when it reaches opts.MinSize. Stability is NaN: it needs refits, which
// ChooseK adds. Weights, one per row or nil, count in the smallest share
// only.
func Figures(x *mat.Dense, weights []float64, labels []int, k int, inertia float64, opts ChooseOptions) KRow {
	n, _ := x.Dims()
	sample := opts.SilhouetteSample
	switch {
	case sample == 0:
		sample = defaultSilhouetteSample
	case sample < 0:
		sample = n
	}
	var totalW float64
	for i := range n {
		if weights == nil {
			totalW++
		} else if i < len(weights) {
			totalW += weights[i]
		}
	}
	mass := make([]float64, k)
	for i, l := range labels {
		if weights == nil {
			mass[l]++
		} else {
			mass[l] += weights[i]
		}
	}
	row := KRow{
		K:                k,
		Inertia:          inertia,
		Silhouette:       Silhouette(x, labels, k, sample, opts.Seed),
		CalinskiHarabasz: CalinskiHarabasz(x, labels, k),
		DaviesBouldin:    DaviesBouldin(x, labels, k),
		Stability:        math.NaN(),
		SmallestShare:    slices.Min(mass) / totalW,
	}
	row.Eligible = row.SmallestShare >= opts.MinSize
	return row
}

// pickK applies ChooseK's rule to the rows and says why.
func pickK(rows []KRow, minSize float64, useStability bool) (int, string) {
	var eligible []KRow
	for _, r := range rows {
		if r.Eligible {
			eligible = append(eligible, r)
		}
	}
	if len(eligible) == 0 {
		best := rows[0]
		for _, r := range rows {
			if r.SmallestShare > best.SmallestShare {
				best = r
			}
		}
		return 0, fmt.Sprintf("no k in %d..%d has a smallest cluster of at least %.3g of the rows (largest smallest share %.3g at k=%d)",
			rows[0].K, rows[len(rows)-1].K, minSize, best.SmallestShare, best.K)
	}

	cands := eligible
	var stab string
	if useStability {
		cands = nil
		for _, r := range eligible {
			if r.Stability >= stableARI {
				cands = append(cands, r)
			}
		}
		stab = fmt.Sprintf("stability >= %.2g", stableARI)
		if len(cands) == 0 {
			best := math.Inf(-1)
			for _, r := range eligible {
				if r.Stability > best {
					best = r.Stability
				}
			}
			for _, r := range eligible {
				if r.Stability >= best-stabilitySlack {
					cands = append(cands, r)
				}
			}
			stab = fmt.Sprintf("stability within %.2g of the best, %.3f (none reached %.2g)", stabilitySlack, best, stableARI)
		}
	}

	score := func(r KRow) float64 {
		if math.IsNaN(r.Silhouette) {
			return math.Inf(-1)
		}
		return r.Silhouette
	}
	bestSil := math.Inf(-1)
	for _, r := range cands {
		bestSil = max(bestSil, score(r))
	}
	var chosen KRow
	for _, r := range cands { // increasing k: the first within the tie wins
		if score(r) >= bestSil-silhouetteTie {
			chosen = r
			break
		}
	}

	var b []byte
	b = fmt.Appendf(b, "k=%d: silhouette %.3f", chosen.K, chosen.Silhouette)
	if chosen.Silhouette < bestSil {
		b = fmt.Appendf(b, ", within %.3g of the best %.3f (smaller k preferred)", silhouetteTie, bestSil)
	} else {
		b = fmt.Append(b, ", the highest")
	}
	b = fmt.Appendf(b, " among %d candidate k", len(cands))
	if useStability {
		b = fmt.Appendf(b, " with %s", stab)
	}
	b = fmt.Appendf(b, " of %d eligible (smallest cluster >= %.3g of the rows)", len(eligible), minSize)
	if useStability {
		b = fmt.Appendf(b, "; its stability %.3f", chosen.Stability)
	}
	return chosen.K, string(b)
}
