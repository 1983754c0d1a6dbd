package segmentation

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/segment"
)

// Segment describes one segment of a run.
type Segment struct {
	ID        int
	Cluster   int // index in the k-means result
	Name      string
	Customers int
	Share     float64
	MeanValue float64   // mean historical value (net revenue) per customer
	Centroid  []float64 // numeric features, original units
	Traits    string
	// Tier and Status are the halves of the generated name, judged every
	// run from the segment's customers (valueTier, lifecycleStatus), also
	// when the segment keeps the name of an earlier run.
	Tier, Status string
	top          []trait // features 0.5 sd or more from the population's, most distinctive first
	ranked       []trait // every feature that varies, most distinctive first
}

// profileSegments describes every cluster of a clustering, in cluster
// order: size, mean value, centroid in original units, the traits that set
// it apart and a generated name. IDs are given by the caller.
func profileSegments(fm *FeatureMatrix, res *segment.Result, scaler *segment.Scaler) []Segment {
	n, d := fm.X.Dims()
	k, _ := res.Centroids.Dims()
	sum := make([]float64, k)
	active := make([]float64, k)
	fresh := make([]float64, k)
	size := make([]int, k)
	colSum := mat.NewDense(k, d, nil)
	popMean := make([]float64, d)
	popSq := make([]float64, d)
	row := make([]float64, d)
	for i := range n {
		c := res.Labels[i]
		size[c]++
		sum[c] += fm.NetRevenue[i]
		active[c] += fm.Active[i]
		fresh[c] += fm.New[i]
		if fm.Scaled != nil {
			fm.Scaled.InverseRow(row, fm.X.RawRowView(i))
		} else {
			copy(row, fm.X.RawRowView(i))
		}
		cs := colSum.RawRowView(c)
		for j, v := range row {
			cs[j] += v
			popMean[j] += v
			popSq[j] += v * v
		}
	}
	popValue := 0.0
	for _, v := range sum {
		popValue += v
	}
	popValue /= float64(n)
	popSD := make([]float64, d)
	for j := range d {
		popMean[j] /= float64(n)
		popSD[j] = math.Sqrt(math.Max(popSq[j]/float64(n)-popMean[j]*popMean[j], 0))
	}

	// In the model's columns, which a model given to the run may have
	// fewer or more of than the run (one-hot values seen by one only).
	centroids := &mat.Dense{}
	scaler.InverseTransform(centroids, res.Centroids)

	segs := make([]Segment, k)
	for c := range k {
		s := Segment{Cluster: c, Customers: size[c], Share: float64(size[c]) / float64(n)}
		if size[c] > 0 {
			s.MeanValue = sum[c] / float64(size[c])
		}
		s.Centroid = slices.Clone(centroids.RawRowView(c)[:fm.Numeric])
		s.ranked = traits(colSum.RawRowView(c), size[c], popMean, popSD)
		for _, t := range s.ranked {
			if math.Abs(t.z) >= 0.5 {
				s.top = append(s.top, t)
			}
		}
		s.Traits = describeTraits(fm.Specs, s.top)
		s.Name = "Empty"
		if size[c] > 0 {
			s.Tier = valueTier(s.MeanValue, popValue)
			s.Status = lifecycleStatus(fresh[c]/float64(size[c]), active[c]/float64(size[c]))
			s.Name = s.Tier + " " + s.Status
		}
		segs[c] = s
	}
	return segs
}

// numberAfresh gives the segments of a first training their IDs, from
// idFloor+1 up by descending mean value, generated names and the change
// "new".
func (c *clustering) numberAfresh(segs []Segment, idFloor int) {
	k := len(segs)
	order := make([]int, k)
	for cl := range order {
		order[cl] = cl
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(segs[b].MeanValue, segs[a].MeanValue), cmp.Compare(a, b))
	})
	// Above idFloor: IDs started afresh never reuse one given before.
	c.ids = make([]int, k)
	for rank, cl := range order {
		c.ids[cl] = idFloor + rank + 1
	}
	c.names = make([]string, k)
	c.nextID = idFloor + k + 1
	for cl := range k {
		c.changes = append(c.changes, segment.SegmentChange{ID: c.ids[cl], Change: "new"})
	}
}

// name gives the segments (in cluster order) their IDs and names: the
// name kept from the model the run continues, or the generated one, told
// apart from the others of that name (disambiguate). The changes without a
// name take their segment's. It returns the segment ID of each cluster.
func (c *clustering) name(segs []Segment, specs []segment.FeatureSpec) []int32 {
	fixed := make([]bool, len(segs))
	for cl := range segs {
		segs[cl].ID = c.ids[cl]
		if c.names[cl] != "" {
			segs[cl].Name, fixed[cl] = c.names[cl], true
		}
	}
	disambiguate(segs, fixed, specs)
	nameOf := map[int]string{}
	for _, s := range segs {
		nameOf[s.ID] = s.Name
	}
	for i := range c.changes {
		if c.changes[i].Name == "" {
			c.changes[i].Name = nameOf[c.changes[i].ID]
		}
	}
	idOf := make([]int32, len(segs))
	for cl, s := range segs {
		idOf[cl] = int32(s.ID)
	}
	return idOf
}

// trait is a feature's segment mean, in population standard deviations
// from the population mean.
type trait struct {
	j int
	z float64
}

// traits returns the features that vary in the population, by how many
// population standard deviations the segment mean stands from the
// population mean, furthest first.
func traits(colSum []float64, size int, popMean, popSD []float64) []trait {
	if size == 0 {
		return nil
	}
	var zs []trait
	for j := range colSum {
		if popSD[j] == 0 {
			continue
		}
		zs = append(zs, trait{j, (colSum[j]/float64(size) - popMean[j]) / popSD[j]})
	}
	slices.SortStableFunc(zs, func(a, b trait) int {
		return cmp.Or(cmp.Compare(math.Abs(b.z), math.Abs(a.z)), cmp.Compare(a.j, b.j))
	})
	return zs
}

// describeTraits writes the (at most three) leading traits as
// "feature +1.2 sd; ...".
func describeTraits(specs []segment.FeatureSpec, top []trait) string {
	parts := make([]string, 0, 3)
	for _, t := range top[:min(len(top), 3)] {
		parts = append(parts, fmt.Sprintf("%s %+.1f sd", specs[t.j].Name, t.z))
	}
	return strings.Join(parts, "; ")
}

// traitWords says a trait in words, for names: "frequent", "big baskets",
// "books buyers", "app shoppers", "via social".
func traitWords(name string, z float64) string {
	hi := z > 0
	pick := func(a, b string) string {
		if hi {
			return a
		}
		return b
	}
	if dim, val, ok := strings.Cut(name, "="); ok {
		switch {
		case dim == "category":
			return pick(val+" buyers", "few "+val+" buyers")
		case dim == "channel":
			return pick(val+" shoppers", "rarely "+val)
		case dim == "acquisition_channel":
			return pick("via "+val, "rarely via "+val)
		case dim == "income_band":
			label := strings.ReplaceAll(val, "_", " ")
			if !strings.HasSuffix(label, "income") {
				label += " income"
			}
			return pick(label, "few "+label)
		}
		// Any other attribute: its name and value ("household size 2").
		label := strings.ReplaceAll(dim, "_", " ") + " " + val
		return pick(label, "few "+label)
	}
	switch name {
	case "recency_days":
		return pick("long since last order", "recent buyers")
	case "orders_per_year", "orders", "orders_12m":
		return pick("frequent", "infrequent")
	case "avg_order_value":
		return pick("big baskets", "small baskets")
	case "net_revenue", "revenue_12m":
		return pick("big spenders", "small spenders")
	case "tenure_days":
		return pick("long-standing", "newer")
	case "categories":
		return pick("broad range", "narrow range")
	case "return_rate":
		return pick("heavy returners", "few returns")
	case "age":
		return pick("older", "younger")
	case "margin_rate":
		return pick("high margin", "low margin")
	}
	return pick("high "+name, "low "+name)
}

// disambiguate gives segments that share a name their most distinctive
// trait in words ("High-value active, broad range"), the first trait that
// tells each apart from the others of that name: among the traits 0.5 sd
// or more from the population first, then among every feature by how far
// it stands; a number only when no feature does.
// A fixed name (kept from the previous model) is never changed: the others
// that share it are told apart from it.
func disambiguate(segs []Segment, fixed []bool, specs []segment.FeatureSpec) {
	byName := map[string][]int{}
	var names []string
	for i, s := range segs {
		if _, ok := byName[s.Name]; !ok {
			names = append(names, s.Name)
		}
		byName[s.Name] = append(byName[s.Name], i)
	}
	for _, name := range names {
		group := byName[name]
		if len(group) == 1 {
			continue
		}
		used := map[string]bool{}
		for n, i := range group {
			if fixed[i] {
				continue
			}
			label := ""
			for _, t := range append(slices.Clip(segs[i].top), segs[i].ranked...) {
				if w := traitWords(specs[t.j].Name, t.z); !used[w] {
					label = w
					break
				}
			}
			if label == "" {
				label = fmt.Sprintf("%d", n+1)
			}
			used[label] = true
			segs[i].Name = name + ", " + label
		}
	}
}
