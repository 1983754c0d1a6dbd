package segment

// Distance kernels. Every squared Euclidean distance that places a point
// (seeding, the k-means iterations, Assign, SquaredDistance) is summed in
// one fixed order, whichever kernel computes it: four
// accumulators s0..s3, coordinate j going to s[j mod 4] in increasing j,
// and the result (s0+s1)+(s2+s3), nothing fused into a multiply-add. The
// four sums also keep four additions in flight rather than one. The
// quality figures of choosing k (silhouette, Davies-Bouldin) measure with
// pointDist, a plain sum in coordinate order: they place no point, and
// their own order is fixed too.

// lanes is the number of points a block holds: the block kernel measures
// a row against all of them at once.
const lanes = 8

// batchFloats sizes the buffers of block-kernel results the passes over
// the rows fill and read back in turns (8 KiB).
const batchFloats = 1024

// resultStack is the size of the stack arrays that hold such buffers: one
// batch and a little slack (see resultBuf).
const resultStack = batchFloats + 8

// SquaredDistance is the squared Euclidean distance of a and b (len(b) >=
// len(a)), summed in the order of every distance Fit and Assign compute, so
// that it equals theirs bit for bit.
func SquaredDistance(a, b []float64) float64 { return sqDist(a, b) }

// sqDist is the squared Euclidean distance of a and b (len(b) >= len(a)).
func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		t0, t1, t2, t3 := a[i]-b[i], a[i+1]-b[i+1], a[i+2]-b[i+2], a[i+3]-b[i+3]
		// The conversions forbid fusing into a multiply-add (which the
		// compiler may do for GOAMD64=v3 and on other architectures).
		s0 += float64(t0 * t0)
		s1 += float64(t1 * t1)
		s2 += float64(t2 * t2)
		s3 += float64(t3 * t3)
	}
	switch len(a) - i {
	case 3:
		t := a[i+2] - b[i+2]
		s2 += float64(t * t)
		fallthrough
	case 2:
		t := a[i+1] - b[i+1]
		s1 += float64(t * t)
		fallthrough
	case 1:
		t := a[i] - b[i]
		s0 += float64(t * t)
	}
	return (s0 + s1) + (s2 + s3)
}

// blockDistsGo is the scalar block kernel. For every row i of x (row-major,
// d columns) it sets out[i*stride+l] to the squared distance of the row to
// point l of the block blk, which holds lanes points transposed (coordinate
// j of point l at blk[j*lanes+l]). Only the first live points are measured;
// callers ignore the rest.
func blockDistsGo(out []float64, stride int, x []float64, d int, blk []float64, live int) {
	blk = blk[:d*lanes]
	for i := range len(x) / d {
		r, o := x[i*d:(i+1)*d], out[i*stride:][:live]
		for l := range o {
			var s0, s1, s2, s3 float64
			j := 0
			for ; j+4 <= d; j += 4 {
				t0, t1 := r[j]-blk[j*lanes+l], r[j+1]-blk[(j+1)*lanes+l]
				t2, t3 := r[j+2]-blk[(j+2)*lanes+l], r[j+3]-blk[(j+3)*lanes+l]
				s0 += float64(t0 * t0)
				s1 += float64(t1 * t1)
				s2 += float64(t2 * t2)
				s3 += float64(t3 * t3)
			}
			switch d - j {
			case 3:
				t := r[j+2] - blk[(j+2)*lanes+l]
				s2 += float64(t * t)
				fallthrough
			case 2:
				t := r[j+1] - blk[(j+1)*lanes+l]
				s1 += float64(t * t)
				fallthrough
			case 1:
				t := r[j] - blk[j*lanes+l]
				s0 += float64(t * t)
			}
			o[l] = (s0 + s1) + (s2 + s3)
		}
	}
}

// addMinsGo adds to sums[t], for every row i in order, the row's potential
// with candidate t: min(od[i], buf[i*stride+off+t]), times w[i] unless w is
// nil (no multiply-add: see sqDist).
func addMinsGo(sums, od, w, buf []float64, stride, off int) {
	t := 0
	for ; t+4 <= len(sums); t += 4 {
		// Four sums at a time, in local variables.
		s0, s1, s2, s3 := sums[t], sums[t+1], sums[t+2], sums[t+3]
		for i, o := range od {
			dd := buf[i*stride+off+t:][:4]
			if w == nil {
				s0 += min(o, dd[0])
				s1 += min(o, dd[1])
				s2 += min(o, dd[2])
				s3 += min(o, dd[3])
			} else {
				s0 += float64(w[i] * min(o, dd[0]))
				s1 += float64(w[i] * min(o, dd[1]))
				s2 += float64(w[i] * min(o, dd[2]))
				s3 += float64(w[i] * min(o, dd[3]))
			}
		}
		sums[t], sums[t+1], sums[t+2], sums[t+3] = s0, s1, s2, s3
	}
	for ; t < len(sums); t++ {
		s := sums[t]
		for i, o := range od {
			if w == nil {
				s += min(o, buf[i*stride+off+t])
			} else {
				s += float64(w[i] * min(o, buf[i*stride+off+t]))
			}
		}
		sums[t] = s
	}
}

// addRow adds w·r to s (len(s) >= len(r)); w = 1 adds r itself, which is
// the same to the bit.
func addRow(s, r []float64, w float64) {
	s = s[:len(r)]
	if w == 1 {
		for j, v := range r {
			s[j] += v
		}
		return
	}
	for j, v := range r {
		s[j] += float64(w * v)
	}
}

// pointBlocks holds m points of dimension d for the block kernel, in
// ⌈m/lanes⌉ blocks of lanes points each, transposed; lanes past m are
// zero and their distances are ignored.
type pointBlocks struct {
	m, d int
	data []float64
}

func newPointBlocks(m, d int) *pointBlocks {
	nb := (m + lanes - 1) / lanes
	return &pointBlocks{m: m, d: d, data: make([]float64, nb*d*lanes)}
}

// set stores point l.
func (pb *pointBlocks) set(l int, pt []float64) {
	blk := pb.data[(l/lanes)*pb.d*lanes:]
	for j, v := range pt[:pb.d] {
		blk[j*lanes+l%lanes] = v
	}
}

// setAll stores the m points held row-major in pts.
func (pb *pointBlocks) setAll(pts []float64) {
	for l := range pb.m {
		pb.set(l, pts[l*pb.d:(l+1)*pb.d])
	}
}

// stride is the number of results per row dists writes: the points
// rounded up to whole blocks.
func (pb *pointBlocks) stride() int { return len(pb.data) / pb.d }

// batch is the number of rows whose results fit in batchFloats.
func (pb *pointBlocks) batch() int { return max(1, batchFloats/pb.stride()) }

// resultBuf returns room for the results of pb.batch() rows: stack if it
// is large enough, a new slice otherwise.
func (pb *pointBlocks) resultBuf(stack []float64) []float64 {
	n := pb.batch() * pb.stride()
	if n <= len(stack) {
		return stack[:n]
	}
	return make([]float64, n)
}

// dists sets out[i*pb.stride()+l] to the squared distance of row i of x
// (row-major, pb.d columns) to point l, for every l below pb.m.
func (pb *pointBlocks) dists(out []float64, x []float64) {
	step, stride := pb.d*lanes, pb.stride()
	nb := stride / lanes
	b := 0
	for ; b+2 <= nb; b += 2 {
		blockDists2(out[b*lanes:], stride, x, pb.d, pb.data[b*step:(b+2)*step], min(2*lanes, pb.m-b*lanes))
	}
	if b < nb {
		blockDists(out[b*lanes:], stride, x, pb.d, pb.data[b*step:(b+1)*step], pb.m-b*lanes)
	}
}

// blockDists is the block kernel: see blockDistsGo.
func blockDists(out []float64, stride int, x []float64, d int, blk []float64, live int) {
	blockDistsGo(out, stride, x, d, blk, live)
}

// blockDists2 measures two consecutive blocks, blk holding both: see
// blockDistsGo.
func blockDists2(out []float64, stride int, x []float64, d int, blk []float64, live int) {
	step := d * lanes
	blockDistsGo(out, stride, x, d, blk[:step], min(live, lanes))
	blockDistsGo(out[lanes:], stride, x, d, blk[step:2*step], live-lanes)
}

// addMins adds the rows' potentials with the candidates: see addMinsGo.
func addMins(sums, od, w, buf []float64, stride, off int) { addMinsGo(sums, od, w, buf, stride, off) }
