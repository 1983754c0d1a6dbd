package bench

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/datasets/featuretable"
)

// TestWriteBlobs checks that blobs.parquet, read as crmseg cluster reads it,
// and blobs.npy, read as NumPy does, hold the same matrix, and that the
// same seed gives the same files.
func TestWriteBlobs(t *testing.T) {
	dir := t.TempDir()
	cfg := BlobsConfig{Rows: 1000, Dims: 3, Centers: 4, Spread: 5, Seed: 9}
	if err := WriteBlobs(dir, cfg); err != nil {
		t.Fatal(err)
	}
	tab, err := featuretable.Read(filepath.Join(dir, "blobs.parquet"), "id")
	if err != nil {
		t.Fatal(err)
	}
	if tab.N != cfg.Rows || !slices.Equal(tab.Columns, []string{"f00", "f01", "f02"}) || tab.ID(999) != "999" {
		t.Fatalf("blobs.parquet: %d rows, columns %v, last id %s", tab.N, tab.Columns, tab.ID(tab.N-1))
	}
	npy, err := os.ReadFile(filepath.Join(dir, "blobs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(npy, []byte("\x93NUMPY\x01\x00")) {
		t.Fatalf("blobs.npy starts %q", npy[:8])
	}
	hlen := int(binary.LittleEndian.Uint16(npy[8:10]))
	header := string(npy[10 : 10+hlen])
	if (10+hlen)%64 != 0 || !strings.HasSuffix(header, "\n") || !strings.Contains(header, "'shape': (1000, 3)") {
		t.Fatalf("blobs.npy header %q (%d bytes with the preamble)", header, 10+hlen)
	}
	data := npy[10+hlen:]
	if len(data) != 8*len(tab.X) {
		t.Fatalf("blobs.npy: %d data bytes, want %d", len(data), 8*len(tab.X))
	}
	for i, x := range tab.X {
		if y := math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:])); y != x {
			t.Fatalf("value %d: %v in blobs.npy, %v in blobs.parquet", i, y, x)
		}
	}
	again := t.TempDir()
	if err := WriteBlobs(again, cfg); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"blobs.parquet", "blobs.npy", "truth.csv"} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(again, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two writes with the same seed (or is empty)", f)
		}
	}
}
