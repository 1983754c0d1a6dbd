//go:build goexperiment.simd && amd64

package segment

import "simd/archsimd"

// Every AVX kernel runs no scalar float64 code between its first vector
// operation and its ClearAVXUpperBits (VZEROUPPER): Go compiles scalar
// float64 code to SSE instructions, which stall badly while AVX has left
// the upper halves of the vector registers dirty (kernels that mixed them
// ran ten times slower here). Float comparisons are made by the callers,
// before.

// SIMD levels: 0 scalar, 1 AVX2 (a block in two vectors of four lanes),
// 2 AVX-512 (a block in one vector of eight). simdLevel is the one in use,
// the best the CPU has unless a test lowers it; every level gives the
// same results bit for bit.
var (
	maxSIMDLevel = detectSIMD()
	simdLevel    = maxSIMDLevel
)

// simdLevelNames names the levels for tests and benchmarks.
var simdLevelNames = []string{"scalar", "avx2", "avx512"}

func detectSIMD() int {
	switch {
	case archsimd.X86.AVX512():
		return 2
	case archsimd.X86.AVX2():
		return 1
	}
	return 0
}

// blockDists is the block kernel: see blockDistsGo.
func blockDists(out []float64, stride int, x []float64, d int, blk []float64, live int) {
	switch simdLevel {
	case 2:
		blockDistsAVX512(out, stride, x, d, blk)
	case 1:
		blockDistsAVX2(out, stride, x, d, blk)
	default:
		blockDistsGo(out, stride, x, d, blk, live)
	}
}

// blockDists2 measures two consecutive blocks, blk holding both: see
// blockDistsGo. AVX-512 measures both in one loop over the coordinates,
// which broadcasts each coordinate of the row once for the two.
func blockDists2(out []float64, stride int, x []float64, d int, blk []float64, live int) {
	step := d * lanes
	switch simdLevel {
	case 2:
		blockDists2AVX512(out, stride, x, d, blk[:step], blk[step:2*step])
	case 1:
		blockDistsAVX2(out, stride, x, d, blk[:step])
		blockDistsAVX2(out[lanes:], stride, x, d, blk[step:2*step])
	default:
		blockDistsGo(out, stride, x, d, blk[:step], min(live, lanes))
		blockDistsGo(out[lanes:], stride, x, d, blk[step:2*step], live-lanes)
	}
}

// addMins adds the rows' potentials with the candidates: see addMinsGo.
func addMins(sums, od, w, buf []float64, stride, off int) {
	if simdLevel > 0 {
		addMinsAVX2(sums, od, w, buf, stride, off)
		return
	}
	addMinsGo(sums, od, w, buf, stride, off)
}

// addMinsAVX2 keeps four sums in the lanes of one vector: each lane adds
// its candidate's potentials in row order, as addMinsGo does. Its Min is
// the scalar min for these values: none is NaN or -0.
func addMinsAVX2(sums, od, w, buf []float64, stride, off int) {
	for t := 0; t < len(sums); t += 4 {
		acc := archsimd.LoadFloat64x4SlicePart(sums[t:])
		for i, o := range od {
			v := archsimd.BroadcastFloat64x4(o).Min(archsimd.LoadFloat64x4Slice(buf[i*stride+off+t:]))
			if w != nil {
				v = archsimd.BroadcastFloat64x4(w[i]).Mul(v)
			}
			acc = acc.Add(v)
		}
		acc.StoreSlicePart(sums[t:])
	}
	archsimd.ClearAVXUpperBits()
}

// The AVX kernels keep one vector accumulator for each of s0..s3, lane l
// summing for point l.

// blockDistsAVX512 measures the eight points of the block in the eight
// lanes of a vector.
func blockDistsAVX512(out []float64, stride int, x []float64, d int, blk []float64) {
	blk = blk[:d*lanes]
	for i := range len(x) / d {
		r, b := x[i*d:(i+1)*d], blk
		var s0, s1, s2, s3 archsimd.Float64x8
		for ; len(r) >= 4; r, b = r[4:], b[4*lanes:] {
			q := (*[4 * lanes]float64)(b)
			t0 := archsimd.BroadcastFloat64x8(r[0]).Sub(archsimd.LoadFloat64x8((*[lanes]float64)(q[0:8])))
			t1 := archsimd.BroadcastFloat64x8(r[1]).Sub(archsimd.LoadFloat64x8((*[lanes]float64)(q[8:16])))
			t2 := archsimd.BroadcastFloat64x8(r[2]).Sub(archsimd.LoadFloat64x8((*[lanes]float64)(q[16:24])))
			t3 := archsimd.BroadcastFloat64x8(r[3]).Sub(archsimd.LoadFloat64x8((*[lanes]float64)(q[24:32])))
			s0 = s0.Add(t0.Mul(t0))
			s1 = s1.Add(t1.Mul(t1))
			s2 = s2.Add(t2.Mul(t2))
			s3 = s3.Add(t3.Mul(t3))
		}
		switch len(r) {
		case 3:
			t := archsimd.BroadcastFloat64x8(r[2]).Sub(archsimd.LoadFloat64x8Slice(b[2*lanes:]))
			s2 = s2.Add(t.Mul(t))
			fallthrough
		case 2:
			t := archsimd.BroadcastFloat64x8(r[1]).Sub(archsimd.LoadFloat64x8Slice(b[lanes:]))
			s1 = s1.Add(t.Mul(t))
			fallthrough
		case 1:
			t := archsimd.BroadcastFloat64x8(r[0]).Sub(archsimd.LoadFloat64x8Slice(b))
			s0 = s0.Add(t.Mul(t))
		}
		s0.Add(s1).Add(s2.Add(s3)).Store((*[lanes]float64)(out[i*stride:]))
	}
	archsimd.ClearAVXUpperBits()
}

// blockDists2AVX512 is blockDistsAVX512 for two blocks, a and b.
func blockDists2AVX512(out []float64, stride int, x []float64, d int, blkA, blkB []float64) {
	blkA, blkB = blkA[:d*lanes], blkB[:d*lanes]
	for i := range len(x) / d {
		r, a, b := x[i*d:(i+1)*d], blkA, blkB
		var s0, s1, s2, s3, h0, h1, h2, h3 archsimd.Float64x8
		for ; len(r) >= 4; r, a, b = r[4:], a[4*lanes:], b[4*lanes:] {
			qa, qb := (*[4 * lanes]float64)(a), (*[4 * lanes]float64)(b)
			x0, x1 := archsimd.BroadcastFloat64x8(r[0]), archsimd.BroadcastFloat64x8(r[1])
			x2, x3 := archsimd.BroadcastFloat64x8(r[2]), archsimd.BroadcastFloat64x8(r[3])
			t0, u0 := x0.Sub(load8(qa[0:8])), x0.Sub(load8(qb[0:8]))
			t1, u1 := x1.Sub(load8(qa[8:16])), x1.Sub(load8(qb[8:16]))
			t2, u2 := x2.Sub(load8(qa[16:24])), x2.Sub(load8(qb[16:24]))
			t3, u3 := x3.Sub(load8(qa[24:32])), x3.Sub(load8(qb[24:32]))
			s0, h0 = s0.Add(t0.Mul(t0)), h0.Add(u0.Mul(u0))
			s1, h1 = s1.Add(t1.Mul(t1)), h1.Add(u1.Mul(u1))
			s2, h2 = s2.Add(t2.Mul(t2)), h2.Add(u2.Mul(u2))
			s3, h3 = s3.Add(t3.Mul(t3)), h3.Add(u3.Mul(u3))
		}
		switch len(r) {
		case 3:
			x2 := archsimd.BroadcastFloat64x8(r[2])
			t, u := x2.Sub(load8(a[2*lanes:3*lanes])), x2.Sub(load8(b[2*lanes:3*lanes]))
			s2, h2 = s2.Add(t.Mul(t)), h2.Add(u.Mul(u))
			fallthrough
		case 2:
			x1 := archsimd.BroadcastFloat64x8(r[1])
			t, u := x1.Sub(load8(a[lanes:2*lanes])), x1.Sub(load8(b[lanes:2*lanes]))
			s1, h1 = s1.Add(t.Mul(t)), h1.Add(u.Mul(u))
			fallthrough
		case 1:
			x0 := archsimd.BroadcastFloat64x8(r[0])
			t, u := x0.Sub(load8(a[:lanes])), x0.Sub(load8(b[:lanes]))
			s0, h0 = s0.Add(t.Mul(t)), h0.Add(u.Mul(u))
		}
		o := (*[2 * lanes]float64)(out[i*stride:])
		s0.Add(s1).Add(s2.Add(s3)).Store((*[lanes]float64)(o[0:8]))
		h0.Add(h1).Add(h2.Add(h3)).Store((*[lanes]float64)(o[8:16]))
	}
	archsimd.ClearAVXUpperBits()
}

// load8 loads the eight float64s of q.
func load8(q []float64) archsimd.Float64x8 { return archsimd.LoadFloat64x8((*[lanes]float64)(q)) }

// blockDistsAVX2 is blockDistsAVX512 with the block in two vectors of four
// lanes, s and h.
func blockDistsAVX2(out []float64, stride int, x []float64, d int, blk []float64) {
	blk = blk[:d*lanes]
	for i := range len(x) / d {
		r, b := x[i*d:(i+1)*d], blk
		var s0, s1, s2, s3, h0, h1, h2, h3 archsimd.Float64x4
		for ; len(r) >= 4; r, b = r[4:], b[4*lanes:] {
			q := (*[4 * lanes]float64)(b)
			t0, u0 := diff2(r[0], q[0:8])
			t1, u1 := diff2(r[1], q[8:16])
			t2, u2 := diff2(r[2], q[16:24])
			t3, u3 := diff2(r[3], q[24:32])
			s0, h0 = s0.Add(t0.Mul(t0)), h0.Add(u0.Mul(u0))
			s1, h1 = s1.Add(t1.Mul(t1)), h1.Add(u1.Mul(u1))
			s2, h2 = s2.Add(t2.Mul(t2)), h2.Add(u2.Mul(u2))
			s3, h3 = s3.Add(t3.Mul(t3)), h3.Add(u3.Mul(u3))
		}
		switch len(r) {
		case 3:
			t, u := diff2(r[2], b[2*lanes:3*lanes])
			s2, h2 = s2.Add(t.Mul(t)), h2.Add(u.Mul(u))
			fallthrough
		case 2:
			t, u := diff2(r[1], b[lanes:2*lanes])
			s1, h1 = s1.Add(t.Mul(t)), h1.Add(u.Mul(u))
			fallthrough
		case 1:
			t, u := diff2(r[0], b[:lanes])
			s0, h0 = s0.Add(t.Mul(t)), h0.Add(u.Mul(u))
		}
		o := (*[lanes]float64)(out[i*stride:])
		s0.Add(s1).Add(s2.Add(s3)).Store((*[4]float64)(o[0:4]))
		h0.Add(h1).Add(h2.Add(h3)).Store((*[4]float64)(o[4:8]))
	}
	archsimd.ClearAVXUpperBits()
}

// diff2 is v minus the two four-lane halves of b[:8].
func diff2(v float64, b []float64) (archsimd.Float64x4, archsimd.Float64x4) {
	q := (*[lanes]float64)(b)
	x := archsimd.BroadcastFloat64x4(v)
	return x.Sub(archsimd.LoadFloat64x4((*[4]float64)(q[0:4]))), x.Sub(archsimd.LoadFloat64x4((*[4]float64)(q[4:8])))
}
