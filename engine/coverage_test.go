package engine

import (
	"slices"
	"testing"

	"github.com/crmseg/crmseg/engine/manifest"
)

// A window is published from half covered on; below, its metrics are left
// out, each once with its first reason; a missing column comes first.
func TestMetricsLeftOut(t *testing.T) {
	names := func(l []manifest.MetricLeftOut) []string {
		var out []string
		for _, m := range l {
			out = append(out, m.Metric)
		}
		return out
	}
	all := func(string) string { return "" }
	half := []manifest.WindowCoverage{
		{Window: "last_12m", Days: 365, CoveredDays: 365, Coverage: 1},
		{Window: "previous_12m", Days: 366, CoveredDays: 183, Coverage: 0.5},
	}
	if got := metricsLeftOut(half, all); len(got) != 0 {
		t.Errorf("half-covered window: left out %v, want none", names(got))
	}
	short := []manifest.WindowCoverage{
		{Window: "last_12m", Start: "2025-01-01", End: "2025-12-31", Days: 365, CoveredDays: 100, Coverage: 0.274},
		{Window: "previous_12m", Start: "2024-01-01", End: "2024-12-31", Days: 366, CoveredDays: 0, Coverage: 0},
	}
	noChannel := func(c string) string {
		if c == "channel" {
			return "the inputs have no channel"
		}
		return ""
	}
	got := metricsLeftOut(short, noChannel)
	want := []string{"digital_share", "channel_share", "revenue_12m", "orders_12m", "avg_order_value_12m", "aov_change",
		"aov_increase_share", "purchase_frequency_12m", "active_customers_12m", "retention_12m", "churn_rate",
		"new_customers_12m", "avg_order_value_prev_12m"}
	if !slices.Equal(names(got), want) {
		t.Errorf("left out %v, want %v", names(got), want)
	}
	if got[0].Reason != "the inputs have no channel" ||
		got[2].Reason != "the data covers 100 of the 365 days of last_12m (2025-01-01 to 2025-12-31)" {
		t.Errorf("reasons %q, %q", got[0].Reason, got[2].Reason)
	}
}
