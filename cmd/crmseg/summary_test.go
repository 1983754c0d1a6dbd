package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/engine/manifest"
)

// The summary prints "–" for a figure the run left out or that is
// undefined (NaN): revenue of an uncovered window, no revenue target, no
// retention, a backtest error against no actual revenue; never NaN, and
// never 0 for a target that was not set.
func TestSummaryLeftOutFigures(t *testing.T) {
	nan := math.NaN()
	res := &engine.Result{
		Manifest: &manifest.Manifest{AsOf: "2023-07-02", Backtest: &manifest.Backtest{Holdout: "13w", ActualPurchases: 0, PredictedPurchases: 3}},
		Segments: []engine.SegmentReport{
			{ID: 1, Name: "Known", Objective: "retention", Customers: 10, Revenue12m: 1234, HistoricalLTV: 56.5,
				Retention12m: 0.5, RevenueBaseline: 1000, RevenueTarget: 1050},
			{ID: 5, Name: "Left out", Objective: "retention", Customers: 3, Revenue12m: nan, HistoricalLTV: 7,
				Retention12m: nan, RevenueBaseline: nan, RevenueTarget: nan},
		},
	}
	var b bytes.Buffer
	printSegments(&b, res)
	out := b.String()
	if strings.Contains(out, "NaN") {
		t.Errorf("NaN printed:\n%s", out)
	}
	lines := strings.Split(out, "\n")
	var known, left []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "1 "):
			known = strings.Fields(l)
		case strings.HasPrefix(l, "5 "):
			left = strings.Fields(l)
		}
	}
	// id, name (two words), objective, customers, revenue, LTV, retain, baseline, target
	if want := []string{"5", "Left", "out", "retention", "3", "–", "7.00", "–", "–", "–"}; strings.Join(left, " ") != strings.Join(want, " ") {
		t.Errorf("segment 5 printed as %q, want %q", left, want)
	}
	if want := []string{"1", "Known", "retention", "10", "1234", "56.50", "50.0%", "1000", "1050"}; strings.Join(known, " ") != strings.Join(want, " ") {
		t.Errorf("segment 1 printed as %q, want %q", known, want)
	}
	if !strings.Contains(out, "(–, –)") {
		t.Errorf("backtest against nothing actual: want (–, –):\n%s", out)
	}
}
