package segmentation

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/segment"
)

// TrainK trains k-means with segmentation.k segments on the scaled
// features. With warm_start and a previous model of k segments, one more
// restart starts from the previous centroids (warmStart). The segments take
// the IDs and names of the previous model's segments they match
// (continueFrom), when the previous model is of the run's feature space
// (sameSpace). Fewer customers than k is a *config.ConfigError.
// progress, when set, follows the restarts.
func TrainK(in Input, st Settings, progress func(total int) Progress) (*Outcome, error) {
	sg := st.Segmentation
	in = in.sameSpace(st)
	z, scaler, err := scale(in.Features, sg.OutlierClip)
	if err != nil {
		return nil, err
	}
	km := st.kmeans()
	if init := warmStart(sg, in.Previous, scaler); init != nil {
		km.Init, km.InitMargin = init, sg.WarmStartMargin
	}
	restarts := sg.NInit
	if km.Init != nil {
		restarts++
	}
	p := startProgress(progress, restarts)
	defer p.Done()
	km.Progress = func(int, int) { p.Add(1) }
	if n, _ := z.Dims(); n < sg.K {
		return nil, &config.ConfigError{Problems: []string{fmt.Sprintf("segmentation.k: %d segments asked for, but the inputs have only %d customers", sg.K, n)}}
	}
	res, err := km.Fit(z, nil)
	if err != nil {
		return nil, err
	}
	warm := km.Init != nil && res.Restart == km.NInit
	res, dissolved, err := dissolveSmall(z, km, res, sg.MinSize)
	if err != nil {
		return nil, err
	}
	k, _ := res.Centroids.Dims()
	for _, d := range dissolved {
		st.log().Warn("cluster below segmentation.min_size dissolved into the others",
			"customers", d.Customers, "share", d.Share, "min_size", sg.MinSize)
	}
	if km.Init != nil && len(dissolved) == 0 {
		st.log().Info("warm start from the previous centroids", "kept", warm,
			"inertia", res.Inertias[km.NInit], "best_fresh_inertia", slices.Min(res.Inertias[:km.NInit]))
	} else {
		warm = false
	}
	if len(dissolved) > 0 && k < sg.K {
		// The previous model has k segments, not segmentation.k, when its
		// training dissolved clusters too: start from its centroids at k.
		if res, warm, err = warmStartDissolved(z, km, res, st, in.Previous, scaler); err != nil {
			return nil, err
		}
	}
	c := &clustering{z: z, scaler: scaler, res: res, algorithm: st.algorithm(), warm: warm,
		kRows: []segment.KRow{st.figures(z, res.Labels, res.Inertia, k)}, chosen: k, dissolved: dissolved}
	c.continueFrom(in.Previous, sg.MatchMaxDistance)
	return finish(c, in, st)
}

// scale fits the scaler to the features and scales them in place: at ten
// million customers the matrix is 3 GB, and a scaled copy beside it would
// double that.
// The scaled values are bounded to ±clip (segment.Scaler.Clip).
func scale(fm *FeatureMatrix, clip float64) (*mat.Dense, *segment.Scaler, error) {
	scaler, err := segment.FitScaler(fm.X, fm.Specs, nil)
	if err != nil {
		return nil, nil, err
	}
	scaler.Clip = clip
	scaler.Transform(fm.X, fm.X)
	fm.Scaled = scaler
	return fm.X, scaler, nil
}

// warmStart is the start a training of k segments takes from the previous
// model's centroids, in this run's scaling: with warm_start, when the
// previous model has k segments; nil otherwise.
func warmStart(sg config.Segmentation, previous *segment.Model, scaler *segment.Scaler) *mat.Dense {
	if !sg.WarmStart || previous == nil || len(previous.Segments) != sg.K {
		return nil
	}
	return previous.Express(scaler)
}

// warmStartDissolved is the warm start of a training whose clusters
// below min_size were dissolved, leaving res with k < segmentation.k
// clusters: when the previous model has k segments (its training
// dissolved as many), a fit of k from its centroids, kept, as a warm start
// is, unless res's inertia is lower by more than warm_start_margin, and
// only when each of its clusters holds min_size. warmStart alone compares
// the previous model with segmentation.k, and so would never start from a
// model whose clusters were dissolved. It returns the clustering kept and
// whether it is the warm start.
func warmStartDissolved(z *mat.Dense, km segment.KMeans, res *segment.Result, st Settings, previous *segment.Model,
	scaler *segment.Scaler) (*segment.Result, bool, error) {
	k, _ := res.Centroids.Dims()
	sg := st.Segmentation
	sg.K = k
	init := warmStart(sg, previous, scaler)
	if init == nil {
		return res, false, nil
	}
	km.K, km.Init, km.InitMargin, km.NInit, km.Progress = k, init, math.MaxFloat64, 1, nil
	w, err := km.Fit(z, nil)
	if err != nil {
		return nil, false, err
	}
	n, _ := z.Dims()
	kept := w.Inertia <= res.Inertia*(1+sg.WarmStartMargin) && float64(slices.Min(w.Sizes)) >= sg.MinSize*float64(n)
	st.log().Info("warm start from the previous centroids", "kept", kept, "k", k, "inertia", w.Inertia, "dissolved_fresh_inertia", res.Inertia)
	if kept {
		return w, true, nil
	}
	return res, false, nil
}

// continueFrom gives trained clusters the IDs and names of the previous
// model's segments they match (segment.Model.Match), new IDs above its
// last to the others, and records the changes; without a previous model
// the training is a first one.
func (c *clustering) continueFrom(previous *segment.Model, maxDist float64) {
	if previous == nil {
		c.source = "trained"
		return
	}
	c.ids, c.names, c.nextID, c.changes = previous.Match(c.res.Centroids, c.scaler, maxDist)
	c.source = "retrained"
}

// dissolveSmall takes apart the clusters of res that hold less than
// minSize of the rows, smallest first: the centroids of the others are the
// start of a fit with one cluster fewer, in which the rows of the dissolved
// cluster go to their nearest centroid, until every cluster holds minSize
// or one is left. A seeded restart runs beside the start, as a fit needs
// one, but the start is kept whatever its inertia (the largest
// InitMargin), so that the segments that were large enough stay where they
// were.
func dissolveSmall(z *mat.Dense, km segment.KMeans, res *segment.Result, minSize float64) (*segment.Result, []manifest.DissolvedCluster, error) {
	n, _ := z.Dims()
	var dissolved []manifest.DissolvedCluster
	for {
		k, d := res.Centroids.Dims()
		if k <= 1 || minSize <= 0 {
			return res, dissolved, nil
		}
		small := 0
		for c, size := range res.Sizes {
			if size < res.Sizes[small] {
				small = c
			}
		}
		share := float64(res.Sizes[small]) / float64(n)
		if share >= minSize {
			return res, dissolved, nil
		}
		dissolved = append(dissolved, manifest.DissolvedCluster{Customers: res.Sizes[small], Share: share})
		init := mat.NewDense(k-1, d, nil)
		for c, r := 0, 0; c < k; c++ {
			if c != small {
				init.SetRow(r, res.Centroids.RawRowView(c))
				r++
			}
		}
		km.K, km.Init, km.InitMargin, km.NInit, km.Progress = k-1, init, math.MaxFloat64, 1, nil
		var err error
		if res, err = km.Fit(z, nil); err != nil {
			return nil, nil, err
		}
	}
}
