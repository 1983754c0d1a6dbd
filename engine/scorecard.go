package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/segmentation"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/scoring"
	"github.com/crmseg/crmseg/segment"
)

// The scorecard (segment_scorecard): when a plan of record's horizon holds
// the run's as_of, the run measures each of the plan's targets to date on
// the plan's segments, against the plan phased by the year before its
// horizon, with the year-end the value models project and a status
// (docs/plans.md, "The scorecard"). The segments are the plan's, not the
// run's: the customers the plan's run assigned keep their segment, and the
// customers new since take the nearest centroid of the plan's model
// (planScope). Without a plan, segment_scorecard is published empty, and
// the scorecard costs the run a read of the history and three empty tables.

// plansOfRecord are the active plans of record the run read from the output
// root's history at its start (store.Previous).
type plansOfRecord struct {
	plans []store.Plan
	// err is why the history could not be read: the run goes on, without
	// a scorecard.
	err error
}

// plansOf are the active plans of record of prev, which the run read from
// the output root's history with the run it continues (store.FindPrevious):
// none for a TrainOnly run, which publishes nothing.
func (r *run) plansOf(prev store.Previous) plansOfRecord {
	if r.opts.TrainOnly {
		return plansOfRecord{}
	}
	return plansOfRecord{plans: prev.Plans, err: prev.PlansErr}
}

// planScope is what the scorecard measures: the plan of record whose horizon
// holds as_of, and the plan's segment of every customer of the run.
type planScope struct {
	plan *store.Plan
	// segmentOf is each customer's segment in the plan, by cust_idx - 1:
	// the one the plan's run gave them, or, for a customer new since, the
	// nearest centroid of the plan's model; -1 when that model cannot
	// assign them (its file is unreadable, or its features are not the
	// run's).
	segmentOf []int32
	// added marks the customers new since the plan's run (by cust_idx - 1,
	// one bit each) that the plan's model gave a segment; unassigned
	// counts those it could not.
	added      []uint64
	unassigned int64
}

// isAdded reports whether the customer at row is new since the plan's run,
// given a segment by its model.
func (p *planScope) isAdded(row int) bool { return p.added[row/64]&(1<<(row%64)) != 0 }

// planScope finds the plan of record whose horizon holds as_of among plans
// and gives every customer of the run their segment in it (see planScope).
// It needs the feature matrix in its own units: it runs before the
// segmentation, whose training scales the matrix in place. No plan, or a
// plan whose run's customer_segments is gone or unreadable, is no
// scorecard: nil, and the log says why.
func (r *run) planScope(ctx context.Context, plans plansOfRecord, fm *segmentation.FeatureMatrix) (*planScope, error) {
	asOf := r.man.AsOf
	if r.opts.TrainOnly {
		return nil, nil
	}
	if plans.err != nil {
		r.log.Warn("run history not read: no scorecard", "as_of", asOf, "error", plans.err)
		return nil, nil
	}
	plan := store.PlanCovering(plans.plans, asOf)
	if plan == nil {
		r.log.Info("no plan of record covers as_of: no scorecard", "as_of", asOf, "active_plans", len(plans.plans))
		return nil, nil
	}
	dir := filepath.Join(r.cfg.Output, plan.Directory)
	attrs := []any{"plan_id", plan.ID, "plan_run_id", plan.RunID, "horizon_start", plan.HorizonStart, "horizon_end", plan.HorizonEnd}
	file := filepath.Join(dir, "customer_segments.parquet")
	if _, err := os.Stat(file); err != nil {
		r.log.Warn("customers of the plan of record's run not found: no scorecard", append(attrs, "error", err)...)
		return nil, nil
	}
	// A file path, which a view cannot bind. Creating the view reads the
	// file's schema: a damaged file (or one without the columns) costs the
	// run its scorecard, as a missing one does, not the run.
	if err := r.s.exec(ctx, "CREATE OR REPLACE VIEW plan_customer_segments AS SELECT CAST(customer_id AS VARCHAR) AS customer_id, "+
		"CAST(segment_id AS INTEGER) AS segment_id FROM read_parquet("+sqlquote.Literal(file)+")"); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("plan of record's customers %s: %w", file, err)
		}
		r.log.Warn("customers of the plan of record's run unreadable: no scorecard", append(attrs, "file", file, "error", err)...)
		return nil, nil
	}
	n, _ := fm.X.Dims()
	scope := &planScope{plan: plan, segmentOf: make([]int32, n), added: make([]uint64, (n+63)/64)}
	for i := range scope.segmentOf {
		scope.segmentOf[i] = -1
	}
	var newRows []int
	err := r.readCustomerSegments(ctx, "reads/scorecard_plan_segments", func(custIdx int64, seg int32, ok bool) {
		if row := int(custIdx) - 1; ok {
			scope.segmentOf[row] = seg
		} else {
			newRows = append(newRows, row)
		}
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(newRows) // the chunks then read the matrix forwards
	if len(newRows) > 0 {
		model, err := segment.ReadModel(filepath.Join(dir, "model.json"))
		var ids []int32
		if err == nil {
			ids, err = segmentation.AssignRows(model, fm, newRows, r.cfg.Threads)
		}
		if err != nil {
			scope.unassigned = int64(len(newRows))
			r.log.Warn("customers new since the plan of record's run not given its segments: left out of the scorecard",
				append(attrs, "customers", len(newRows), "error", err)...)
		}
		for i, id := range ids {
			row := newRows[i]
			scope.segmentOf[row] = id
			scope.added[row/64] |= 1 << (row % 64)
		}
	}
	r.log.Info("scorecard against the plan of record", append(attrs, "customers", n-int(scope.unassigned),
		"added_customers", len(newRows)-int(scope.unassigned))...)
	return scope, nil
}

// scorecard builds segment_scorecard: against the plan of scope, each of
// its targets measured to date (scorecardFigures) and phased
// (scorecard_phasing); published empty when scope is nil (no plan covers
// as_of). val are the run's value models, which project the year-end. It
// records the summary in the manifest and the log.
func (r *run) scorecard(ctx context.Context, scope *planScope, val *valueFit) error {
	s := r.s
	for _, f := range []string{"ddl/scorecard_plan", "ddl/scorecard_targets", "ddl/scorecard_figures"} {
		if err := s.createTable(ctx, f); err != nil {
			return err
		}
	}
	build := func(file string) error {
		m, _ := registeredModel(file)
		return s.build(ctx, m)
	}
	if scope == nil {
		// Published empty, with its columns: the views read the empty plan,
		// and DuckDB runs nothing of a query it knows to be empty.
		for _, f := range []string{"intermediate/scorecard_window", "intermediate/scorecard_phasing"} {
			if err := build(f); err != nil {
				return err
			}
		}
		q, err := modelSQL("marts/segment_scorecard")
		if err != nil {
			return err
		}
		return s.exec(ctx, "CREATE OR REPLACE TABLE segment_scorecard AS SELECT * FROM ("+q+") WHERE false")
	}

	p := scope.plan
	var purchase, value any
	if val != nil && val.bgErr == nil {
		purchase = targetMethod(scoring.MethodPurchaseModel, val)
		if val.spendErr() == nil {
			value = targetMethod(scoring.MethodValueModel, val)
		}
	}
	start, err := time.Parse(time.DateOnly, p.HorizonStart)
	if err != nil {
		return fmt.Errorf("plan %d: horizon_start: %w", p.ID, err)
	}
	end, err := time.Parse(time.DateOnly, p.HorizonEnd)
	if err != nil {
		return fmt.Errorf("plan %d: horizon_end: %w", p.ID, err)
	}
	var first, last sql.NullTime
	if err := s.conn.QueryRowContext(ctx, "SELECT min(first_order_date), max(last_order_date) FROM customer_features").Scan(&first, &last); err != nil {
		return err
	}
	var dataStart any
	if first.Valid {
		dataStart = first.Time
	}
	if err := s.appendRows("scorecard_plan", [][]driver.Value{{int32(p.ID), p.RunID, start, end, purchase, value, dataStart, scope.unassigned}}); err != nil {
		return err
	}
	var rows [][]driver.Value
	for _, t := range p.Targets {
		rows = append(rows, []driver.Value{int32(t.SegmentID), t.SegmentName, t.Objective, t.Metric, t.Unit,
			optionalValue(t.Baseline), optionalValue(t.Low), optionalValue(t.High), optionalValue(t.Target), optionalValue(t.Uplift), t.Method})
	}
	if err := s.appendRows("scorecard_targets", rows); err != nil {
		return err
	}
	// An as_of past the data's last order measures days nothing was
	// recorded on: every figure to date falls short.
	if asOf := r.man.AsOf; last.Valid && last.Time.Format(time.DateOnly) < asOf {
		r.log.Warn("the data ends before as_of: the scorecard's figures to date stop at its last order", "as_of", asOf,
			"last_order", last.Time.Format(time.DateOnly))
	}
	if err := build("intermediate/scorecard_window"); err != nil {
		return err
	}
	if err := r.scorecardFigures(ctx, scope, val); err != nil {
		return err
	}
	for _, f := range []string{"intermediate/scorecard_phasing", "marts/segment_scorecard"} {
		if err := build(f); err != nil {
			return err
		}
	}

	sc := &manifest.Scorecard{PlanID: p.ID, PlanRunID: p.RunID, HorizonStart: p.HorizonStart, HorizonEnd: p.HorizonEnd,
		UnassignedCustomers: scope.unassigned}
	for row, id := range scope.segmentOf {
		if id >= 0 {
			sc.Customers++
		}
		if scope.isAdded(row) {
			sc.AddedCustomers++
		}
	}
	err = s.conn.QueryRowContext(ctx, `SELECT count(*), coalesce(max(days_elapsed), 0),
		count(*) FILTER (WHERE status = 'ahead'), count(*) FILTER (WHERE status = 'on_track'),
		count(*) FILTER (WHERE status = 'at_risk'), count(*) FILTER (WHERE status = 'behind')
		FROM segment_scorecard`).Scan(&sc.Rows, &sc.DaysElapsed, &sc.Ahead, &sc.OnTrack, &sc.AtRisk, &sc.Behind)
	if err != nil {
		return err
	}
	r.man.Scorecard = sc
	r.log.Info("scorecard", "plan_id", p.ID, "horizon_start", p.HorizonStart, "horizon_end", p.HorizonEnd, "days_elapsed", sc.DaysElapsed,
		"targets", sc.Rows, "ahead", sc.Ahead, "on_track", sc.OnTrack, "at_risk", sc.AtRisk, "behind", sc.Behind)
	return nil
}

// optionalValue is a target's figure as a column value: NULL when absent.
func optionalValue(v *float64) driver.Value {
	if v == nil {
		return nil
	}
	return nullable.Value(*v)
}

// scorecardSums are one segment's figures (scorecard_figures), added up
// exactly: money as DECIMAL at scale 4, as the read gives it, and each
// customer's expectations rounded to 6 decimals, so that the sums do not
// depend on the order in which the customers come (as segment_value's).
type scorecardSums struct {
	customers, orders, active, newCustomers, cohort, retained, buyers, multiCategory int64
	revenue, gross, digital                                                          decimal128.Num
	// the customers added since the plan's run, and their part of the
	// figures to date
	added, addedOrders, addedActive, addedNew int64
	addedRevenue                              decimal128.Num
	// the year before the horizon (see scorecard_figures)
	priorRevenueToDate, priorRevenue, priorGrossToDate, priorGross, priorDigitalToDate, priorDigital   decimal128.Num
	priorOrdersToDate, priorOrders, priorActiveToDate, priorActive, priorRetainedToDate, priorRetained int64
	newPriorToDate, newPrior                                                                           int64
	// the conversions
	orders12m, purchaseDays12m int64
	revenue12m, purchaseNet12m decimal128.Num
	// the value models over the rest of the horizon; noSpend: a customer
	// without an expected spend makes spendRest unknown
	purchasesRest, spendRest, activeRest, retainedRest decimal128.Num
	noSpend                                            bool
}

const (
	moneyScale    = 4 // reads/scorecard_customers' DECIMAL(38, 4)
	forecastScale = 6
)

// addForecast adds v, rounded to forecastScale decimals, to sum.
func addForecast(sum *decimal128.Num, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if n, err := decimal128.FromFloat64(v, 38, forecastScale); err == nil {
		*sum = sum.Add(n)
	}
}

// restForecast is what the run's value models expect of a customer over the
// rest of the horizon, the t weeks after as_of: the purchase model the run
// chose (value.model, or auto's choice) and the spend model in use
// (value.spend_model, or auto's choice), as the targets'.
type restForecast struct {
	t    float64
	val  *valueFit
	pred *scoring.Predictor // nil: the purchase model is not usable
	// spend: the spend model is usable
	spend bool
}

func newRestForecast(val *valueFit, weeks float64) (restForecast, error) {
	f := restForecast{t: weeks}
	if val == nil || val.bgErr != nil {
		return f, nil
	}
	if !slices.IsSorted(val.idx) {
		return f, errors.New("scorecard: the purchase histories are not in cust_idx order")
	}
	f.val, f.pred, f.spend = val, scoring.NewPredictor(val.bg), val.spendErr() == nil
	return f, nil
}

// spendPerPurchase is the spend model's expected spend per purchase of
// the customer at row i of the purchase histories: the scorecard's one
// call of the spend model.
func (f restForecast) spendPerPurchase(i int) float64 {
	return f.val.expectedSpend(i)
}

// restExpectation is what the value models expect of one customer over
// the rest of the horizon: purchase days, their spend (NaN without the
// spend model), and the probability of at least one. noSpend: the spend
// model gives the customer no expected spend (a Gamma-Gamma fit with
// q <= 1 has no mean for a one-time buyer), so that their segment's spend
// over the rest of the horizon is unknown, not a sum that leaves them out.
type restExpectation struct {
	purchases, spend, buys float64
	noSpend                bool
}

// at returns what the models expect of the customer cust_idx over the
// rest of the horizon; ok false for a customer without a purchase history
// (no purchase up to as_of) or without a usable model.
func (f restForecast) at(custIdx int64) (e restExpectation, ok bool) {
	if f.pred == nil {
		return e, false
	}
	i, found := slices.BinarySearch(f.val.idx, custIdx)
	if !found {
		return e, false
	}
	c := f.val.hist[i]
	e.purchases = f.pred.ConditionalExpectedPurchases(f.t, c.X, c.TX, c.T)
	e.buys = f.pred.ConditionalProbPurchase(f.t, c.X, c.TX, c.T)
	e.spend = math.NaN()
	if f.spend {
		es := f.spendPerPurchase(i)
		e.noSpend = math.IsNaN(es) || math.IsInf(es, 0)
		e.spend = e.purchases * es
	}
	return e, true
}

// add adds one customer's row i of the read to the sums: a customer added
// since the plan's run when added; f is what the value models expect of
// them over the rest of the horizon, if anything.
func (s *scorecardSums) add(c scorecardCols, i int, added bool, f *restExpectation) {
	count := func(n *int64, yes bool) {
		if yes {
			*n++
		}
	}
	s.customers++
	orders := c.orders.Value(i)
	active, cohort := orders > 0, c.priorOrders.Value(i) > 0
	s.orders += orders
	count(&s.active, active)
	count(&s.newCustomers, c.newToDate.Value(i))
	count(&s.cohort, cohort)
	count(&s.retained, cohort && active)
	count(&s.buyers, c.buyer.Value(i))
	count(&s.multiCategory, c.multiCategory.Value(i))
	s.revenue = s.revenue.Add(c.revenue.Value(i))
	s.gross = s.gross.Add(c.gross.Value(i))
	s.digital = s.digital.Add(c.digital.Value(i))
	if added {
		s.added++
		s.addedOrders += orders
		count(&s.addedActive, active)
		count(&s.addedNew, c.newToDate.Value(i))
		s.addedRevenue = s.addedRevenue.Add(c.revenue.Value(i))
	}

	if c.established.Value(i) {
		s.priorRevenueToDate = s.priorRevenueToDate.Add(c.priorRevenueToDate.Value(i))
		s.priorRevenue = s.priorRevenue.Add(c.priorRevenue.Value(i))
		s.priorGrossToDate = s.priorGrossToDate.Add(c.priorGrossToDate.Value(i))
		s.priorGross = s.priorGross.Add(c.priorGross.Value(i))
		s.priorDigitalToDate = s.priorDigitalToDate.Add(c.priorDigitalToDate.Value(i))
		s.priorDigital = s.priorDigital.Add(c.priorDigital.Value(i))
		s.priorOrdersToDate += c.priorOrdersToDate.Value(i)
		s.priorOrders += c.priorOrders.Value(i)
		count(&s.priorActiveToDate, c.priorOrdersToDate.Value(i) > 0)
		count(&s.priorActive, cohort)
	}
	if c.priorCohort.Value(i) {
		count(&s.priorRetainedToDate, c.priorOrdersToDate.Value(i) > 0)
		count(&s.priorRetained, cohort)
	}
	count(&s.newPriorToDate, c.newPriorToDate.Value(i))
	count(&s.newPrior, c.newPrior.Value(i))

	s.orders12m += c.orders12m.Value(i)
	s.purchaseDays12m += c.purchaseDays12m.Value(i)
	s.revenue12m = s.revenue12m.Add(c.revenue12m.Value(i))
	s.purchaseNet12m = s.purchaseNet12m.Add(c.purchaseNet12m.Value(i))
	if f == nil {
		return
	}
	addForecast(&s.purchasesRest, f.purchases)
	addForecast(&s.spendRest, f.spend)
	s.noSpend = s.noSpend || f.noSpend
	if !active {
		addForecast(&s.activeRest, f.buys)
		if cohort {
			addForecast(&s.retainedRest, f.buys)
		}
	}
}

// row is the sums as a row of scorecard_figures; the model sums are null
// when the model they need is not usable.
func (s *scorecardSums) row(seg int32, purchase, value bool) []driver.Value {
	money := func(n decimal128.Num) float64 { return n.ToFloat64(moneyScale) }
	forecast := func(n decimal128.Num, usable bool) driver.Value {
		if !usable {
			return nil
		}
		return n.ToFloat64(forecastScale)
	}
	return []driver.Value{seg, s.customers, s.added, money(s.revenue), s.orders, s.active, s.newCustomers, s.cohort, s.retained,
		money(s.addedRevenue), s.addedOrders, s.addedActive, s.addedNew,
		money(s.gross), money(s.digital), s.buyers, s.multiCategory,
		money(s.priorRevenueToDate), money(s.priorRevenue), money(s.priorGrossToDate), money(s.priorGross),
		money(s.priorDigitalToDate), money(s.priorDigital), s.priorOrdersToDate, s.priorOrders, s.priorActiveToDate, s.priorActive,
		s.priorRetainedToDate, s.priorRetained, s.newPriorToDate, s.newPrior,
		s.orders12m, money(s.revenue12m), s.purchaseDays12m, money(s.purchaseNet12m),
		forecast(s.purchasesRest, purchase), forecast(s.spendRest, value && !s.noSpend), forecast(s.activeRest, purchase), forecast(s.retainedRest, purchase)}
}

// scorecardFigures adds up reads/scorecard_customers by the plan's segment
// of each customer (scope), with what the value models val expect of each
// over the rest of the horizon, and writes scorecard_figures: a row per
// segment, and row 0 of every customer of the run (for the phasing).
// Customers without a segment in the plan (unassigned) are in row 0 only.
func (r *run) scorecardFigures(ctx context.Context, scope *planScope, val *valueFit) error {
	asOf, err := time.Parse(time.DateOnly, r.man.AsOf)
	if err != nil {
		return fmt.Errorf("as_of: %w", err)
	}
	end, err := time.Parse(time.DateOnly, scope.plan.HorizonEnd)
	if err != nil {
		return fmt.Errorf("plan %d: horizon_end: %w", scope.plan.ID, err)
	}
	rest, err := newRestForecast(val, end.Sub(asOf).Hours()/24/7)
	if err != nil {
		return err
	}
	base := &scorecardSums{}
	sums := map[int32]*scorecardSums{}
	q, err := modelSQL("reads/scorecard_customers")
	if err != nil {
		return err
	}
	err = r.s.arrowQuery(ctx, q, func(rdr array.RecordReader) error {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			c, err := scorecardColumns(rec)
			if err != nil {
				return err
			}
			for i := range int(rec.NumRows()) {
				custIdx := c.idx.Value(i)
				f, ok := rest.at(custIdx)
				var expect *restExpectation
				if ok {
					expect = &f
				}
				row := int(custIdx) - 1
				added := scope.isAdded(row)
				base.add(c, i, added, expect)
				seg := scope.segmentOf[row]
				if seg < 0 {
					continue
				}
				s := sums[seg]
				if s == nil {
					s = &scorecardSums{}
					sums[seg] = s
				}
				s.add(c, i, added, expect)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	purchase, value := rest.pred != nil, rest.pred != nil && rest.spend
	rows := [][]driver.Value{base.row(0, purchase, value)}
	for _, seg := range slices.Sorted(maps.Keys(sums)) {
		rows = append(rows, sums[seg].row(seg, purchase, value))
	}
	return r.s.appendRows("scorecard_figures", rows)
}

// scorecardCols are the columns of reads/scorecard_customers.
type scorecardCols struct {
	idx, orders, orders12m, purchaseDays12m, priorOrdersToDate, priorOrders                          *array.Int64
	revenue, gross, digital, revenue12m, purchaseNet12m                                              *array.Decimal128
	priorRevenueToDate, priorRevenue, priorGrossToDate, priorGross, priorDigitalToDate, priorDigital *array.Decimal128
	newToDate, buyer, multiCategory, established, priorCohort, newPriorToDate, newPrior              *array.Boolean
}

// scorecardColumns finds the columns of reads/scorecard_customers in rec
// by name, with the types the query gives them; none of them is null.
func scorecardColumns(rec arrow.RecordBatch) (scorecardCols, error) {
	var c scorecardCols
	cols := []struct {
		name string
		dest any
	}{
		{"cust_idx", &c.idx}, {"orders_to_date", &c.orders}, {"orders_12m", &c.orders12m}, {"purchase_days_12m", &c.purchaseDays12m},
		{"prior_orders_to_date", &c.priorOrdersToDate}, {"prior_orders", &c.priorOrders},
		{"revenue_to_date", &c.revenue}, {"gross_to_date", &c.gross}, {"digital_to_date", &c.digital}, {"revenue_12m", &c.revenue12m},
		{"purchase_net_12m", &c.purchaseNet12m}, {"prior_revenue_to_date", &c.priorRevenueToDate}, {"prior_revenue", &c.priorRevenue},
		{"prior_gross_to_date", &c.priorGrossToDate}, {"prior_gross", &c.priorGross}, {"prior_digital_to_date", &c.priorDigitalToDate},
		{"prior_digital", &c.priorDigital},
		{"new_to_date", &c.newToDate}, {"buyer", &c.buyer}, {"multi_category", &c.multiCategory}, {"established", &c.established},
		{"prior_cohort", &c.priorCohort}, {"new_prior_to_date", &c.newPriorToDate}, {"new_prior", &c.newPrior},
	}
	for _, col := range cols {
		j := rec.Schema().FieldIndices(col.name)
		if len(j) != 1 {
			return c, fmt.Errorf("scorecard_customers: no column %s in %s", col.name, rec.Schema())
		}
		a := rec.Column(j[0])
		if a.NullN() > 0 {
			return c, fmt.Errorf("scorecard_customers: %d customers without %s", a.NullN(), col.name)
		}
		ok := false
		switch d := col.dest.(type) {
		case **array.Int64:
			*d, ok = a.(*array.Int64)
		case **array.Decimal128:
			var dec *array.Decimal128
			if dec, ok = a.(*array.Decimal128); ok {
				ok = dec.DataType().(*arrow.Decimal128Type).Scale == moneyScale
				*d = dec
			}
		case **array.Boolean:
			*d, ok = a.(*array.Boolean)
		}
		if !ok {
			return c, fmt.Errorf("scorecard_customers: column %s has the unexpected Arrow type %s", col.name, a.DataType())
		}
	}
	return c, nil
}
