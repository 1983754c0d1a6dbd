package segment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// BenchmarkTransform scales 1,000,000 × 37 values, three columns
// through log1p, as the segment stage does.
func BenchmarkTransform(b *testing.B) {
	x, specs := transformBenchData()
	s, err := FitScaler(x, specs, nil)
	if err != nil {
		b.Fatal(err)
	}
	z := &mat.Dense{}
	b.ResetTimer()
	for range b.N {
		s.Transform(z, x)
	}
}

// InverseRow gives InverseTransform's row, and a scaled row back within a
// few units in the last place of the original.
func TestInverseRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	x := mat.NewDense(200, 4, nil)
	for i := range 200 {
		x.Set(i, 0, rng.ExpFloat64()*1000)
		x.Set(i, 1, rng.NormFloat64())
		x.Set(i, 2, -rng.ExpFloat64()*50)
		x.Set(i, 3, float64(rng.IntN(2)))
	}
	specs := []FeatureSpec{{Name: "money", Transform: TransformLog1p}, {Name: "z", Weight: 2},
		{Name: "returns", Transform: TransformLog1p, Method: MethodRobust}, {Name: "flag", Method: MethodNone, Weight: 0.5}}
	s, err := FitScaler(x, specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	z := mat.DenseCopyOf(x)
	s.Transform(z, z)
	back := &mat.Dense{}
	s.InverseTransform(back, z)
	row := make([]float64, 4)
	for i := range 200 {
		s.InverseRow(row, z.RawRowView(i))
		for j, v := range row {
			if v != back.At(i, j) {
				t.Fatalf("row %d column %d: InverseRow %v, InverseTransform %v", i, j, v, back.At(i, j))
			}
			if want := x.At(i, j); math.Abs(v-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Fatalf("row %d column %d: %v back, %v before scaling", i, j, v, want)
			}
		}
	}
}

// BenchmarkFitScaler fits the scaler of 1,000,000 × 37 values, three
// columns through log1p.
func BenchmarkFitScaler(b *testing.B) {
	x, specs := transformBenchData()
	b.ResetTimer()
	for range b.N {
		if _, err := FitScaler(x, specs, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// transformBenchData is 1,000,000 × 37 exponential values, the first three
// columns taken through log1p.
func transformBenchData() (*mat.Dense, []FeatureSpec) {
	const n, d = 1_000_000, 37
	rng := rand.New(rand.NewPCG(1, 1))
	x := mat.NewDense(n, d, nil)
	raw := x.RawMatrix().Data
	for i := range raw {
		raw[i] = rng.ExpFloat64()
	}
	specs := make([]FeatureSpec, d)
	for j := range specs {
		specs[j] = FeatureSpec{Name: fmt.Sprint("f", j)}
		if j < 3 {
			specs[j].Transform = TransformLog1p
		}
	}
	return x, specs
}
