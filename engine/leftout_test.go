package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
)

// writeTwoGroups writes transactions of two groups of 30 customers: L, who
// bought in 2024 only (more than 12 months before 2026-06-30), and R, who
// bought in 2025 and 2026, in the channel and category given (empty: the
// column is there, every cell empty).
func writeTwoGroups(t *testing.T, dir, channel, category string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("customer_id,order_id,ts,amount,channel,category\n")
	for i := range 30 {
		for j := range 3 {
			fmt.Fprintf(&b, "L%d,L%d-%d,2024-%02d-%02d 10:00:00,%d.50,%s,%s\n", i, i, j, 7+j, 1+i%28, 20+i, channel, category)
		}
		for j := range 4 {
			fmt.Fprintf(&b, "R%d,R%d-%d,%d-%02d-%02d 10:00:00,%d.25,%s,%s\n", i, i, j, 2025+j/2, 3+3*(j%2), 1+i%28, 40+i, channel, category)
		}
	}
	b.WriteString("R0,R0-last,2026-06-30 09:00:00,12.00," + channel + "," + category + "\n")
	path := filepath.Join(dir, "transactions.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func twoGroupsConfig(tx, out string) config.Config {
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{Transactions: config.InputSpec{Path: tx}}
	cfg.Output = out
	cfg.Segmentation.K = 2
	cfg.Segmentation.NInit = 2
	cfg.Today = "2026-07-01"
	return cfg
}

// publishedCount counts the rows of a published table that match where.
func publishedCount(t *testing.T, res *Result, table, where string) int64 {
	t.Helper()
	return queryInt(t, "SELECT count(*) FROM read_parquet(?) WHERE "+where, filepath.Join(res.Dir, table+".parquet"))
}

func leftOutReasons(res *Result) map[string]string {
	out := map[string]string{}
	for _, l := range res.Manifest.MetricsLeftOut {
		out[l.Metric] = l.Reason
	}
	return out
}

// Channel and category columns that every accepted line leaves empty are
// as good as absent: their metrics are left out (not published as 0), no
// objective or target rests on them, and customers' categories are empty.
func TestEmptyColumnsLeaveMetricsOut(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(context.Background(), twoGroupsConfig(writeTwoGroups(t, dir, "", ""), filepath.Join(dir, "out")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := leftOutReasons(res)
	for m, want := range map[string]string{
		"categories_per_customer": "no accepted purchase line has a category",
		"multi_category_share":    "no accepted purchase line has a category",
		"digital_share":           "no accepted purchase line has a channel",
		"channel_share":           "no accepted purchase line has a channel",
	} {
		if reasons[m] != want {
			t.Errorf("%s left out for %q, want %q", m, reasons[m], want)
		}
	}
	if n := publishedCount(t, res, "segment_metrics", "metric IN ('digital_share', 'channel_share', 'multi_category_share', 'categories_per_customer')"); n != 0 {
		t.Errorf("%d segment_metrics rows of metrics left out", n)
	}
	if n := publishedCount(t, res, "segment_targets", "metric IN ('digital_share', 'multi_category_share')"); n != 0 {
		t.Errorf("%d targets on metrics left out", n)
	}
	// A lapsing or lapsed segment not worth a win-back gets
	// channel_migration from its value and lifecycle, whatever the data
	// has; no objective rests on the shares left out.
	if n := publishedCount(t, res, "segments", "objective = 'cross_sell' OR (objective = 'channel_migration' AND objective_reason NOT LIKE '%not worth a win-back%')"); n != 0 {
		t.Errorf("%d segments with an objective on a metric left out", n)
	}
	if n := publishedCount(t, res, "customer_segments", "categories IS NOT NULL"); n != 0 {
		t.Errorf("%d customers with a count of categories", n)
	}
}

// A share undefined for a segment (no spend in the last 12 months: the
// lapsed group L) is unknown, not 0: it drives no objective and gets no
// target, while the group that bought sets both.
func TestUndefinedShareDrivesNothing(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(context.Background(), twoGroupsConfig(writeTwoGroups(t, dir, "store", "books"), filepath.Join(dir, "out")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.MetricsLeftOut) != 0 {
		t.Fatalf("left out %v, want none", res.Manifest.MetricsLeftOut)
	}
	segs := filepath.Join(res.Dir, "customer_segments.parquet")
	lapsed := queryInt(t, "SELECT min(segment_id) FROM read_parquet(?) WHERE customer_id LIKE 'L%'", segs)
	if n := queryInt(t, "SELECT count(DISTINCT segment_id) FROM read_parquet(?) WHERE customer_id LIKE 'L%'", segs); n != 1 {
		t.Fatalf("group L in %d segments", n)
	}
	if n := publishedCount(t, res, "segment_metrics", fmt.Sprintf("segment_id = %d AND metric = 'digital_share'", lapsed)); n != 0 {
		t.Errorf("lapsed segment %d: digital_share published", lapsed)
	}
	if n := publishedCount(t, res, "segment_targets", fmt.Sprintf("segment_id = %d AND metric = 'digital_share'", lapsed)); n != 0 {
		t.Errorf("lapsed segment %d: a digital_share target on an undefined share", lapsed)
	}
	// Its objective is that of a lapsed segment below the average LTV
	// (channel_migration, by its status), not of the digital-share rule.
	if n := publishedCount(t, res, "segments", fmt.Sprintf("segment_id = %d AND objective_reason LIKE '%%digital%%'", lapsed)); n != 0 {
		t.Errorf("lapsed segment %d: an objective from an undefined digital share", lapsed)
	}
	if n := publishedCount(t, res, "segments", fmt.Sprintf("segment_id = %d AND segment_name LIKE 'Mid-value lapsed%%' AND objective = 'channel_migration'", lapsed)); n != 1 {
		t.Errorf("lapsed segment %d: want Mid-value lapsed, channel_migration by its status", lapsed)
	}
	// The buying segment, all in store, is channel_migration with a target.
	if n := publishedCount(t, res, "segment_targets", fmt.Sprintf("segment_id <> %d AND metric = 'digital_share' AND baseline = 0", lapsed)); n != 1 {
		t.Errorf("buying segment: %d digital_share targets from 0, want 1", n)
	}
}

// An as_of after the data's end leaves its windows uncovered: coverage
// counts the days between the first and the last order, so the metrics of
// those windows are left out with the reason, and the run warns (of the
// windows and of an as_of after the run's date).
func TestAsOfAfterDataEnd(t *testing.T) {
	dir := t.TempDir()
	cfg := twoGroupsConfig(writeTwoGroups(t, dir, "web", "books"), filepath.Join(dir, "out"))
	cfg.AsOf = "2030-01-01"
	var logs bytes.Buffer
	res, err := Run(context.Background(), cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Manifest.Windows {
		if w.CoveredDays != 0 || w.Coverage != 0 {
			t.Errorf("window %+v: want it uncovered (the data ends 2026-06-30)", w)
		}
	}
	reasons := leftOutReasons(res)
	if want := "the data covers 0 of the 365 days of last_12m (2029-01-02 to 2030-01-01)"; reasons["revenue_12m"] != want {
		t.Errorf("revenue_12m left out for %q, want %q", reasons["revenue_12m"], want)
	}
	if n := publishedCount(t, res, "segment_metrics", "metric IN ('revenue_12m', 'orders_12m', 'active_customers_12m', 'digital_share')"); n != 0 {
		t.Errorf("%d segment_metrics rows of the uncovered last 12 months", n)
	}
	if n := publishedCount(t, res, "segment_targets", "metric IN ('revenue_12m', 'orders_12m', 'active_customers_12m', 'digital_share')"); n != 0 {
		t.Errorf("%d targets of the uncovered last 12 months", n)
	}
	// The summary's figures are unknown, not 0: no revenue, no target.
	for _, sg := range res.Segments {
		if !math.IsNaN(sg.Revenue12m) || !math.IsNaN(sg.RevenueBaseline) || !math.IsNaN(sg.RevenueTarget) {
			t.Errorf("segment %d summary: revenue %v, baseline %v, target %v; want all unknown (NaN)",
				sg.ID, sg.Revenue12m, sg.RevenueBaseline, sg.RevenueTarget)
		}
	}
	for _, want := range []string{"metric window mostly outside the data", "as_of 2030-01-01 is after the run's date 2026-07-01"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no warning %q in the log", want)
		}
	}
	// Validate says the same.
	v, err := Validate(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(v.MetricsLeftOut, func(l manifest.MetricLeftOut) bool { return l.Metric == "revenue_12m" }) || len(v.Warnings) != 1 {
		t.Errorf("validate: left out %v, warnings %v", v.MetricsLeftOut, v.Warnings)
	}
	// Half a year past the data's end, the last 12 months are still
	// mostly covered: 2025-11-01 to 2026-06-30, 242 of 365 days.
	cfg.AsOf = "2026-10-31"
	res, err = Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := res.Manifest.Windows[0]; w.Window != "last_12m" || w.CoveredDays != 242 {
		t.Errorf("as_of 2026-10-31: %+v, want 242 of its days covered (2025-11-01 to 2026-06-30)", w)
	}
	if _, out := leftOutReasons(res)["revenue_12m"]; out {
		t.Errorf("as_of 2026-10-31: revenue_12m left out with 242 of 365 days covered")
	}
}

// targets.objectives naming a segment the run does not have applies to
// none and says so in the log; the segment it does name takes it.
func TestObjectiveOfUnknownSegmentWarns(t *testing.T) {
	dir := t.TempDir()
	cfg := twoGroupsConfig(writeTwoGroups(t, dir, "web", "books"), filepath.Join(dir, "out"))
	cfg.Targets.Objectives = map[int]string{1: "acquisition", 9: "win_back"}
	var logs bytes.Buffer
	res, err := Run(context.Background(), cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if n := publishedCount(t, res, "segments", "segment_id = 1 AND objective = 'acquisition' AND objective_source = 'config'"); n != 1 {
		t.Errorf("segment 1: objective not set by the config")
	}
	var warned []string
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec struct {
			Level, Msg, Objective string
			SegmentID             int `json:"segment_id"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && strings.HasPrefix(rec.Msg, "targets.objectives sets the objective of a segment this run does not have") {
			warned = append(warned, fmt.Sprintf("%s %d %s", rec.Level, rec.SegmentID, rec.Objective))
		}
	}
	if !slices.Equal(warned, []string{"WARN 9 win_back"}) {
		t.Errorf("warnings %q, want one of segment 9 (win_back)", warned)
	}
}
