package segmentation

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/segment"
)

// UnassignedName is the name of the segment of the customers a file of
// given segments does not hold (Given).
const UnassignedName = "Unassigned"

// Given takes the segments made elsewhere (segmentation.assignments)
// instead of k-means: segmentOf is each customer's segment ID by row, 0
// for a customer the file does not hold, and names the file's name of a
// segment ("" or none: the generated one). The customers without a segment
// form one more, named UnassignedName, with the ID after the file's
// highest. Every segment keeps its ID from one run to the next as the file
// does: none is matched to the previous model's by its centroid; a segment
// whose ID the previous model had is kept, the others new, the previous
// model's IDs the file no longer has retired (givenChanges). There is no
// hysteresis: the file says where each customer is.
//
// The run's model is the nearest-centroid model of these segments: each
// centroid is the mean of its customers' scaled features. Assigning with it
// (segmentation.model) approximates the given segments, and a later
// training matches its segments to them as to any model.
func Given(in Input, st Settings, segmentOf []int32, names map[int]string) (*Outcome, error) {
	fm := in.Features
	n, d := fm.X.Dims()
	if len(segmentOf) != n {
		panic(fmt.Sprintf("segmentation: %d segments for %d customers", len(segmentOf), n))
	}
	z, scaler, err := scale(fm, st.Segmentation.OutlierClip)
	if err != nil {
		return nil, err
	}
	var ids []int
	seen := map[int32]bool{}
	for _, id := range segmentOf {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, int(id))
		}
	}
	slices.Sort(ids)
	unassigned := ids[0] == 0
	if unassigned {
		ids = append(ids[1:], ids[len(ids)-1]+1)
	}
	k := len(ids)
	cluster := map[int32]int{}
	for c, id := range ids {
		cluster[int32(id)] = c
	}
	if unassigned {
		cluster[0] = k - 1
	}
	res := &segment.Result{Centroids: mat.NewDense(k, d, nil), Labels: make([]int, n), Distances: make([]float64, n),
		Sizes: make([]int, k), Converged: true}
	for i, id := range segmentOf {
		c := cluster[id]
		res.Labels[i] = c
		res.Sizes[c]++
		floats.Add(res.Centroids.RawRowView(c), z.RawRowView(i))
	}
	for c := range k {
		floats.Scale(1/float64(res.Sizes[c]), res.Centroids.RawRowView(c))
	}
	for i, c := range res.Labels {
		dist := floats.Distance(z.RawRowView(i), res.Centroids.RawRowView(c), 2)
		res.Distances[i] = dist * dist
		res.Inertia += dist * dist
	}
	c := &clustering{z: z, scaler: scaler, res: res, algorithm: "assignments", source: "assignments",
		kRows: []segment.KRow{st.figures(z, res.Labels, res.Inertia, k)}, chosen: k, ids: ids, nextID: ids[k-1] + 1}
	c.names = make([]string, k)
	for i, id := range ids {
		c.names[i] = names[id]
	}
	if unassigned {
		c.names[k-1] = UnassignedName
	}
	c.changes = givenChanges(ids, res.Centroids, scaler, in.Previous)
	st.Segmentation.Hysteresis = 0
	return finish(c, in, st)
}

// givenChanges relates given segments (with their centroids, in the
// scaled space of scaler) to the previous model's by ID: an ID both have
// is kept, its shift the distance between the two centroids (the
// previous one expressed in this scaling); one only the file has is new,
// one only the previous model has retired, both with no shift (0).
func givenChanges(ids []int, centroids *mat.Dense, scaler *segment.Scaler, previous *segment.Model) []segment.SegmentChange {
	had := map[int]int{}
	var expressed *mat.Dense
	if previous != nil {
		expressed = previous.Express(scaler)
		for i, s := range previous.Segments {
			had[s.ID] = i
		}
	}
	var changes []segment.SegmentChange
	for c, id := range ids {
		ch := segment.SegmentChange{ID: id, Change: "new"}
		if i, ok := had[id]; ok {
			ch.Change = "kept"
			ch.Shift = floats.Distance(expressed.RawRowView(i), centroids.RawRowView(c), 2)
		}
		changes = append(changes, ch)
	}
	if previous != nil {
		for _, s := range previous.Segments {
			if !slices.Contains(ids, s.ID) {
				changes = append(changes, segment.SegmentChange{ID: s.ID, Name: s.Name, Change: "retired"})
			}
		}
	}
	return changes
}
