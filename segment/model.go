package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/internal/nullable"
)

// ModelVersion is the version of the model file format written by this
// package. A model of a later version is refused.
const ModelVersion = 1

// Model is a trained segmentation: how to scale the features and the
// centroid, ID and name of every segment. It is written as JSON, assigns
// customers without retraining, and is the reference the next training is
// matched against so that segment IDs keep their meaning.
type Model struct {
	Version   int    `json:"version"`
	Software  string `json:"software"`   // crmseg version that trained it
	TrainedAt string `json:"trained_at"` // the as_of of the training data
	RunID     string `json:"run_id,omitempty"`
	// Scaler holds the feature list, in column order, and the scaling.
	Scaler *Scaler `json:"scaler"`
	// Segments in ID order; each centroid is in the scaled space.
	Segments []ModelSegment `json:"segments"`
	// NextID is the ID the next new segment gets: IDs are never reused.
	NextID   int            `json:"next_id"`
	Training TrainingRecord `json:"training"`
	// Changes says how the segments relate to those of the model this
	// one was matched against; empty for a first training.
	Changes []SegmentChange `json:"changes,omitempty"`
}

// ModelSegment is one segment of a model.
type ModelSegment struct {
	ID       int       `json:"id"`
	Name     string    `json:"name"`
	Size     int       `json:"size"`
	Share    float64   `json:"share"`
	Centroid []float64 `json:"centroid"`
}

// TrainingRecord holds the figures of the fit a model came from.
type TrainingRecord struct {
	Rows       int       `json:"rows"`
	K          int       `json:"k"`
	NInit      int       `json:"n_init"`
	Seed       uint64    `json:"seed"`
	Algorithm  string    `json:"algorithm"`
	Inertia    float64   `json:"inertia"`
	Iterations int       `json:"iterations"`
	Converged  bool      `json:"converged"`
	KSelection []KRow    `json:"k_selection,omitempty"`
	KReason    string    `json:"k_reason,omitempty"`
	Inertias   []float64 `json:"inertias,omitempty"`
}

// SegmentChange records what became of a segment at a retraining: kept
// (matched to the segment with the same ID), new (split from the nearest
// previous segment, From), or retired (merged into the nearest new
// segment, Into). Shift is the distance its centroid moved, in the scaled
// space of the new model, or the distance to the segment it split from or
// merged into.
type SegmentChange struct {
	ID     int     `json:"id"`
	Change string  `json:"change"` // kept, new, retired
	From   int     `json:"from,omitempty"`
	Into   int     `json:"into,omitempty"`
	Shift  float64 `json:"shift"`
	Name   string  `json:"name"`
}

// Centroids returns the segments' centroids as a matrix, in ID order.
func (m *Model) Centroids() *mat.Dense {
	d := len(m.Scaler.Features)
	c := mat.NewDense(len(m.Segments), d, nil)
	for i, s := range m.Segments {
		c.SetRow(i, s.Centroid)
	}
	return c
}

// Validate checks a model's internal consistency.
func (m *Model) Validate() error {
	switch {
	case m.Version < 1 || m.Version > ModelVersion:
		return fmt.Errorf("model version %d: expected 1 to %d", m.Version, ModelVersion)
	case m.Scaler == nil || len(m.Scaler.Features) == 0:
		return errors.New("model has no features")
	case len(m.Scaler.Center) != len(m.Scaler.Features) || len(m.Scaler.Scale) != len(m.Scaler.Features):
		return fmt.Errorf("model scaler: %d features, %d centres, %d scales", len(m.Scaler.Features), len(m.Scaler.Center), len(m.Scaler.Scale))
	case len(m.Segments) == 0:
		return errors.New("model has no segments")
	}
	seen := map[int]bool{}
	for _, s := range m.Segments {
		if len(s.Centroid) != len(m.Scaler.Features) {
			return fmt.Errorf("model segment %d: centroid of %d values for %d features", s.ID, len(s.Centroid), len(m.Scaler.Features))
		}
		for _, v := range s.Centroid {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("model segment %d: centroid holds %v", s.ID, v)
			}
		}
		if s.ID < 1 || seen[s.ID] || s.ID >= m.NextID {
			return fmt.Errorf("model segment ID %d: expected unique IDs from 1 below next_id %d", s.ID, m.NextID)
		}
		seen[s.ID] = true
	}
	for j, v := range m.Scaler.Scale {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("model scaler: feature %s has scale %v", m.Scaler.Features[j].Name, v)
		}
	}
	return nil
}

// ReadModel reads and validates a model file.
func ReadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a segmentation model: %v", path, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &m, nil
}

// Write writes the model as indented JSON through a temporary file renamed
// into place.
func (m *Model) Write(path string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-model-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Express maps centroids of the previous model into the scaled space of
// scaler: back to original units with the previous scaler, then forward with
// the new one. Features are matched by name; a feature of the new space the
// previous model did not have takes the new space's value for 0 in original
// units (right for one-hot and share columns, which are all that can come
// and go between runs with the same configuration).
func (m *Model) Express(scaler *Scaler) *mat.Dense {
	prevIdx := map[string]int{}
	for j, f := range m.Scaler.Features {
		prevIdx[f.Name] = j
	}
	orig := &mat.Dense{}
	m.Scaler.InverseTransform(orig, m.Centroids())
	k := len(m.Segments)
	d := len(scaler.Features)
	x := mat.NewDense(k, d, nil)
	for j, f := range scaler.Features {
		pj, ok := prevIdx[f.Name]
		for i := range k {
			if ok {
				x.Set(i, j, orig.At(i, pj))
			}
		}
	}
	out := &mat.Dense{}
	scaler.Transform(out, x)
	return out
}

// Match relates freshly fitted centroids (in the scaled space of scaler) to
// the previous model's segments: matched centroids keep their previous ID
// and name; others get new IDs from prev.NextID on, in order of their index.
// maxDist > 0 leaves pairs farther apart unmatched. It returns the ID of
// each new centroid, the previous name of each (empty for a new one), the
// next free ID and the changes.
func (m *Model) Match(next *mat.Dense, scaler *Scaler, maxDist float64) (ids []int, names []string, nextID int, changes []SegmentChange) {
	prev := m.Express(scaler)
	mt := MatchCentroids(prev, next, maxDist)
	k, _ := next.Dims()
	ids = make([]int, k)
	names = make([]string, k)
	nextID = m.NextID
	for j := range k {
		if p := mt.Next[j]; p >= 0 {
			ids[j], names[j] = m.Segments[p].ID, m.Segments[p].Name
		}
	}
	for j := range k {
		if mt.Next[j] < 0 {
			ids[j] = nextID
			nextID++
		}
	}
	for j := range k {
		c := SegmentChange{ID: ids[j], Change: "kept", Shift: mt.Dist[j], Name: names[j]}
		if p := mt.Next[j]; p < 0 {
			c.Change = "new"
			c.Shift = 0
			for _, s := range mt.Splits {
				if s.Next == j && s.From >= 0 && !s.New {
					c.From, c.Shift = m.Segments[s.From].ID, s.Dist
				}
			}
		}
		changes = append(changes, c)
	}
	for _, mg := range mt.Merges {
		c := SegmentChange{ID: m.Segments[mg.Prev].ID, Change: "retired", Name: m.Segments[mg.Prev].Name}
		if mg.Into >= 0 && !mg.Retired {
			c.Into, c.Shift = ids[mg.Into], mg.Dist
		}
		changes = append(changes, c)
	}
	slices.SortStableFunc(changes, func(a, b SegmentChange) int { return a.ID - b.ID })
	return ids, names, nextID, changes
}

// krowJSON is KRow with figures that may be NaN (stability when it is
// not computed, a silhouette of one cluster) as JSON nulls.
type krowJSON struct {
	K                int            `json:"k"`
	Inertia          nullable.Float `json:"inertia"`
	Silhouette       nullable.Float `json:"silhouette"`
	CalinskiHarabasz nullable.Float `json:"calinski_harabasz"`
	DaviesBouldin    nullable.Float `json:"davies_bouldin"`
	Stability        nullable.Float `json:"stability"`
	SmallestShare    nullable.Float `json:"smallest_share"`
	Eligible         bool           `json:"eligible"`
}

// MarshalJSON writes a NaN or infinite figure as null.
func (r KRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(krowJSON{r.K, nullable.Float(r.Inertia), nullable.Float(r.Silhouette), nullable.Float(r.CalinskiHarabasz),
		nullable.Float(r.DaviesBouldin), nullable.Float(r.Stability), nullable.Float(r.SmallestShare), r.Eligible})
}

// UnmarshalJSON reads a null figure as NaN.
func (r *KRow) UnmarshalJSON(b []byte) error {
	var j krowJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = KRow{K: j.K, Inertia: float64(j.Inertia), Silhouette: float64(j.Silhouette), CalinskiHarabasz: float64(j.CalinskiHarabasz),
		DaviesBouldin: float64(j.DaviesBouldin), Stability: float64(j.Stability), SmallestShare: float64(j.SmallestShare), Eligible: j.Eligible}
	return nil
}
