package engine

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/scoring"
)

// calibration is a backtest's fits as of calibration_end and their
// forecasts of the holdout: what chooses the purchase model under
// value.model: auto, before the run's own fit, and what the rest of the
// backtest reports.
type calibration struct {
	bt    *manifest.Backtest
	h     *histories
	weeks float64
	// names are the purchase models in config.PurchaseModels' order, with
	// their fits and the fits' errors, why each gives no backtest figures
	// (its fit's error, else the spend model's: errs), and their holdout
	// totals: purchases and revenue summed over the customers, and the
	// purchases' error against what happened.
	names    []string
	purchase []scoring.DropoutModel
	fits     []scoring.FitResult
	fitErrs  []error
	errs     []error
	sumN     []float64
	sumR     []float64
	errN     []float64
	// spends are the spend models' fits in config.SpendModels' order, with
	// each one's own error in the holdout (spendErr: see
	// manifest.SpendBacktest.SpendError; NaN without one); spendIn is the
	// one in use (value.spend_model's, or auto's choice).
	spends   []*spendFit
	spendErr []float64
	spendIn  int
	// predN and predR are each calibration customer's forecast of the
	// holdout by the model in use (keep), rounded as model_backtest sums
	// them; nil until it is known.
	keep         int
	predN, predR []float64
}

// calibrate refits every purchase model (BG/NBD, MBG/NBD, Pareto/NBD) and
// Gamma-Gamma on the purchases up to as_of less the configured holdout and
// forecasts each calibration customer's purchases and revenue in the
// holdout. Histories are built as for the run's own fit (purchase days,
// weeks, T up to calibration_end); the predicted revenue is the expected
// purchases times Gamma-Gamma's expected spend, undiscounted. Customers
// first seen in the holdout are not part of it: the models predict the
// customers on file. A model that cannot be fitted is recorded with its
// error; the run goes on. It returns nil without a backtest.
func (r *run) calibrate(ctx context.Context) (*calibration, error) {
	s := r.s
	if err := s.createTable(ctx, "ddl/backtest_customers"); err != nil {
		return nil, err
	}
	if err := s.createTable(ctx, "ddl/backtest_params"); err != nil {
		return nil, err
	}
	holdout := r.cfg.Value.BacktestHoldout
	if holdout == "" {
		return nil, nil
	}
	asOf, err := time.Parse(time.DateOnly, r.man.AsOf)
	if err != nil {
		return nil, err
	}
	calEnd := config.SpanBefore(asOf, holdout)
	weeks := asOf.Sub(calEnd).Hours() / 24 / 7
	bt := &manifest.Backtest{Holdout: holdout, CalibrationEnd: calEnd.Format(time.DateOnly), HoldoutEnd: asOf.Format(time.DateOnly), HoldoutWeeks: round(weeks, 6)}
	r.man.Backtest = bt
	if err := s.appendRows("backtest_params", [][]driver.Value{{calEnd, asOf, weeks}}); err != nil {
		return nil, err
	}

	h, err := r.purchaseHistories(ctx, bt.CalibrationEnd)
	if err != nil {
		return nil, err
	}
	segOf, err := r.segmentOf(ctx)
	if err != nil {
		return nil, err
	}
	fitHist, fitSpend := h.fitRows()
	names := config.PurchaseModels
	c := &calibration{bt: bt, h: h, weeks: weeks, names: names, keep: slices.Index(names, r.cfg.Value.Model),
		purchase: make([]scoring.DropoutModel, len(names)), fits: make([]scoring.FitResult, len(names)),
		fitErrs: make([]error, len(names)), errs: make([]error, len(names)),
		sumN: make([]float64, len(names)), sumR: make([]float64, len(names)), errN: make([]float64, len(names))}
	check, dataErr := r.checkHistories(fitHist, bt.CalibrationEnd)
	bt.Data = check
	if dataErr != nil {
		for i := range names {
			c.fitErrs[i], c.fits[i].N = dataErr, check.Customers
		}
	} else {
		for i, m := range names {
			c.purchase[i], c.fits[i], c.fitErrs[i] = fitPurchaseModel(m, fitHist)
		}
	}
	for _, name := range config.SpendModels {
		sp := newSpendFit(name, h, fitSpend, segOf, dataErr, r.opts.valueLimits)
		if dataErr != nil {
			sp.fits[0].N = check.RepeatBuyers
		}
		c.spends = append(c.spends, sp)
		c.spendErr = append(c.spendErr, c.spendError(sp))
	}
	// The spend model in use: value.spend_model's, or auto's choice by
	// the holdout; gamma_gamma for now when auto has no candidate (the run
	// then chooses by the rule, and backtest forecasts again with its
	// choice).
	c.spendIn = slices.Index(config.SpendModels, r.cfg.Value.SpendModel)
	if c.spendIn < 0 {
		c.spendIn = max(r.chooseSpendModel(c), 0)
	}
	c.forecastHoldout(c.spendIn)
	return c, nil
}

// forecastHoldout forecasts each calibration customer's purchases and
// revenue in the holdout by every purchase model, with spend model
// spendIn's expected spend per purchase: the totals of each purchase
// model that gives backtest figures (errs says why one does not), and the
// figures per customer of the model in use when it is known (keep).
func (c *calibration) forecastHoldout(spendIn int) {
	h, names := c.h, c.names
	c.spendIn = spendIn
	spend := c.spends[spendIn]
	c.bt.SpendModel = spend.name
	var actual int64
	for _, n := range h.actualN {
		actual += n
	}
	usable := make([]*scoring.Predictor, len(names))
	for j, m := range c.purchase {
		c.errN[j], c.sumN[j], c.sumR[j] = math.NaN(), 0, 0
		if c.errs[j] = backtestModelError(c.fitErrs[j], spend); c.errs[j] == nil {
			usable[j] = scoring.NewPredictor(m)
		}
	}
	c.predN, c.predR = nil, nil
	if c.keep >= 0 && c.errs[c.keep] == nil {
		c.predN, c.predR = make([]float64, len(h.hist)), make([]float64, len(h.hist))
	}
	for i, hc := range h.hist {
		if spend.err != nil {
			break
		}
		es := spend.expected(i)
		for j, p := range usable {
			if p == nil {
				continue
			}
			e := p.ConditionalExpectedPurchases(c.weeks, hc.X, hc.TX, hc.T)
			c.sumN[j] += round(e, 6)
			c.sumR[j] += round(e*es, 6)
			if j == c.keep {
				c.predN[i], c.predR[i] = round(e, 6), round(e*es, 6)
			}
		}
	}
	for j := range names {
		if usable[j] != nil {
			c.errN[j] = relError(c.sumN[j], float64(actual))
		}
	}
}

// chooseModel returns the purchase model value.model: auto chooses from the
// backtest's fits c: the one whose holdout purchases err least by
// |predicted / actual − 1| (rounded to 6 digits, as recorded; a tie goes to
// the first in config.PurchaseModels), recorded with each candidate's
// error and the reason in the manifest and the log. When no model has an
// error (no backtest, the calibration histories cannot carry the models,
// every fit failed, the spend model failed, or nobody bought in the
// holdout) it is bg_nbd, the default, with that reason.
func (r *run) chooseModel(c *calibration) string {
	choice := &manifest.ModelChoice{Measure: "purchases_error"}
	if c == nil {
		choice.Model, choice.Reason = config.ModelBGNBD, "no backtest (value.backtest_holdout) to choose by: the default"
		r.man.ModelChoice = choice
		r.log.Warn("value.model auto: no backtest to choose by, the default is used", "model", choice.Model)
		return choice.Model
	}
	best := -1
	for j, m := range c.names {
		cand := manifest.ModelCandidate{Model: m, HoldoutError: nullable.Float(math.NaN())}
		switch {
		case c.errs[j] != nil:
			cand.Error = c.errs[j].Error()
		case math.IsNaN(c.errN[j]):
			cand.Error = "no purchase in the holdout to measure the error against"
		default:
			cand.HoldoutError = nullable.Float(math.Abs(c.errN[j]))
			if best < 0 || math.Abs(c.errN[j]) < math.Abs(c.errN[best]) {
				best = j
			}
		}
		choice.Candidates = append(choice.Candidates, cand)
	}
	errorOf := func(j int) string {
		return fmt.Sprintf("%s %+.2f%%", c.names[j], 100*c.errN[j])
	}
	if best < 0 {
		choice.Model = config.ModelBGNBD
		choice.Reason = fmt.Sprintf("no purchase model has a holdout error in the backtest calibrated to %s (see backtest.compared): the default", c.bt.CalibrationEnd)
		r.man.ModelChoice = choice
		r.log.Warn("value.model auto: no purchase model has a holdout error, the default is used", "model", choice.Model, "calibration_end", c.bt.CalibrationEnd)
		return choice.Model
	}
	// Each candidate's error, by model name; a model without one is left
	// out (its reason is in the backtest's own lines).
	var attrs []any
	for _, cand := range choice.Candidates {
		if cand.Error == "" {
			attrs = append(attrs, cand.Model, float64(cand.HoldoutError))
		}
	}
	var others []string
	for j := range c.names {
		if j != best && c.errs[j] == nil && !math.IsNaN(c.errN[j]) {
			others = append(others, errorOf(j))
		}
	}
	choice.Model = c.names[best]
	choice.Reason = fmt.Sprintf("the smallest error in the holdout's purchases (%s to %s): %s", c.bt.CalibrationEnd, c.bt.HoldoutEnd, errorOf(best))
	if len(others) > 0 {
		choice.Reason += ", against " + strings.Join(others, ", ")
	}
	r.man.ModelChoice = choice
	r.log.Info("value.model auto: purchase model chosen by the backtest", append([]any{"model", choice.Model, "reason", choice.Reason}, attrs...)...)
	return choice.Model
}

// backtest reports the calibration fits c with the run's purchase model
// (model, the one the run fitted on the whole history) first, and the
// run's spend model (spendModel) in the revenue figures: the fits go
// to models (backtest_ prefixed), each purchase model's holdout figures to
// the manifest's backtest record, and the model in use's forecast per
// customer to backtest_customers, which the model_backtest mart sums per
// segment and per calibration frequency against what happened (the actual
// revenue is the net spend of the holdout's purchase days). It returns the
// model error the targets' bands widen by (calibrateBands), none without a
// backtest or when the model in use gives no backtest figures.
func (r *run) backtest(ctx context.Context, c *calibration, model, spendModel string) (scoring.ModelError, error) {
	if c == nil {
		return scoring.ModelError{}, nil
	}
	s, bt, h := r.s, c.bt, c.h
	if k := slices.Index(config.SpendModels, spendModel); k >= 0 && k != c.spendIn {
		c.forecastHoldout(k)
	}
	// The model in use first: its predictions fill model_backtest.
	order := []int{slices.Index(c.names, model)}
	for j := range c.names {
		if j != order[0] {
			order = append(order, j)
		}
	}
	bt.Model = model
	var fits []scoring.FitResult
	for _, j := range order {
		bt.Models = append(bt.Models, record(c.names[j], "week", c.fits[j], c.fitErrs[j]))
		fits = append(fits, c.fits[j])
	}
	spend := c.spends[c.spendIn]
	spendRecs, spendFits := spend.records()
	bt.Models = append(bt.Models, spendRecs...)
	if err := s.appendRows("models", modelRows("backtest_", bt.Models, append(fits, spendFits...))); err != nil {
		return scoring.ModelError{}, err
	}
	for k, j := range order {
		cm := manifest.ModelBacktest{Model: c.names[j], LogLik: bt.Models[k].LogLik, PredictedPurchases: nullable.Float(math.NaN()),
			PredictedRevenue: nullable.Float(math.NaN()), PurchasesError: nullable.Float(math.NaN()), RevenueError: nullable.Float(math.NaN())}
		if err := c.errs[j]; err != nil {
			cm.Error = err.Error()
			r.log.Warn("customer-value model not used in the backtest", "model", cm.Model, "calibration_end", bt.CalibrationEnd, "error", cm.Error)
		}
		bt.Compared = append(bt.Compared, cm)
	}
	inUse := order[0]
	c.compareSpend(r, inUse)
	if err := c.errs[inUse]; err != nil {
		bt.Error = fmt.Sprintf("calibration up to %s: %v", bt.CalibrationEnd, err)
		r.log.Warn("customer-value backtest not possible", "error", bt.Error)
		return scoring.ModelError{}, nil
	}
	if inUse != c.keep {
		c.predictEach(inUse)
	}

	n := len(h.idx)
	xCal, actRev := make([]int32, n), make([]float64, n)
	for i, hc := range h.hist {
		xCal[i], actRev[i] = int32(hc.X), round(h.actualR[i], 4)
	}
	mem := r.opts.Allocator
	if err := s.createFromColumns(ctx, "backtest_customers", []goColumn{
		int64Column(mem, "cust_idx", h.idx),
		int32Column(mem, "x_calibration", xCal),
		float64Column(mem, "predicted_purchases", c.predN),
		float64Column(mem, "predicted_revenue", c.predR),
		int64Column(mem, "actual_purchases", h.actualN),
		float64Column(mem, "actual_revenue", actRev),
	}); err != nil {
		return scoring.ModelError{}, err
	}
	totals, err := modelSQL("reads/backtest_totals")
	if err != nil {
		return scoring.ModelError{}, err
	}
	if err := s.conn.QueryRowContext(ctx, totals).Scan(
		&bt.Customers, &bt.ActualPurchases, &bt.PredictedPurchases, &bt.ActualRevenue, &bt.PredictedRevenue); err != nil {
		return scoring.ModelError{}, err
	}
	r.log.Info("customer-value backtest", "calibration_end", bt.CalibrationEnd, "customers", bt.Customers,
		"actual_purchases", bt.ActualPurchases, "predicted_purchases", bt.PredictedPurchases)
	for k, j := range order {
		cm := &bt.Compared[k]
		if cm.Error != "" {
			continue
		}
		cm.PredictedPurchases, cm.PredictedRevenue = nullable.Float(round(c.sumN[j], 6)), nullable.Float(round(c.sumR[j], 6))
		cm.PurchasesError = nullable.Float(c.errN[j])
		cm.RevenueError = nullable.Float(relError(c.sumR[j], bt.ActualRevenue))
		r.log.Info("customer-value backtest of a purchase model", "model", cm.Model, "calibration_end", bt.CalibrationEnd,
			"predicted_purchases", c.sumN[j], "purchases_error", float64(cm.PurchasesError),
			"predicted_revenue", c.sumR[j], "revenue_error", float64(cm.RevenueError))
	}
	be, err := r.calibrateBands(ctx, h, c.purchase[inUse], c.fits[inUse], spend, c.weeks)
	if err != nil {
		return scoring.ModelError{}, err
	}
	return bandModelError(be), nil
}

// predictEach forecasts each calibration customer's holdout purchases and
// revenue by purchase model j, as calibrate does for the model in use when
// it is known beforehand.
func (c *calibration) predictEach(j int) {
	h := c.h
	c.keep = j
	c.predN, c.predR = make([]float64, len(h.hist)), make([]float64, len(h.hist))
	p := scoring.NewPredictor(c.purchase[j])
	spend := c.spends[c.spendIn]
	for i, hc := range h.hist {
		es := spend.expected(i)
		e := p.ConditionalExpectedPurchases(c.weeks, hc.X, hc.TX, hc.T)
		c.predN[i], c.predR[i] = round(e, 6), round(e*es, 6)
	}
}

// relError is predicted / actual - 1, rounded to 6 digits; NaN when actual
// is not positive.
func relError(predicted, actual float64) float64 {
	if !(actual > 0) {
		return math.NaN()
	}
	return round(predicted/actual-1, 6)
}

// backtestModelError is why a purchase model gives no backtest figures:
// its own error, else the spend model's, which its revenue needs, named as
// such (a degenerate spend model's p, q and gamma read as the purchase
// model's own otherwise).
func backtestModelError(purchase error, spend *spendFit) error {
	if purchase != nil {
		return purchase
	}
	if spend.err != nil {
		return fmt.Errorf("%s, the spend model: %w", spend.name, spend.err)
	}
	return nil
}
