package segment

import (
	"fmt"
	"slices"
)

// AdjustedRandIndex is the Rand index of two labelings of the same items,
// adjusted for chance (Hubert & Arabie 1985, "Comparing partitions", Journal
// of Classification 2(1)): 1 for identical partitions whatever the label
// values, about 0 for independent ones. It panics if the lengths differ.
// AdjustedRandIndexTable gives it from the contingency table.
func AdjustedRandIndex(a, b []int) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("segment: labelings of %d and %d items", len(a), len(b)))
	}
	ia, ka := dense(a)
	ib, kb := dense(b)
	table := make([][]int64, ka)
	for i := range table {
		table[i] = make([]int64, kb)
	}
	for i := range a {
		table[ia[i]][ib[i]]++
	}
	return AdjustedRandIndexTable(table)
}

// AdjustedRandIndexTable is the adjusted Rand index of two partitions of
// the same n items from their contingency table: table[i][j] items are in
// part i of the first partition and part j of the second (rows may differ
// in length; a missing cell is 0). With a = Σᵢⱼ C(nᵢⱼ, 2), the row sums
// rᵢ, the column sums cⱼ, R = Σᵢ C(rᵢ, 2) and S = Σⱼ C(cⱼ, 2), it is
//
//	(a − R·S/C(n, 2)) / ((R + S)/2 − R·S/C(n, 2))
//
// (Hubert & Arabie 1985, "Comparing partitions", Journal of
// Classification 2(1), eq. 5). It is 1 when both partitions are trivial in
// the same way (one part, or every item its own), and for fewer than two
// items. Pairs are counted in float64, exact up to about 10⁸ items.
func AdjustedRandIndexTable(table [][]int64) float64 {
	var cols []int64
	var n int64
	var index, sumRows float64
	pairs := func(m int64) float64 { return float64(m) * float64(m-1) / 2 }
	for _, row := range table {
		var r int64
		for j, m := range row {
			if j >= len(cols) {
				cols = append(cols, 0)
			}
			cols[j] += m
			r += m
			index += pairs(m)
		}
		n += r
		sumRows += pairs(r)
	}
	if n < 2 {
		return 1
	}
	var sumCols float64
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
