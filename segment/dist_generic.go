//go:build !(goexperiment.simd && amd64)

package segment

// Without GOEXPERIMENT=simd on amd64 the scalar kernel is the only one.

// simdLevel and maxSIMDLevel mirror dist_simd.go; here there is only the
// scalar level.
var simdLevel, maxSIMDLevel = 0, 0

// simdLevelNames names the levels for tests and benchmarks.
var simdLevelNames = []string{"scalar"}

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
