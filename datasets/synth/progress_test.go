package synth

import (
	"context"
	"slices"
	"testing"
)

// TestGenerateProgress checks that Generate reports every chunk of
// customers (4096 each) in order.
func TestGenerateProgress(t *testing.T) {
	var calls [][2]int
	cfg := Config{Customers: 2*chunkCustomers + 10, Seed: 1, Progress: func(done, total int) { calls = append(calls, [2]int{done, total}) }}
	if _, err := Generate(context.Background(), cfg, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if want := [][2]int{{1, 3}, {2, 3}, {3, 3}}; !slices.Equal(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
}
