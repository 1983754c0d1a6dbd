package segmentation

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/segment"
)

// TrainK trains k-means with segmentation.k segments on the scaled
// features. With warm_start and a previous model of k segments, one more
// restart starts from the previous centroids (warmStart). The segments take
// the IDs and names of the previous model's segments they match
// (continueFrom). Fewer customers than k is a *config.ConfigError.
// progress, when set, follows the restarts.
func TrainK(in Input, st Settings, progress func(total int) Progress) (*Outcome, error) {
	sg := st.Segmentation
	z, scaler, err := scale(in.Features)
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
	c := &clustering{z: z, scaler: scaler, res: res, algorithm: st.algorithm(),
		kRows: []segment.KRow{st.figures(z, res.Labels, res.Inertia, sg.K)}, chosen: sg.K}
	if km.Init != nil {
		c.warm = res.Restart == km.NInit
		st.log().Info("warm start from the previous centroids", "kept", c.warm,
			"inertia", res.Inertias[km.NInit], "best_fresh_inertia", slices.Min(res.Inertias[:km.NInit]))
	}
	c.continueFrom(in.Previous, sg.MatchMaxDistance)
	return finish(c, in, st)
}

// scale fits the scaler to the features and scales them in place: at ten
// million customers the matrix is 3 GB, and a scaled copy beside it would
// double that.
func scale(fm *FeatureMatrix) (*mat.Dense, *segment.Scaler, error) {
	scaler, err := segment.FitScaler(fm.X, fm.Specs, nil)
	if err != nil {
		return nil, nil, err
	}
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
