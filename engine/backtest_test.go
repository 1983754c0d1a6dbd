package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/scoring"
)

func TestSpanBefore(t *testing.T) {
	end := time.Date(1998, 6, 30, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ span, want string }{
		{"39w", "1997-09-30"}, // the CDNOW calibration end
		{"273d", "1997-09-30"},
		{"6m", "1997-12-30"},
		{"1d", "1998-06-29"},
	} {
		if _, _, ok := config.ParseSpan(c.span); !ok {
			t.Errorf("%s: not a span", c.span)
			continue
		}
		if got := config.SpanBefore(end, c.span).Format(time.DateOnly); got != c.want {
			t.Errorf("%s before 1998-06-30 = %s, want %s", c.span, got, c.want)
		}
	}
	for _, bad := range []string{"", "0w", "39", "w", "-3m", "3y", "39 w", "12345d"} {
		if _, _, ok := config.ParseSpan(bad); ok {
			t.Errorf("%q accepted as a span", bad)
		}
	}
}

// TestBacktestModelErrorNamesSpendModel checks that a purchase model left
// without backtest figures because Gamma-Gamma failed says so: the error
// of the spend model, reported against bg_nbd or mbg_nbd as it stood,
// read as the purchase model's own (its parameters p, q and gamma in a
// line about bg_nbd).
func TestBacktestModelErrorNamesSpendModel(t *testing.T) {
	gg := &spendFit{name: config.SpendGammaGamma, err: fmt.Errorf("%w: the maximum lies on the edge of the parameter space (p = 3.02, q = 4.69e+07, gamma = 1.59e+09)", scoring.ErrDegenerate)}
	err := backtestModelError(nil, gg)
	if err == nil || !strings.HasPrefix(err.Error(), "gamma_gamma") || !errors.Is(err, scoring.ErrDegenerate) {
		t.Errorf("purchase model fitted, Gamma-Gamma degenerate: %v, want the Gamma-Gamma error named as such", err)
	}
	own := errors.New("the data cannot carry the customer-value models")
	if err := backtestModelError(own, gg); err != own {
		t.Errorf("purchase model failed: %v, want its own error", err)
	}
	if err := backtestModelError(nil, &spendFit{name: config.SpendFirstOrder, err: gg.err}); err == nil || !strings.HasPrefix(err.Error(), "first_order, the spend model") {
		t.Errorf("purchase model fitted, first_order degenerate: %v, want the spend model named", err)
	}
	if err := backtestModelError(nil, &spendFit{name: config.SpendGammaGamma}); err != nil {
		t.Errorf("both fitted: %v", err)
	}
}

// A backtest that was not possible has no holdout figures: the manifest
// writes them as null, not as a forecast of 0 against 0.
func TestBacktestFiguresNullWhenNotPossible(t *testing.T) {
	for _, c := range []struct {
		bt   manifest.Backtest
		want string
	}{
		{manifest.Backtest{Error: "calibration up to 2025-01-01: too few customers", Customers: 0}, "null"},
		{manifest.Backtest{Customers: 12, ActualPurchases: 30, PredictedPurchases: 28.5, ActualRevenue: 100, PredictedRevenue: 90}, "12"},
	} {
		b, err := json.Marshal(&manifest.Manifest{Backtest: &c.bt})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Backtest map[string]json.RawMessage `json:"backtest"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"customers", "actual_purchases", "predicted_purchases", "actual_revenue", "predicted_revenue"} {
			v, ok := got.Backtest[k]
			if !ok {
				t.Fatalf("%s missing from %s", k, b)
			}
			if (c.want == "null") != (string(v) == "null") {
				t.Errorf("error %q: %s = %s", c.bt.Error, k, v)
			}
		}
		if string(got.Backtest["customers"]) != c.want {
			t.Errorf("error %q: customers = %s, want %s", c.bt.Error, got.Backtest["customers"], c.want)
		}
		if _, ok := got.Backtest["holdout"]; !ok {
			t.Errorf("the other fields are lost: %s", b)
		}
	}
}
