package segmentation

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/crmseg/crmseg/segment"
)

// ChooseK trains k-means for every k of segmentation.choose_k and keeps the
// one segment.ChooseK's rule chooses, on the scaled features, without a
// warm start. The segments take the IDs and names of the previous model's
// segments they match (continueFrom), when the previous model is of the
// run's feature space (sameSpace). No k to choose is a *ChooseKError.
// progress, when set, follows the restarts of every fit.
func ChooseK(in Input, st Settings, progress func(total int) Progress) (*Outcome, error) {
	sg, ck := st.Segmentation, st.Segmentation.ChooseK
	in = in.sameSpace(st)
	z, scaler, err := scale(in.Features, sg.OutlierClip)
	if err != nil {
		return nil, err
	}
	km := st.kmeans()
	n, _ := z.Dims()
	// Every k is fitted, refitted on each bootstrap (10 by default), and
	// the chosen k once more.
	boots := cmp.Or(ck.Bootstraps, 10)
	p := startProgress(progress, max(0, sg.NInit*((min(ck.Max, n-1)-ck.Min+1)*(1+boots)+1)))
	defer p.Done()
	km.Progress = func(int, int) { p.Add(1) }
	choice, err := segment.ChooseK(z, nil, km, segment.ChooseOptions{MinK: ck.Min, MaxK: min(ck.Max, n-1), MinSize: max(ck.MinSize, sg.MinSize),
		SilhouetteSample: ck.SilhouetteSample, Bootstraps: ck.Bootstraps, Seed: st.Seed})
	if err != nil {
		if errors.Is(err, segment.ErrNoEligibleK) && sg.MinSize > ck.MinSize {
			// The bound is segmentation.min_size's, not choose_k.min_size's:
			// name the setting to change.
			err = fmt.Errorf("%w (the minimum is segmentation.min_size, %g, above choose_k.min_size, %g)", err, sg.MinSize, ck.MinSize)
		}
		return nil, &ChooseKError{Err: err}
	}
	st.log().Info("k chosen", "k", choice.Chosen, "reason", choice.Reason)
	c := &clustering{z: z, scaler: scaler, res: choice.Result, algorithm: st.algorithm(),
		kRows: choice.Rows, chosen: choice.Chosen, kReason: choice.Reason}
	c.continueFrom(in.Previous, sg.MatchMaxDistance)
	return finish(c, in, st)
}
