package engine

import (
	"context"
	"fmt"
	"math"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/scoring"
)

// segmentGroup numbers the backtest's segment groups, segmentGroup plus the
// segment ID, apart from the recency-frequency groups of scoring.ErrorGroup.
const segmentGroup = 1000

// errorGroupLabel names a group of calibrateBands.
func errorGroupLabel(g int) string {
	if g >= segmentGroup {
		return fmt.Sprintf("segment %d", g-segmentGroup)
	}
	freq := []string{"x=0", "x=1", "x=2-4", "x=5+"}
	since := []string{"last purchase <13w", "13-26w", "26-52w", "52w+"}
	return freq[g/4] + ", " + since[g%4]
}

// spendMeanSq is the mean of z̄² over the repeat buyers: the second moment
// of mean spend per purchase that stands in for Gamma-Gamma's where its
// posterior has none (scoring.ForecastModels.SpendMeanSq).
func spendMeanSq(spend []scoring.Spend) float64 {
	var s, n float64
	for _, sp := range spend {
		if sp.X > 0 && sp.ZBar > 0 {
			s += sp.ZBar * sp.ZBar
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / n
}

// calibrateBands forecasts, from the calibration fits (the purchase model
// pm and the spend model sp in use), the purchases, active
// customers and spend in the backtest's holdout of each of this run's
// segments and of each recency-frequency group of the calibration
// histories, as the targets forecast the next 12 months, and measures the
// model error against what their customers did there, pooled over both
// kinds of group: the segments were drawn with the holdout in view, which
// inflates their errors, while the recency-frequency groups carry no such
// selection but mix the low and high spenders whose errors differ most.
func (r *run) calibrateBands(ctx context.Context, h *histories, pm scoring.DropoutModel, pmFit scoring.FitResult,
	sp *spendFit, weeks float64) (*manifest.BandError, error) {
	m := scoring.ForecastModels{Purchase: pm, PurchaseCov: pmFit.Cov, Spends: sp.forecastModels(), SpendMeanSq: sp.meanSq()}
	segOf, err := r.segmentOf(ctx)
	if err != nil {
		return nil, err
	}
	groups := make([]scoring.ForecastGroup, 0, 2*len(h.hist))
	type actual struct{ purchases, active, revenue float64 }
	actuals := map[int]*actual{}
	add := func(g, i int) {
		groups = append(groups, sp.forecastGroup(i, g))
		a := actuals[g]
		if a == nil {
			a = &actual{}
			actuals[g] = a
		}
		a.purchases += float64(h.actualN[i])
		a.revenue += h.actualR[i]
		if h.actualN[i] > 0 {
			a.active++
		}
	}
	for i, c := range h.hist {
		add(scoring.ErrorGroup(c), i)
		if j := int(h.idx[i]) - 1; j >= 0 && j < len(segOf) && segOf[j] >= 0 {
			add(segmentGroup+int(segOf[j]), i)
		}
	}
	ids, per, _ := scoring.ForecastSegments(m, scoring.GroupForecast(groups), weeks)
	be := &manifest.BandError{}
	var purchases, active, revenue []scoring.BacktestTotal
	for i, g := range ids {
		f, a := per[i], actuals[g]
		total := func(pred, act, sdParam, sdChance float64) scoring.BacktestTotal {
			return scoring.BacktestTotal{Predicted: pred, Actual: act, Variance: sdParam*sdParam + sdChance*sdChance}
		}
		n := total(f.Purchases, a.purchases, f.PurchasesSD, f.PurchasesChanceSD)
		ac := total(f.Active, a.active, f.ActiveSD, f.ActiveChanceSD)
		rv := total(f.Spend, a.revenue, f.SpendSD, f.SpendChanceSD)
		purchases, active, revenue = append(purchases, n), append(active, ac), append(revenue, rv)
		one := func(b scoring.BacktestTotal) float64 {
			return round(scoring.CalibrateModelError([]scoring.BacktestTotal{b}), 6)
		}
		be.Groups = append(be.Groups, manifest.BandErrorGroup{Group: g, Label: errorGroupLabel(g), Customers: f.Customers,
			Purchases: one(n), Active: one(ac), Revenue: one(rv)})
	}
	be.Purchases = round(scoring.CalibrateModelError(purchases), 6)
	be.Active = round(scoring.CalibrateModelError(active), 6)
	be.Revenue = round(scoring.CalibrateModelError(revenue), 6)
	r.man.Backtest.BandError = be
	r.log.Info("model error for the targets' bands", "groups", len(be.Groups),
		"purchases", be.Purchases, "active_customers", be.Active, "revenue", be.Revenue)
	return be, nil
}

// bandModelError is the model error the targets' bands widen by: the
// backtest's, e (finite figures only).
func bandModelError(e *manifest.BandError) scoring.ModelError {
	finite := func(v float64) float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0
		}
		return v
	}
	return scoring.ModelError{Purchases: finite(e.Purchases), Active: finite(e.Active), Spend: finite(e.Revenue)}
}
