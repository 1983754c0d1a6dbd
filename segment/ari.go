package segment

import (
	"fmt"
	"slices"
)

// AdjustedRandIndex is the Rand index of two labelings of the same items,
// adjusted for chance (Hubert & Arabie 1985, "Comparing partitions", Journal
// of Classification 2(1)): 1 for identical partitions whatever the label
// values, about 0 for independent ones. It panics if the lengths differ.
func AdjustedRandIndex(a, b []int) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("segment: labelings of %d and %d items", len(a), len(b)))
	}
	n := len(a)
	if n < 2 {
		return 1
	}
	ia, ka := dense(a)
	ib, kb := dense(b)
	table := make([]int, ka*kb)
	rows := make([]int, ka)
	cols := make([]int, kb)
	for i := range a {
		table[ia[i]*kb+ib[i]]++
		rows[ia[i]]++
		cols[ib[i]]++
	}
	pairs := func(m int) float64 { return float64(m) * float64(m-1) / 2 }
	var index, sumRows, sumCols float64
	for _, m := range table {
		index += pairs(m)
	}
	for _, m := range rows {
		sumRows += pairs(m)
	}
	for _, m := range cols {
		sumCols += pairs(m)
	}
	expected := sumRows * sumCols / pairs(n)
	maxIndex := (sumRows + sumCols) / 2
	if maxIndex == expected {
		return 1 // both partitions trivial (one cluster, or all singletons) and equal in that
	}
	return (index - expected) / (maxIndex - expected)
}

// dense maps labels to 0..k-1 in order of their sorted values.
func dense(labels []int) ([]int, int) {
	vals := slices.Clone(labels)
	slices.Sort(vals)
	vals = slices.Compact(vals)
	out := make([]int, len(labels))
	for i, l := range labels {
		out[i], _ = slices.BinarySearch(vals, l)
	}
	return out, len(vals)
}
