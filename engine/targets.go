package engine

import (
	"context"
	"database/sql/driver"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/scoring"
)

// readSummaries reads segment_summary into the figures the target rules use,
// the metrics the run leaves out set to NaN (unknown).
func (r *run) readSummaries(ctx context.Context) (map[int]scoring.SegmentSummary, error) {
	q, err := modelSQL("reads/target_summaries")
	if err != nil {
		return nil, err
	}
	rows, err := r.s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]scoring.SegmentSummary{}
	for rows.Next() {
		var id int
		var s scoring.SegmentSummary
		if err := rows.Scan(&id, &s.Customers, &s.Revenue12m, &s.RevenueSD12m, &s.Orders12m, &s.OrdersSD12m,
			&s.Active12m, &s.ActivePrev12m, &s.Retention12m, &s.HistoricalLTV, &s.MultiCategoryShare,
			&s.DigitalShare, &s.NewCustomers12m, &s.Revenue12mNew, &s.NewDays12m, &s.RevenuePrev12m); err != nil {
			return nil, err
		}
		out[id] = r.withoutLeftOut(s)
	}
	return out, rows.Err()
}

// targets chooses each segment's objective, projects the baselines (from
// the value models val, with bands widened by the backtest's model error,
// unless targets.baseline is last_12m), and writes the segments and
// segment_targets tables.
func (r *run) targets(ctx context.Context, seg *segmented, val *valueFit, bands scoring.ModelError) ([]SegmentReport, error) {
	sums, err := r.readSummaries(ctx)
	if err != nil {
		return nil, err
	}
	pop := sums[0]
	asOfDate, err := time.Parse(time.DateOnly, r.man.AsOf)
	if err != nil {
		return nil, fmt.Errorf("as_of: %w", err)
	}
	horizonStart := asOfDate.AddDate(0, 0, 1)
	horizonEnd := horizonStart.AddDate(1, 0, -1)

	s := r.s
	if err := s.createTable(ctx, "ddl/segments"); err != nil {
		return nil, err
	}
	// The centroid columns follow the clustering features, which come from
	// the configuration.
	for _, f := range seg.numeric {
		if err := s.exec(ctx, "ALTER TABLE segments ADD COLUMN "+sqlquote.Ident("centroid_"+f.Name)+" DOUBLE"); err != nil {
			return nil, err
		}
	}
	if err := s.createTable(ctx, "ddl/segment_targets"); err != nil {
		return nil, err
	}
	var forecasts map[int]segmentForecast
	var conversions map[int]scoring.Conversions
	if r.usesModelBaselines() {
		if forecasts, conversions, err = r.segmentForecasts(ctx, val, bands); err != nil {
			return nil, err
		}
	}
	var segRows, tgtRows [][]driver.Value
	var reports []SegmentReport
	for _, sg := range seg.segments {
		sum := sums[sg.ID]
		sum.ValueTier, sum.Status = sg.Tier, sg.Status
		obj, reason := scoring.ChooseObjective(sum, pop)
		source := "rule"
		if o, ok := r.cfg.Targets.Objectives[sg.ID]; ok {
			obj, reason, source = scoring.Objective(o), "set in config", "config"
		}
		row := []driver.Value{int32(sg.ID), sg.Name, int64(sg.Customers), sg.Share, round(sum.HistoricalLTV, 4), string(obj), source, reason, sg.Traits}
		for _, c := range sg.Centroid {
			row = append(row, round(c, 6))
		}
		segRows = append(segRows, row)
		nan := math.NaN()
		rep := SegmentReport{ID: sg.ID, Name: sg.Name, Objective: string(obj), Customers: int64(sum.Customers),
			Revenue12m: sum.Revenue12m, HistoricalLTV: sum.HistoricalLTV, Retention12m: sum.Retention12m,
			RevenueBaseline: nan, RevenueTarget: nan, RevenueBaselineLow: nan, RevenueHigh: nan}
		targets := scoring.ProjectLastYear(sum, obj, r.cfg.Targets.Uplift)
		if f, ok := forecasts[sg.ID]; ok {
			targets = scoring.FromForecast(targets, f.Forecast, conversions[sg.ID], f.modelError)
			if math.IsNaN(f.Spend) && val.spendErr() == nil {
				// The spend model gives some of the segment's customers no
				// expected spend (a Gamma-Gamma fit with q <= 1 has no mean
				// for a one-time buyer): no revenue forecast to sum.
				r.log.Warn("revenue baseline of the last 12 months: the spend model gives some of the segment's customers no expected spend",
					"segment_id", sg.ID, "segment", sg.Name, "spend_model", val.spend.name)
			}
		}
		targets = scoring.ExplainBaseline(targets, sum)
		for _, t := range targets {
			tgtRows = append(tgtRows, []driver.Value{int32(sg.ID), sg.Name, t.Metric, t.Unit, horizonStart, horizonEnd,
				nullable.Value(round(t.Baseline, 4)), nullable.Value(round(t.Low, 4)), nullable.Value(round(t.High, 4)),
				nullable.Value(round(t.Target, 4)), t.Uplift, string(t.Objective), targetMethod(t.Method, val),
				nullable.Value(round(t.Last12m, 4)), nullable.Value(round(t.Ratio, 6)), t.Flagged, nullable.String(t.Reason)})
			switch {
			case t.Flagged && t.Metric == scoring.MetricRetention:
				r.log.Warn("retention baseline rests on few customers", "segment_id", sg.ID, "segment", sg.Name, "metric", t.Metric,
					"baseline", round(t.Baseline, 4), "basis_share", scoring.RetentionBasisShare, "reason", t.Reason)
			case t.Flagged:
				r.log.Warn("baseline far from the last 12 months", "segment_id", sg.ID, "segment", sg.Name, "metric", t.Metric,
					"baseline", round(t.Baseline, 2), "last_12m", round(t.Last12m, 2), "ratio", round(t.Ratio, 3),
					"flag_factor", scoring.BaselineFlagFactor, "reason", t.Reason)
			}
			if t.Metric == scoring.MetricRevenue {
				rep.RevenueBaseline, rep.RevenueTarget = t.Baseline, t.Target
				rep.RevenueBaselineLow, rep.RevenueHigh = t.Low, t.High
			}
		}
		reports = append(reports, rep)
	}
	r.warnUnknownObjectives(seg)
	if err := s.appendRows("segments", segRows); err != nil {
		return nil, err
	}
	if err := s.appendRows("segment_targets", tgtRows); err != nil {
		return nil, err
	}
	return reports, nil
}

// warnUnknownObjectives warns of each segment ID targets.objectives sets
// an objective for that this run has no segment of (a retired ID, a typo,
// IDs numbered afresh): the setting applies to no segment, and would
// otherwise go unnoticed.
func (r *run) warnUnknownObjectives(seg *segmented) {
	ids := make([]int, 0, len(seg.segments))
	for _, sg := range seg.segments {
		ids = append(ids, sg.ID)
	}
	for _, id := range slices.Sorted(maps.Keys(r.cfg.Targets.Objectives)) {
		if !slices.Contains(ids, id) {
			r.log.Warn("targets.objectives sets the objective of a segment this run does not have: it applies to none",
				"segment_id", id, "objective", r.cfg.Targets.Objectives[id], "segments", fmt.Sprint(ids))
		}
	}
}

// targetMethod names the purchase model in use (val.model) in a model-based
// target's method: scoring's bg_nbd and bg_nbd_gamma_gamma become, say,
// pareto_nbd and pareto_nbd_gamma_gamma.
func targetMethod(m string, val *valueFit) string {
	switch m {
	case scoring.MethodPurchaseModel:
		return val.model
	case scoring.MethodValueModel:
		return val.model + strings.TrimPrefix(m, scoring.MethodPurchaseModel)
	}
	return m
}
