package engine

import (
	"context"

	"github.com/crmseg/crmseg/scoring"
)

// The customer economics (acquisition_value and the economics metrics of
// segment_metrics) are SQL models of the score stage; Go supplies each
// customer's predicted value over the economics horizon, and the reason
// when the value models give none.

// horizonValue makes customer_value_horizon, each customer's predicted
// value over the economics.horizon_months after as_of (predicted_clv): the
// purchase model's expected purchases month by month times the spend
// model's expected spend per purchase, discounted at value.monthly_discount_rate,
// as predicted_clv_12m is over 12 months. At the default horizon of 12
// months it is a view of predicted_clv_12m, which customerValue computed;
// any other horizon is computed here from v, the fitted models and the
// histories. When a value model was not used, every prediction is null.
func (r *run) horizonValue(ctx context.Context, v *valueFit) error {
	months := r.cfg.Economics.HorizonMonths
	if months == 12 && !r.opts.horizonInGo {
		return r.s.viewAs(ctx, "intermediate/customer_value_horizon_12m", "customer_value_horizon")
	}
	values := nanSlice(len(v.idx))
	if v.bgErr == nil && v.spendErr() == nil {
		err := r.s.goPhase(ctx, func() error {
			h := scoring.Horizon{Periods: months, PeriodLength: weeksPerMonth, DiscountRate: r.cfg.Value.MonthlyDiscountRate}
			pred, which := predictHistories(v.bg, v.hist, h, r.cfg.Threads)
			for i := range v.hist {
				values[i] = round(pred[which[i]].discounted*v.expectedSpend(i), 2)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	mem := r.opts.Allocator
	return r.s.createFromColumns(ctx, "customer_value_horizon", []goColumn{
		int64Column(mem, "cust_idx", v.idx),
		float64Column(mem, "predicted_clv", values),
	})
}

// valueError is why the customers have no predicted value: the error of
// the first value model (in the manifest's order) that was not used; nil
// when they have one.
func (r *run) valueError() any {
	for _, m := range r.man.Models {
		if m.Error != "" {
			return m.Model + ": " + m.Error
		}
	}
	return nil
}

// countCampaignsAfterAsOf logs the campaign rows of a month after as_of's:
// outside the run's window, neither accepted nor rejected.
func (r *run) countCampaignsAfterAsOf(ctx context.Context) error {
	n, err := r.s.queryInt(ctx, "SELECT count(*) FROM stg_campaigns WHERE after_as_of")
	if err != nil || n == 0 {
		return err
	}
	r.log.Info("campaign rows after the month of as_of, left out", "rows", n)
	return nil
}
