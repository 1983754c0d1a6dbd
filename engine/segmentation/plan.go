package segmentation

import (
	"errors"

	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/segment"
)

// assignChunk is how many rows AssignRows scales at a time: no scaled copy
// of the whole matrix is made. A variable for the tests.
var assignChunk = 1 << 14

// AssignRows gives each customer at rows of fm the segment of the model m
// whose centroid is nearest, as Assign gives every customer: scaled with
// the model's scaler, a one-hot or share column the run lacks taken as 0,
// one the model lacks left out. It returns their segment IDs, in the order
// of rows. fm must hold the features in their own units, as the engine
// reads them, not yet scaled in place by a training (FeatureMatrix.Scaled
// set is an error); a model trained on other numeric features is an error
// that names both lists. fm is not changed.
//
// The scorecard gives the customers new since a plan's run the plan's
// segments this way (engine.planScope), beside this run's own segmentation.
func AssignRows(m *segment.Model, fm *FeatureMatrix, rows []int, threads int) ([]int32, error) {
	if fm.Scaled != nil {
		return nil, errors.New("segmentation: the features are scaled already: assign with a model before training")
	}
	out := make([]int32, 0, len(rows))
	_, d := fm.X.Dims()
	centroids := m.Centroids()
	var labels []int
	var dist []float64
	for lo := 0; lo < len(rows); lo += assignChunk {
		chunk := rows[lo:min(lo+assignChunk, len(rows))]
		x := mat.NewDense(len(chunk), d, nil)
		for i, row := range chunk {
			x.SetRow(i, fm.X.RawRowView(row))
		}
		z, err := alignFeatures(&FeatureMatrix{Specs: fm.Specs, X: x, Numeric: fm.Numeric}, m.Scaler)
		if err != nil {
			return nil, err
		}
		labels, dist = segment.Assign(labels, dist, z, centroids, threads)
		for _, l := range labels[:len(chunk)] {
			out = append(out, int32(m.Segments[l].ID))
		}
	}
	return out, nil
}
