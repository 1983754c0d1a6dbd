package engine

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/crmseg/crmseg/scoring"
)

// valueFit holds the run's customer-value models and the purchase
// histories they were fitted on, ordered by cust_idx, for the model-based
// targets.
type valueFit struct {
	idx   []int64
	hist  []scoring.RFM
	model string               // the purchase model's name (value.model, or auto's choice)
	bg    scoring.DropoutModel // the purchase model
	bgFit scoring.FitResult
	bgErr error
	// spend is the spend model in use (value.spend_model, or auto's
	// choice); ask it through expectedSpend and spendErr.
	spend *spendFit
}

// expectedSpend is the expected spend per future purchase of customer i
// (the i-th of idx and hist) under the spend model in use, NaN when it
// gives none (spendErr says why). Every figure that needs a customer's
// expected spend takes it from here, so that all rest on one model.
func (v *valueFit) expectedSpend(i int) float64 {
	return v.spend.expected(i)
}

// spendErr is why the spend model in use gives no figures; nil when it
// does.
func (v *valueFit) spendErr() error {
	return v.spend.err
}

// segmentForecast is a segment's model forecast with the model error its
// bands widen by.
type segmentForecast struct {
	scoring.Forecast
	modelError scoring.ModelError
}

// segmentForecasts forecasts each segment's purchases, active customers
// and spend over the 12 months after as_of from the fitted models, and
// reads the conversions from the models' units (purchase days, their spend
// net of what was returned of them) to the targets' (orders, net revenue).
// v are the fitted models, bands the model error the forecasts' bands
// widen by. It returns nil maps when the purchase model is unusable.
func (r *run) segmentForecasts(ctx context.Context, v *valueFit, bands scoring.ModelError) (map[int]segmentForecast, map[int]scoring.Conversions, error) {
	if v == nil || v.bgErr != nil {
		return nil, nil, nil
	}
	segOf, err := r.segmentOf(ctx)
	if err != nil {
		return nil, nil, err
	}
	m := scoring.ForecastModels{Purchase: v.bg, PurchaseCov: v.bgFit.Cov, Spends: v.spend.forecastModels(), SpendMeanSq: v.spend.meanSq()}
	// One group per customer before they merge: at 10M customers more
	// memory than the histories themselves, so DuckDB idles meanwhile.
	var segs []int
	var per []scoring.Forecast
	if err := r.s.goPhase(ctx, func() error {
		groups := forecastGroups(v.spend, segOf)
		segs, per, _ = scoring.ForecastSegments(m, groups, weeksPerYear)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	forecasts := make(map[int]segmentForecast, len(segs))
	for i, sg := range segs {
		forecasts[sg] = segmentForecast{Forecast: per[i], modelError: bands}
	}

	conv := map[int]scoring.Conversions{}
	q, err := modelSQL("reads/segment_conversions")
	if err != nil {
		return nil, nil, err
	}
	crows, err := r.s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	defer crows.Close()
	for crows.Next() {
		var sg int
		var days, orders *int64
		var net, spend *float64
		if err := crows.Scan(&sg, &days, &orders, &net, &spend); err != nil {
			return nil, nil, err
		}
		c := scoring.Conversions{OrdersPerPurchase: 1, NetPerSpend: 1}
		if days != nil && orders != nil && *days > 0 {
			c.OrdersPerPurchase = float64(*orders) / float64(*days)
		}
		if net != nil && spend != nil && *spend > 0 {
			// Returns of purchases made before the window (and credit notes
			// no purchase day carries) can outweigh the window's sales; the
			// share of spend kept lies in [0, 1].
			c.NetPerSpend = min(max(*net / *spend, 0), 1)
		}
		conv[sg] = c
	}
	return forecasts, conv, crows.Err()
}

// segmentOf reads each customer's segment, indexed by cust_idx - 1
// (cust_idx numbers the customers from 1); -1 for a number no customer of
// the segment map has.
func (r *run) segmentOf(ctx context.Context) ([]int32, error) {
	var segOf []int32
	err := r.readCustomerSegments(ctx, "reads/customer_segment_ids", func(custIdx int64, seg int32, _ bool) {
		for len(segOf) < int(custIdx) {
			segOf = append(segOf, -1)
		}
		segOf[custIdx-1] = seg
	})
	return segOf, err
}

// readCustomerSegments runs the registered read name, whose rows are a
// customer's cust_idx (BIGINT) and a segment ID (INTEGER, possibly NULL),
// and hands each row to fn; ok is false for a NULL segment.
func (r *run) readCustomerSegments(ctx context.Context, name string, fn func(custIdx int64, seg int32, ok bool)) error {
	q, err := modelSQL(name)
	if err != nil {
		return err
	}
	return r.s.arrowQuery(ctx, q, func(rdr array.RecordReader) error {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			idx, ok1 := rec.Column(0).(*array.Int64)
			sg, ok2 := rec.Column(1).(*array.Int32)
			if !ok1 || !ok2 {
				return fmt.Errorf("%s: unexpected Arrow schema %s", name, rec.Schema())
			}
			for i := range idx.Len() {
				fn(idx.Value(i), sg.Value(i), sg.IsValid(i))
			}
		}
		return nil
	})
}

// forecastGroups turns the customers' histories sp was fitted to into
// forecast groups of one customer each, by segment, with their spend
// evidence under sp; customers without a segment are left out.
func forecastGroups(sp *spendFit, segOf []int32) []scoring.ForecastGroup {
	groups := make([]scoring.ForecastGroup, 0, len(sp.h.idx))
	for i := range sp.h.hist {
		if sg := segmentOfCustomer(segOf, sp.h.idx[i]); sg >= 0 {
			groups = append(groups, sp.forecastGroup(i, int(sg)))
		}
	}
	return scoring.GroupForecast(groups)
}

// usesModelBaselines reports whether the targets' baselines come from the
// models (targets.baseline: model, the default).
func (r *run) usesModelBaselines() bool {
	return r.cfg.Targets.Baseline != "last_12m"
}
