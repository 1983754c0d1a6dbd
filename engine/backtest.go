package engine

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math"
	"time"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/scoring"
)

// backtest refits BG/NBD and Gamma-Gamma on the purchases up to as_of less
// the configured holdout, predicts each calibration customer's purchases
// and revenue in the holdout, and compares them with what happened. The
// per-customer figures go to backtest_customers, which the model_backtest
// mart sums per segment and per calibration frequency. Histories are built
// as for the run's own fit (purchase days, weeks, T up to calibration_end);
// the predicted revenue is the expected purchases times Gamma-Gamma's
// expected spend, undiscounted; the actual revenue is the net spend of
// the holdout's purchase days. Customers first seen in the holdout are not
// part of it: the models predict the customers on file. A backtest that
// cannot be fitted is recorded with its error; the run goes on. It returns
// the model error the targets' bands widen by (calibrateBands), none
// without a backtest.
func (r *run) backtest(ctx context.Context) (scoring.ModelError, error) {
	s := r.s
	if err := s.createTable(ctx, "ddl/backtest_customers"); err != nil {
		return scoring.ModelError{}, err
	}
	if err := s.createTable(ctx, "ddl/backtest_params"); err != nil {
		return scoring.ModelError{}, err
	}
	holdout := r.cfg.Value.BacktestHoldout
	if holdout == "" {
		return scoring.ModelError{}, nil
	}
	asOf, err := time.Parse(time.DateOnly, r.man.AsOf)
	if err != nil {
		return scoring.ModelError{}, err
	}
	calEnd := config.SpanBefore(asOf, holdout)
	weeks := asOf.Sub(calEnd).Hours() / 24 / 7
	bt := &manifest.Backtest{Holdout: holdout, CalibrationEnd: calEnd.Format(time.DateOnly), HoldoutEnd: asOf.Format(time.DateOnly), HoldoutWeeks: round(weeks, 6)}
	r.man.Backtest = bt
	if err := s.appendRows("backtest_params", [][]driver.Value{{calEnd, asOf, weeks}}); err != nil {
		return scoring.ModelError{}, err
	}

	h, err := r.purchaseHistories(ctx, bt.CalibrationEnd)
	if err != nil {
		return scoring.ModelError{}, err
	}
	idx, hist, spend, actualN, actualR := h.idx, h.hist, h.spend, h.actualN, h.actualR
	fitHist, fitSpend := h.fitRows()
	// Every purchase model is fitted, the configured one first: its
	// predictions fill model_backtest.
	names := []string{r.cfg.Value.Model}
	for _, m := range []string{config.ModelBGNBD, config.ModelMBGNBD} {
		if m != names[0] {
			names = append(names, m)
		}
	}
	bt.Model = names[0]
	check, dataErr := r.checkHistories(fitHist, bt.CalibrationEnd)
	bt.Data = check
	purchase := make([]scoring.DropoutModel, len(names))
	fits := make([]scoring.FitResult, len(names)+1)
	errs := make([]error, len(names)+1)
	var gg scoring.GammaGamma
	if dataErr != nil {
		for i := range errs {
			errs[i] = dataErr
			fits[i].N = check.Customers
		}
		fits[len(names)].N = check.RepeatBuyers
	} else {
		for i, m := range names {
			purchase[i], fits[i], errs[i] = fitPurchaseModel(m, fitHist)
		}
		if fits[len(names)].N, errs[len(names)] = scoring.CheckSpend(fitSpend, r.opts.valueLimits); errs[len(names)] == nil {
			gg, fits[len(names)], errs[len(names)] = scoring.FitGammaGamma(fitSpend)
		}
	}
	for i, m := range names {
		bt.Models = append(bt.Models, record(m, "week", fits[i], errs[i]))
	}
	bt.Models = append(bt.Models, record("gamma_gamma", "currency per purchase", fits[len(names)], errs[len(names)]))
	if err := s.appendRows("models", modelRows("backtest_", bt.Models, fits)); err != nil {
		return scoring.ModelError{}, err
	}
	ggErr := errs[len(names)]
	for i, m := range names {
		c := manifest.ModelBacktest{Model: m, LogLik: bt.Models[i].LogLik, PredictedPurchases: nullable.Float(math.NaN()),
			PredictedRevenue: nullable.Float(math.NaN()), PurchasesError: nullable.Float(math.NaN()), RevenueError: nullable.Float(math.NaN())}
		if err := backtestModelError(errs[i], ggErr); err != nil {
			c.Error = err.Error()
			r.log.Warn("customer-value model not used in the backtest", "model", m, "calibration_end", bt.CalibrationEnd, "error", c.Error)
		}
		bt.Compared = append(bt.Compared, c)
	}
	if err := backtestModelError(errs[0], ggErr); err != nil {
		bt.Error = fmt.Sprintf("calibration up to %s: %v", bt.CalibrationEnd, err)
		r.log.Warn("customer-value backtest not possible", "error", bt.Error)
	}

	n := len(idx)
	xCal, predN, predR, actRev := make([]int32, n), make([]float64, n), make([]float64, n), make([]float64, n)
	// Holdout totals of each usable model, summed as the mart sums the
	// configured one's rounded figures.
	sumN, sumR := make([]float64, len(names)), make([]float64, len(names))
	pred := make([]*scoring.Predictor, len(purchase))
	for j, m := range purchase {
		if errs[j] == nil {
			pred[j] = scoring.NewPredictor(m)
		}
	}
	for i, c := range hist {
		xCal[i], actRev[i] = int32(c.X), round(actualR[i], 4)
		if ggErr != nil {
			continue
		}
		es := gg.ConditionalExpectedSpend(spend[i].X, spend[i].ZBar)
		for j, m := range pred {
			if errs[j] != nil {
				continue
			}
			e := m.ConditionalExpectedPurchases(weeks, c.X, c.TX, c.T)
			sumN[j] += round(e, 6)
			sumR[j] += round(e*es, 6)
			if j == 0 {
				predN[i], predR[i] = round(e, 6), round(e*es, 6)
			}
		}
	}
	if bt.Error != "" {
		return scoring.ModelError{}, nil
	}
	mem := r.opts.Allocator
	if err := s.createFromColumns(ctx, "backtest_customers", []goColumn{
		int64Column(mem, "cust_idx", idx),
		int32Column(mem, "x_calibration", xCal),
		float64Column(mem, "predicted_purchases", predN),
		float64Column(mem, "predicted_revenue", predR),
		int64Column(mem, "actual_purchases", actualN),
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
	for j := range bt.Compared {
		c := &bt.Compared[j]
		if c.Error != "" {
			continue
		}
		c.PredictedPurchases, c.PredictedRevenue = nullable.Float(round(sumN[j], 6)), nullable.Float(round(sumR[j], 6))
		c.PurchasesError = nullable.Float(relError(sumN[j], float64(bt.ActualPurchases)))
		c.RevenueError = nullable.Float(relError(sumR[j], bt.ActualRevenue))
		r.log.Info("customer-value backtest of a purchase model", "model", c.Model, "calibration_end", bt.CalibrationEnd,
			"predicted_purchases", sumN[j], "purchases_error", float64(c.PurchasesError),
			"predicted_revenue", sumR[j], "revenue_error", float64(c.RevenueError))
	}
	be, err := r.calibrateBands(ctx, h, purchase[0], fits[0], gg, fits[len(names)], weeks)
	if err != nil {
		return scoring.ModelError{}, err
	}
	return bandModelError(be), nil
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
// its own error, else Gamma-Gamma's, which its revenue needs, named as
// such (a degenerate spend model's p, q and gamma read as the purchase
// model's own otherwise).
func backtestModelError(purchase, spend error) error {
	if purchase != nil {
		return purchase
	}
	if spend != nil {
		return fmt.Errorf("gamma_gamma, the spend model: %w", spend)
	}
	return nil
}
