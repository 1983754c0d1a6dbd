// Package bench holds what crmseg's benchmarks need and the product does
// not: the Gaussian blobs make bench-kmeans clusters with crmseg cluster and
// scikit-learn alike. Its command, internal/bench/cmd/crmseg-bench, writes
// them (crmseg-bench blobs) and times the DuckDB scan floor of make
// bench-e2e (crmseg-bench scan). Nothing in the crmseg binary imports this
// package; it may link anything.
//
// Parquet: blobs.parquet is written with parquet-go through
// featuretable.Write, the writer of the tables crmseg cluster reads, so the
// benchmark's input is the product's own format; blobs.npy is written
// directly (NumPy's format is a header and the raw float64s). The scan floor
// uses DuckDB, the engine's stack, since it is the floor of the engine's
// reading.
package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/crmseg/crmseg/datasets/featuretable"
	"github.com/crmseg/crmseg/internal/durable"
)

// BlobsConfig describes Gaussian blobs for benchmarks and tests.
type BlobsConfig struct {
	Rows, Dims, Centers int
	// Spread is the standard deviation of the centres' coordinates; the
	// points of a blob have unit standard deviation around their centre.
	Spread float64
	Seed   uint64
}

// WriteBlobs writes Gaussian blobs as blobs.parquet (columns id, f00,
// f01, ...; the id is the row number), as blobs.npy (the feature matrix,
// little-endian float64, row-major, NumPy's format version 1.0) and the
// true blob of every row as truth.csv, all in dir.
func WriteBlobs(dir string, cfg BlobsConfig) error {
	if cfg.Rows < 1 || cfg.Dims < 1 || cfg.Centers < 1 {
		return fmt.Errorf("blobs: rows, dims and centers must be at least 1, found %d, %d, %d", cfg.Rows, cfg.Dims, cfg.Centers)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xb10b5))
	centres := make([]float64, cfg.Centers*cfg.Dims)
	for i := range centres {
		centres[i] = cfg.Spread * rng.NormFloat64()
	}
	x := make([]float64, cfg.Rows*cfg.Dims)
	truth := make([]int, cfg.Rows)
	for i := range cfg.Rows {
		c := rng.IntN(cfg.Centers)
		truth[i] = c
		for j := range cfg.Dims {
			x[i*cfg.Dims+j] = centres[c*cfg.Dims+j] + rng.NormFloat64()
		}
	}
	t := &featuretable.Table{IDColumn: "id", IntIDs: make([]int64, cfg.Rows), Columns: make([]string, cfg.Dims),
		X: x, N: cfg.Rows, D: cfg.Dims}
	for i := range t.IntIDs {
		t.IntIDs[i] = int64(i)
	}
	for j := range t.Columns {
		t.Columns[j] = fmt.Sprintf("f%02d", j)
	}
	if err := featuretable.Write(filepath.Join(dir, "blobs.parquet"), t); err != nil {
		return err
	}
	if err := writeNpy(filepath.Join(dir, "blobs.npy"), x, cfg.Rows, cfg.Dims); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("id,blob\n")
	for i, c := range truth {
		fmt.Fprintf(&b, "%d,%d\n", i, c)
	}
	return durable.WriteFile(filepath.Join(dir, "truth.csv"), b.Bytes())
}

// writeNpy writes a float64 matrix in NumPy's .npy format, version 1.0: a
// magic string, a header length, a Python dict literal padded to a
// multiple of 64 bytes, then the data.
func writeNpy(path string, x []float64, rows, cols int) error {
	header := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.Grow(10 + len(header) + 8*len(x))
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	binary.Write(&b, binary.LittleEndian, x)
	return durable.WriteFile(path, b.Bytes())
}
