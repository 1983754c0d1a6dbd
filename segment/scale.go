// Package segment groups customers into segments: feature scaling, k-means
// clustering and the figures that judge a clustering.
//
// Everything here works on dense float64 matrices (gonum's mat.Dense), one
// row per customer and one column per feature, and knows nothing of where
// the data came from. Results are deterministic: the same input, settings
// and seed give identical output whatever the number of threads.
package segment

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// Transform is applied to a feature before centring and scaling.
type Transform string

// Transforms.
const (
	TransformNone  Transform = "none"  // identity (also the empty string)
	TransformLog1p Transform = "log1p" // sign(x)·log(1+|x|): tames skewed counts and money
)

// Method centres and scales a (transformed) feature.
type Method string

// Scaling methods.
const (
	MethodStandard Method = "standard" // (x − mean) / standard deviation (also the empty string)
	MethodRobust   Method = "robust"   // (x − median) / interquartile range
	MethodNone     Method = "none"     // no centring or scaling
)

// FeatureSpec says how one feature column is scaled.
type FeatureSpec struct {
	Name      string    `json:"name" yaml:"name"`
	Transform Transform `json:"transform,omitempty" yaml:"transform"`
	Method    Method    `json:"method,omitempty" yaml:"method"`
	// Weight multiplies the scaled value, so that a feature counts more or
	// less in distances. The zero value stands for a weight not given,
	// which is 1: a feature in the list is never left out.
	Weight float64 `json:"weight,omitempty" yaml:"weight,omitempty"`
}

func (f FeatureSpec) weight() float64 {
	if f.Weight == 0 {
		return 1
	}
	return f.Weight
}

// Scaler maps features to the space k-means works in and back. It is part
// of a segmentation model and serialises to JSON.
type Scaler struct {
	Features []FeatureSpec `json:"features"`
	Center   []float64     `json:"center"`
	Scale    []float64     `json:"scale"`
	// Clip, above 0, bounds the scaled value of every centred feature
	// (method standard or robust) to [-Clip, Clip], before its weight: a
	// customer far out on one feature (a wholesaler, a heavy returner)
	// then pulls no centroid further than Clip from the population's
	// centre on it. 0 clips nothing.
	Clip float64 `json:"clip,omitempty"`
}

// limits returns each column's bound on its scaled value before the
// weight (Clip): +Inf where nothing is clipped.
func (s *Scaler) limits() []float64 {
	lim := make([]float64, len(s.Features))
	for j, f := range s.Features {
		lim[j] = math.Inf(1)
		if s.Clip > 0 && f.Method != MethodNone {
			lim[j] = s.Clip
		}
	}
	return lim
}

// Clipped counts, per column of scaled rows z (Transform's output), the
// rows whose value Clip bounded.
func (s *Scaler) Clipped(z *mat.Dense) []int {
	r, c := z.Dims()
	s.checkShape(z, r, c)
	lim := s.limits()
	out := make([]int, c)
	raw := z.RawMatrix()
	for i := range r {
		for j, v := range raw.Data[i*raw.Stride : i*raw.Stride+c] {
			if math.Abs(v) >= lim[j]*s.Features[j].weight() {
				out[j]++
			}
		}
	}
	return out
}

func transform(t Transform, v float64) float64 {
	if t == TransformLog1p {
		if v < 0 {
			return -math.Log1p(-v)
		}
		return math.Log1p(v)
	}
	return v
}

func inverse(t Transform, v float64) float64 {
	if t == TransformLog1p {
		if v < 0 {
			return -math.Expm1(-v)
		}
		return math.Expm1(v)
	}
	return v
}

// FitScaler fits a scaler to x, whose columns follow specs. weights, one per
// row, weigh the mean and standard deviation of the standard method; nil
// means uniform (the robust method ignores them). A column with no spread
// gets scale 1 rather than a division by zero. It returns an error naming
// the feature for a NaN or infinite value, and for an unknown transform or
// method.
func FitScaler(x mat.Matrix, specs []FeatureSpec, weights []float64) (*Scaler, error) {
	r, c := x.Dims()
	if len(specs) != c {
		return nil, fmt.Errorf("segment: %d feature specs for %d columns", len(specs), c)
	}
	if weights != nil && len(weights) != r {
		return nil, fmt.Errorf("segment: %d weights for %d rows", len(weights), r)
	}
	s := &Scaler{Features: slices.Clone(specs), Center: make([]float64, c), Scale: make([]float64, c)}
	for j := range c {
		s.Scale[j] = 1
	}
	// The rows are read in order, each whole (a matrix of a million rows
	// read column by column misses the cache on every value): a first pass
	// checks the values and sums the weights and the transformed values of
	// the standard method's columns, a second sums their squared
	// deviations. Each sum runs over the rows in order, as a column's would.
	buf := make([]float64, c)
	row := func(i int) []float64 {
		if xd, ok := x.(*mat.Dense); ok {
			return xd.RawRowView(i)
		}
		for j := range buf {
			buf[j] = x.At(i, j)
		}
		return buf
	}
	weight := func(i int) float64 {
		if weights == nil {
			return 1
		}
		return weights[i]
	}
	standard, logs := make([]bool, c), make([]bool, c)
	for j, f := range specs {
		standard[j] = f.Method == "" || f.Method == MethodStandard
		logs[j] = f.Transform == TransformLog1p
	}
	bad := make([]int, c) // per column, 1 + the first row with a NaN or Inf
	sw, sum := make([]float64, c), make([]float64, c)
	for i := range r {
		w := weight(i)
		for j, xv := range row(i) {
			if math.IsNaN(xv) || math.IsInf(xv, 0) {
				if bad[j] == 0 {
					bad[j] = i + 1
				}
				continue
			}
			if standard[j] {
				if logs[j] {
					xv = transform(TransformLog1p, xv)
				}
				sw[j] += w
				sum[j] += w * xv
			}
		}
	}
	// The problems of a column in the order a column-by-column fit meets
	// them: an unknown transform, a NaN or Inf value, an unknown method.
	for j, f := range specs {
		switch f.Transform {
		case "", TransformNone, TransformLog1p:
		default:
			return nil, fmt.Errorf("segment: feature %s: unknown transform %q", f.Name, f.Transform)
		}
		if b := bad[j]; b > 0 {
			return nil, fmt.Errorf("segment: feature %s: row %d is %v", f.Name, b-1, row(b - 1)[j])
		}
		switch f.Method {
		case "", MethodStandard, MethodRobust, MethodNone:
		default:
			return nil, fmt.Errorf("segment: feature %s: unknown method %q", f.Name, f.Method)
		}
	}
	for j := range c {
		if standard[j] {
			s.Center[j] = sum[j] / sw[j]
		}
	}
	ss := make([]float64, c)
	for i := range r {
		w := weight(i)
		for j, xv := range row(i) {
			if standard[j] {
				if logs[j] {
					xv = transform(TransformLog1p, xv)
				}
				d := xv - s.Center[j]
				ss[j] += w * d * d
			}
		}
	}
	var col []float64
	for j, f := range specs {
		switch {
		case standard[j]:
			s.Scale[j] = math.Sqrt(ss[j] / sw[j])
		case f.Method == MethodRobust:
			if col == nil {
				col = make([]float64, r)
			}
			for i := range r {
				col[i] = transform(f.Transform, row(i)[j])
			}
			slices.Sort(col)
			s.Center[j] = quantile(col, 0.5)
			s.Scale[j] = quantile(col, 0.75) - quantile(col, 0.25)
		}
		if !(s.Scale[j] > 0) {
			s.Scale[j] = 1
		}
	}
	return s, nil
}

// quantile is the linearly interpolated p-quantile of sorted values (the
// "type 7" definition, as numpy's default).
func quantile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	h := p * float64(len(sorted)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}

// Transform writes the scaled x into dst: transform, centre, scale, clip,
// weight.
// An empty dst sizes itself; otherwise it must have x's shape. dst may be x.
// Rows are scaled in parallel chunks; each value depends on its own input
// alone, so the result does not depend on the number of cores.
func (s *Scaler) Transform(dst *mat.Dense, x mat.Matrix) {
	r, c := x.Dims()
	s.checkShape(dst, r, c)
	xd, ok := x.(*mat.Dense)
	if !ok {
		lim := s.limits()
		for j, f := range s.Features {
			w := f.weight()
			for i := range r {
				v := (transform(f.Transform, x.At(i, j)) - s.Center[j]) / s.Scale[j]
				dst.Set(i, j, max(-lim[j], min(v, lim[j]))*w)
			}
		}
		return
	}
	src, out := xd.RawMatrix(), dst.RawMatrix()
	// Per column, the weight and whether it takes the log: the row loop
	// then reads neither specs nor strings.
	weights := make([]float64, c)
	logs := make([]bool, c)
	lim := s.limits()
	for j, f := range s.Features {
		weights[j], logs[j] = f.weight(), f.Transform == TransformLog1p
	}
	const chunk = 8192
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for lo := 0; lo < r; lo += chunk {
		hi := min(lo+chunk, r)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for i := lo; i < hi; i++ {
				in, o := src.Data[i*src.Stride:i*src.Stride+c], out.Data[i*out.Stride:i*out.Stride+c]
				for j, v := range in {
					if logs[j] {
						v = transform(TransformLog1p, v)
					}
					o[j] = max(-lim[j], min((v-s.Center[j])/s.Scale[j], lim[j])) * weights[j]
				}
			}
		})
	}
	wg.Wait()
}

// InverseTransform maps scaled values (centroids, say) back to the original
// units of each feature. An empty dst sizes itself; dst may be z.
func (s *Scaler) InverseTransform(dst *mat.Dense, z mat.Matrix) {
	r, c := z.Dims()
	s.checkShape(dst, r, c)
	for j := range s.Features {
		for i := range r {
			dst.Set(i, j, s.inverse(j, z.At(i, j)))
		}
	}
}

// InverseRow maps one scaled row z back to the original units into dst, as
// InverseTransform does. The round trip through Transform is exact to a
// few units in the last place, not bit for bit.
func (s *Scaler) InverseRow(dst, z []float64) {
	if len(dst) != len(s.Features) || len(z) != len(s.Features) {
		panic(mat.ErrShape)
	}
	for j := range s.Features {
		dst[j] = s.inverse(j, z[j])
	}
}

func (s *Scaler) inverse(j int, z float64) float64 {
	f := s.Features[j]
	return inverse(f.Transform, z/f.weight()*s.Scale[j]+s.Center[j])
}

func (s *Scaler) checkShape(dst *mat.Dense, r, c int) {
	if c != len(s.Features) {
		panic(fmt.Sprintf("segment: scaler has %d features, matrix has %d columns", len(s.Features), c))
	}
	if dst.IsEmpty() {
		dst.ReuseAs(r, c)
		return
	}
	if dr, dc := dst.Dims(); dr != r || dc != c {
		panic(mat.ErrShape)
	}
}
