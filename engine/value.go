package engine

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/scoring"
)

// Time units of the customer-value models: purchase histories are measured
// in weeks; the 12-month horizon is a calendar year converted once.
const (
	weeksPerYear  = 365.25 / 7
	weeksPerMonth = weeksPerYear / 12
)

// customerValue fits the purchase model name (value.model's, or the one
// the backtest chose under auto: BG/NBD, MBG/NBD or Pareto/NBD, purchase
// and dropout) and Gamma-Gamma (spend per purchase) to
// the customers' histories as of as_of (see purchaseHistories), and writes
// each customer's predictions into customer_value and the fits into
// models. The histories are checked first (checkHistories): when they
// cannot carry the models nothing is fitted. A model that does not
// converge, or converges to a degenerate point (the edge of the parameter
// space), is recorded with its error and its predictions are left empty:
// it is never used silently. It returns the models with the histories,
// for the model-based targets.
func (r *run) customerValue(ctx context.Context, name, spendName string) (*valueFit, error) {
	s := r.s
	past, err := r.purchaseHistories(ctx, r.man.AsOf)
	if err != nil {
		return nil, err
	}
	idx, hist := past.idx, past.hist
	fitHist, fitSpend := past.fitRows()
	var segOf []int32
	if spendName == config.SpendPerSegment || spendName == config.ModelAuto {
		if segOf, err = r.segmentOf(ctx); err != nil {
			return nil, err
		}
	}

	// The fits and the predictions are Go's alone, over the histories:
	// DuckDB idles meanwhile (goPhase).
	var (
		fit                                        *valueFit
		fits                                       []scoring.FitResult
		purchases, alive, pPurchase, expSpend, clv []float64
	)
	if err := s.goPhase(ctx, func() error {
		check, dataErr := r.checkHistories(fitHist, r.man.AsOf)
		r.man.ValueData = check
		var bg scoring.DropoutModel
		var bgFit scoring.FitResult
		var sp *spendFit
		bgErr := dataErr
		if dataErr != nil {
			bgFit.N = check.Customers
			if spendName == config.ModelAuto {
				spendName = r.spendByRule(nil)
			}
			sp = newSpendFit(spendName, past, fitSpend, segOf, dataErr, r.opts.valueLimits)
			sp.fits[0].N = check.RepeatBuyers
		} else {
			fitting := r.progress(StepFit, 2)
			bg, bgFit, bgErr = fitPurchaseModel(name, fitHist)
			fitting.Add(1)
			if _, err := scoring.CheckSpend(fitSpend, r.opts.valueLimits); err == nil {
				r.man.SpendFrequency = r.checkSpendFrequency(fitSpend)
			}
			if spendName == config.ModelAuto {
				spendName = r.spendByRule(r.man.SpendFrequency)
			}
			sp = newSpendFit(spendName, past, fitSpend, segOf, nil, r.opts.valueLimits)
			fitting.Add(1)
			fitting.Done()
		}
		fit = &valueFit{idx: idx, hist: hist, model: name, bg: bg, bgFit: bgFit, bgErr: bgErr, spend: sp}
		spendRecs, spendFits := sp.records()
		fits = append([]scoring.FitResult{bgFit}, spendFits...)
		r.man.Models = []manifest.ModelRecord{record(name, "week", bgFit, bgErr), spendRecs[0]}
		r.man.SpendModel = &manifest.SpendModel{Model: spendName, Segments: spendRecs[1:]}
		for _, m := range r.man.Models {
			if m.Error != "" {
				r.log.Warn("customer-value model not used", "model", m.Model, "error", m.Error)
			} else {
				r.log.Info("customer-value model fitted", "model", m.Model, "log_likelihood", float64(m.LogLik), "customers", m.Customers)
			}
		}
		for _, m := range spendRecs[1:] {
			if m.Error != "" {
				r.log.Warn("spend model of a segment not fitted", "model", m.Model, "error", m.Error)
			} else {
				r.log.Info("spend model of a segment fitted", "model", m.Model, "log_likelihood", float64(m.LogLik), "customers", m.Customers)
			}
		}
		if spendName != config.SpendGammaGamma && sp.err == nil {
			r.log.Info("spend model in use", "spend_model", spendName)
		}

		h := scoring.Horizon{Periods: 12, PeriodLength: weeksPerMonth, DiscountRate: r.cfg.Value.MonthlyDiscountRate}
		n := len(idx)
		purchases, alive, pPurchase, expSpend, clv = nanSlice(n), nanSlice(n), nanSlice(n), nanSlice(n), nanSlice(n)
		if bgErr == nil {
			pred, which := predictHistories(bg, hist, h, r.cfg.Threads)
			for i := range hist {
				hp := pred[which[i]]
				purchases[i], alive[i], pPurchase[i] = round(hp.purchases, 6), round(hp.alive, 6), round(hp.pPurchase, 6)
				clv[i] = hp.discounted // times the expected spend below
			}
		}
		for i := range hist {
			if sp.err != nil {
				clv[i] = math.NaN()
				continue
			}
			es := fit.expectedSpend(i)
			expSpend[i] = round(es, 2)
			clv[i] = round(clv[i]*es, 2)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := s.createTable(ctx, "ddl/models"); err != nil {
		return nil, err
	}
	mrows := modelRows("", append(slices.Clone(r.man.Models), r.man.SpendModel.Segments...), fits)
	if err := s.appendRows("models", mrows); err != nil {
		return nil, err
	}

	mem := r.opts.Allocator
	if err := s.createFromColumns(ctx, "customer_value", []goColumn{
		int64Column(mem, "cust_idx", idx),
		float64Column(mem, "expected_purchases_12m", purchases),
		float64Column(mem, "p_alive", alive),
		float64Column(mem, "p_purchase_12m", pPurchase),
		float64Column(mem, "expected_spend", expSpend),
		float64Column(mem, "predicted_clv_12m", clv),
	}); err != nil {
		return nil, err
	}
	return fit, nil
}

// nanSlice returns n NaNs: values not computed, NULL in a table.
func nanSlice(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// historyPrediction is what the purchase model predicts for one history:
// the expected purchases and the probability of at least one in the next
// 12 months, P(alive), and the discounted expected purchases of the CLV.
type historyPrediction struct {
	purchases, alive, pPurchase, discounted float64
}

// predictHistories predicts once per distinct history (customers with the
// same x, t_x and T share every prediction), on up to threads goroutines
// (0: GOMAXPROCS), and returns the predictions and, per customer, the index
// of theirs. Each prediction depends on its history alone, so the result
// does not depend on the number of goroutines.
func predictHistories(bg scoring.DropoutModel, hist []scoring.RFM, h scoring.Horizon, threads int) ([]historyPrediction, []int32) {
	type key struct{ x, tx, t float64 }
	index := make(map[key]int32, len(hist)/4)
	which := make([]int32, len(hist))
	var distinct []scoring.RFM
	for i, c := range hist {
		k := key{c.X, c.TX, c.T}
		j, ok := index[k]
		if !ok {
			j = int32(len(distinct))
			index[k] = j
			distinct = append(distinct, c)
		}
		which[i] = j
	}
	pred := make([]historyPrediction, len(distinct))
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	const chunk = 1024
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(threads, (len(distinct)+chunk-1)/chunk)) {
		wg.Go(func() {
			pr := scoring.NewPredictor(bg)
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(distinct) {
					return
				}
				for j := lo; j < min(lo+chunk, len(distinct)); j++ {
					c := distinct[j]
					pred[j] = historyPrediction{
						purchases:  pr.ConditionalExpectedPurchases(weeksPerYear, c.X, c.TX, c.T),
						alive:      pr.PAlive(c.X, c.TX, c.T),
						pPurchase:  pr.ConditionalProbPurchase(weeksPerYear, c.X, c.TX, c.T),
						discounted: pr.DiscountedPurchases(c, h),
					}
				}
			}
		})
	}
	wg.Wait()
	return pred, which
}

// modelRows returns the rows of the models table for fitted models, one
// per parameter (one row without parameters for a model that failed), each
// model's name prefixed.
func modelRows(prefix string, records []manifest.ModelRecord, fits []scoring.FitResult) [][]driver.Value {
	var rows [][]driver.Value
	for i, m := range records {
		name := prefix + m.Model
		if len(m.Params) == 0 {
			rows = append(rows, []driver.Value{name, nil, nil, nil, nil, m.Customers, m.TimeUnit, m.Converged, m.Error})
			continue
		}
		fit := fits[i]
		for j, p := range fit.Names {
			se := math.NaN()
			if j < len(fit.StdErr) {
				se = fit.StdErr[j]
			}
			rows = append(rows, []driver.Value{name, p, nullable.Value(fit.Params[j]), nullable.Value(se),
				nullable.Value(fit.LogLik), m.Customers, m.TimeUnit, m.Converged, nullable.String(m.Error)})
		}
	}
	return rows
}

// histories are the customers' purchase histories up to an end date,
// ordered by cust_idx, with (for a backtest) their purchases after it.
type histories struct {
	idx     []int64
	hist    []scoring.RFM
	spend   []scoring.Spend
	first   []float64 // the net spend of the first purchase day
	actualN []int64   // purchase days after the end date
	actualR []float64 // their net spend
}

// purchaseHistories reads every customer's history as of end (a date,
// YYYY-MM-DD) from int_lines (reads/purchase_histories): a purchase is a day with at least one order
// (same-day orders merged, as in the literature) whose spend, net of what was
// returned of it, is positive; x is the number of purchase days after the
// first up to end, t_x the weeks from the first to the last, T the weeks
// from the first to end, and z̄ the mean net spend of the repeat purchase
// days. Customers whose first purchase is after end
// are left out.
func (r *run) purchaseHistories(ctx context.Context, end string) (*histories, error) {
	q, err := modelSQL("reads/purchase_histories")
	if err != nil {
		return nil, err
	}
	// The date goes into the query as a literal, not a parameter: DuckDB
	// then prunes by its zone maps the branch that reads the lines of the
	// orders with a line after end, which holds no order when end is
	// as_of (at 1,000,000 customers on one thread, 5.2 s against 6.2 s,
	// docs/performance.md, "Where it stands").
	if _, err := time.Parse(time.DateOnly, end); err != nil {
		return nil, fmt.Errorf("purchase histories: end %q is not a date", end)
	}
	q = strings.ReplaceAll(q, "$1::date", "DATE "+sqlquote.Literal(end))
	h := &histories{}
	err = r.s.arrowQuery(ctx, q, func(rdr array.RecordReader) error {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			idx, okI := rec.Column(0).(*array.Int64)
			x, okX := rec.Column(1).(*array.Float64)
			tx, okTX := rec.Column(2).(*array.Float64)
			t, okT := rec.Column(3).(*array.Float64)
			zbar, okZ := rec.Column(4).(*array.Float64)
			n, okN := rec.Column(5).(*array.Int64)
			rev, okR := rec.Column(6).(*array.Float64)
			first, okF := rec.Column(7).(*array.Float64)
			if !(okI && okX && okTX && okT && okZ && okN && okR && okF) {
				return fmt.Errorf("purchase histories: unexpected Arrow schema %s", rec.Schema())
			}
			for c, col := range rec.Columns() {
				if col.NullN() > 0 {
					return fmt.Errorf("purchase histories: %d customers without %s", col.NullN(), rec.ColumnName(c))
				}
			}
			for i := range int(rec.NumRows()) {
				c := scoring.RFM{X: x.Value(i), TX: tx.Value(i), T: t.Value(i), Weight: 1}
				h.idx, h.hist = append(h.idx, idx.Value(i)), append(h.hist, c)
				h.actualN, h.actualR = append(h.actualN, n.Value(i)), append(h.actualR, rev.Value(i))
				h.spend = append(h.spend, scoring.Spend{X: c.X, ZBar: zbar.Value(i), Weight: 1})
				h.first = append(h.first, first.Value(i))
			}
		}
		return nil
	})
	return h, err
}

// fitRows returns the histories the models are fitted on. A customer whose
// first purchase falls on the end date has T = 0: the likelihood of that
// history is 1 whatever the parameters, so it carries no information and
// is outside the fit's domain; such customers are predicted, not fitted.
// Gamma-Gamma is fitted on the repeat buyers with a positive mean spend.
func (h *histories) fitRows() ([]scoring.RFM, []scoring.Spend) {
	fitHist := make([]scoring.RFM, 0, len(h.hist))
	for _, c := range h.hist {
		if c.T > 0 {
			fitHist = append(fitHist, c)
		}
	}
	fitSpend := make([]scoring.Spend, 0, len(h.spend))
	for _, sp := range h.spend {
		if sp.X > 0 && sp.ZBar > 0 {
			fitSpend = append(fitSpend, sp)
		}
	}
	return fitHist, fitSpend
}

// record turns a fit into its manifest record. A fit that failed keeps the
// parameters it reached, if any (a degenerate fit's point on the edge of
// the parameter space), with converged false and its error.
func record(name, unit string, fit scoring.FitResult, err error) manifest.ModelRecord {
	m := manifest.ModelRecord{Model: name, TimeUnit: unit, Customers: fit.N, Converged: fit.Converged && err == nil, LogLik: nullable.Float(fit.LogLik)}
	if err != nil {
		m.Error = err.Error()
		if len(fit.Params) == 0 {
			m.LogLik = nullable.Float(math.NaN())
			return m
		}
	}
	m.Params, m.StdErrs = map[string]float64{}, map[string]float64{}
	for j, n := range fit.Names {
		m.Params[n] = fit.Params[j]
		if v := fit.StdErr[j]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			m.StdErrs[n] = v
		}
	}
	return m
}

// fitPurchaseModel fits the purchase model called name (one of
// config.PurchaseModels).
func fitPurchaseModel(name string, rows []scoring.RFM) (scoring.DropoutModel, scoring.FitResult, error) {
	switch name {
	case config.ModelMBGNBD:
		m, res, err := scoring.FitMBGNBD(rows)
		return m, res, err
	case config.ModelParetoNBD:
		m, res, err := scoring.FitParetoNBD(rows)
		return m, res, err
	}
	m, res, err := scoring.FitBGNBD(rows)
	return m, res, err
}

// errInsufficientData: the purchase histories cannot carry the value
// models (see checkHistories).
var errInsufficientData = errors.New("the data cannot carry the customer-value models")

// checkHistories checks the histories the models would be fitted on as of
// end against scoring.CheckData's default limits (weeks), logs the check
// (at WARN when it fails) and returns its record, and an error that says
// why when the models must not be fitted.
func (r *run) checkHistories(rows []scoring.RFM, end string) (*manifest.ValueData, error) {
	c := scoring.CheckData(rows, r.opts.valueLimits)
	l := c.Limits
	v := &manifest.ValueData{End: end, Customers: c.Customers, RepeatBuyers: c.RepeatBuyers, SpanWeeks: round(c.Span, 4),
		DistinctX: c.DistinctX, StartShare: round(c.StartShare, 6), MinCustomers: l.MinCustomers,
		MinRepeatBuyers: l.MinRepeatBuyers, MinSpanWeeks: l.MinSpan, MinDistinctX: l.MinDistinctX,
		MaxStartShare: l.MaxStartShare, Sufficient: c.Sufficient(), Problems: c.Problems}
	attrs := []any{"end", end, "customers", c.Customers, "repeat_buyers", c.RepeatBuyers, "span_weeks", v.SpanWeeks,
		"distinct_repeat_counts", c.DistinctX, "first_week_share", v.StartShare}
	if c.Sufficient() {
		r.log.Info("purchase histories checked", attrs...)
		return v, nil
	}
	err := fmt.Errorf("%w as of %s: %s", errInsufficientData, end, strings.Join(c.Problems, "; "))
	r.log.Warn("data cannot carry the customer-value models", append(attrs, "error", err.Error())...)
	return v, err
}

// checkSpendFrequency checks Gamma-Gamma's assumption on the histories it
// is fitted on, and warns when it does not hold: the spend each customer
// is predicted then leans towards the population's mean where it should
// follow the customer's purchase rate.
func (r *run) checkSpendFrequency(rows []scoring.Spend) *manifest.SpendFrequency {
	c, n := scoring.SpendFrequencyCorrelation(rows)
	sf := &manifest.SpendFrequency{Correlation: nullable.Float(round(c, 6)), Customers: n, Limit: scoring.SpendIndependenceLimit,
		Independent: math.IsNaN(c) || math.Abs(c) <= scoring.SpendIndependenceLimit}
	if !sf.Independent {
		r.log.Warn("spend per purchase goes with purchase frequency: Gamma-Gamma assumes they are independent",
			"correlation", round(c, 3), "limit", scoring.SpendIndependenceLimit, "repeat_buyers", n)
	}
	return sf
}
