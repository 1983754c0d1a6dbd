package engine

import (
	"context"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/crmseg/crmseg/scoring"
)

// Backtest is the manifest's record of the customer-value backtest: the
// models refitted on the purchases up to CalibrationEnd and their
// predictions for the holdout (CalibrationEnd, HoldoutEnd] against what
// the customers did.
type Backtest struct {
	Holdout            string        `json:"holdout"` // as configured, e.g. 39w
	CalibrationEnd     string        `json:"calibration_end"`
	HoldoutEnd         string        `json:"holdout_end"` // as_of
	HoldoutWeeks       float64       `json:"holdout_weeks"`
	Customers          int64         `json:"customers"` // customers with a purchase by calibration_end
	ActualPurchases    int64         `json:"actual_purchases"`
	PredictedPurchases float64       `json:"predicted_purchases"`
	ActualRevenue      float64       `json:"actual_revenue"`
	PredictedRevenue   float64       `json:"predicted_revenue"`
	Models             []ModelRecord `json:"models"`
	// BandError is the model error the targets' bands take from the
	// backtest (see calibrateBands).
	BandError *BandError `json:"band_error,omitempty"`
	Error     string     `json:"error,omitempty"`
}

var spanPattern = regexp.MustCompile(`^([1-9][0-9]{0,3})([dwm])$`)

// parseSpan checks a calendar span: a whole number of days (d), weeks (w)
// or months (m), such as 39w or 6m.
func parseSpan(s string) (n int, unit byte, ok bool) {
	m := spanPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	n, _ = strconv.Atoi(m[1])
	return n, m[2][0], true
}

// spanBefore returns the date a span before end: months are calendar
// months (Go's AddDate normalisation: 31 March less one month is 3 March).
func spanBefore(end time.Time, s string) time.Time {
	n, unit, _ := parseSpan(s)
	switch unit {
	case 'd':
		return end.AddDate(0, 0, -n)
	case 'w':
		return end.AddDate(0, 0, -7*n)
	}
	return end.AddDate(0, -n, 0)
}

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
// cannot be fitted is recorded with its error; the run goes on.
func (r *run) backtest(ctx context.Context) error {
	s := r.s
	if err := s.createTable(ctx, "ddl/backtest_customers"); err != nil {
		return err
	}
	if err := s.createTable(ctx, "ddl/backtest_params"); err != nil {
		return err
	}
	holdout := r.cfg.Value.BacktestHoldout
	if holdout == "" {
		return nil
	}
	asOf, err := time.Parse(time.DateOnly, r.man.AsOf)
	if err != nil {
		return err
	}
	calEnd := spanBefore(asOf, holdout)
	weeks := asOf.Sub(calEnd).Hours() / 24 / 7
	bt := &Backtest{Holdout: holdout, CalibrationEnd: calEnd.Format(time.DateOnly), HoldoutEnd: asOf.Format(time.DateOnly), HoldoutWeeks: round(weeks, 6)}
	r.man.Backtest = bt
	if err := s.appendRows("backtest_params", [][]driver.Value{{calEnd, asOf, weeks}}); err != nil {
		return err
	}

	h, err := r.purchaseHistories(ctx, bt.CalibrationEnd)
	if err != nil {
		return err
	}
	idx, hist, spend, actualN, actualR := h.idx, h.hist, h.spend, h.actualN, h.actualR
	fitHist, fitSpend := h.fitRows()
	bg, bgFit, bgErr := scoring.FitBGNBD(fitHist)
	gg, ggFit, ggErr := scoring.FitGammaGamma(fitSpend)
	bt.Models = []ModelRecord{record("bg_nbd", "week", bgFit, bgErr), record("gamma_gamma", "currency per purchase", ggFit, ggErr)}
	if err := s.appendRows("models", modelRows("backtest_", bt.Models, []scoring.FitResult{bgFit, ggFit})); err != nil {
		return err
	}
	if bgErr != nil || ggErr != nil {
		bt.Error = fmt.Sprintf("calibration up to %s: %v", bt.CalibrationEnd, firstError(bgErr, ggErr))
		r.log.Warn("customer-value backtest not possible", "error", bt.Error)
		return nil
	}

	n := len(idx)
	xCal, predN, predR, actRev := make([]int32, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, c := range hist {
		e := bg.ConditionalExpectedPurchases(weeks, c.X, c.TX, c.T)
		rev := e * gg.ConditionalExpectedSpend(spend[i].X, spend[i].ZBar)
		xCal[i], predN[i], predR[i], actRev[i] = int32(c.X), round(e, 6), round(rev, 6), round(actualR[i], 4)
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
		return err
	}
	totals, err := modelSQL("reads/backtest_totals")
	if err != nil {
		return err
	}
	if err := s.conn.QueryRowContext(ctx, totals).Scan(
		&bt.Customers, &bt.ActualPurchases, &bt.PredictedPurchases, &bt.ActualRevenue, &bt.PredictedRevenue); err != nil {
		return err
	}
	r.log.Info("customer-value backtest", "calibration_end", bt.CalibrationEnd, "customers", bt.Customers,
		"actual_purchases", bt.ActualPurchases, "predicted_purchases", bt.PredictedPurchases)
	return r.calibrateBands(ctx, h, bg, bgFit, gg, ggFit, weeks)
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
