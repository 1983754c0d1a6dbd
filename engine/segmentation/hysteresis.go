package segmentation

import "github.com/crmseg/crmseg/segment"

// hysteresis keeps customers in the segment the previous run gave them
// unless their nearest centroid is closer than that segment's by more than
// the relative margin: a customer moves only when
//
//	d_previous > (1 + margin) · d_nearest
//
// (Euclidean distances in the scaled space). Customers whose previous
// segment has no centroid in this run (a retired segment), and customers
// new to this run, keep their nearest centroid. The labels (cluster
// indices) and squared distances of the clustering are updated in place;
// c.ids gives the segment ID of each cluster. It returns the number of
// customers kept. Each customer is decided on its own, so the result does
// not depend on the order or the number of threads.
func (c *clustering) hysteresis(previous func(yield func(row, segmentID int)) error, margin float64) (int64, error) {
	if previous == nil {
		return 0, nil
	}
	cluster := map[int]int{}
	for cl, id := range c.ids {
		cluster[id] = cl
	}
	limit := (1 + margin) * (1 + margin)
	labels, sqDist, centroids := c.res.Labels, c.res.Distances, c.res.Centroids
	var kept int64
	err := previous(func(i, id int) {
		cl, ok := cluster[id]
		if !ok || labels[i] == cl {
			return
		}
		d2 := segment.SquaredDistance(c.z.RawRowView(i), centroids.RawRowView(cl))
		if d2 <= limit*sqDist[i] {
			labels[i], sqDist[i] = cl, d2
			kept++
		}
	})
	return kept, err
}
