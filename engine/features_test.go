package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
)

// A numeric column listed as a demographic (acquisition_cost, thousands of
// distinct costs) is refused, naming it, before any one-hot column is
// made of it; a demographic within the limit is not.
func TestDemographicLevelsLimit(t *testing.T) {
	data := generatedData(t, 3000, 0)
	cfg := generatedConfig(t, data, t.TempDir())
	cfg.Inputs.Customers.Attributes = []string{"acquisition_cost"}
	cfg.Segmentation.Demographics = []string{"region", "acquisition_cost"}
	_, err := Run(context.Background(), cfg, Options{})
	var ce *config.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("acquisition_cost as a demographic: error %v, want a *config.ConfigError", err)
	}
	msg := err.Error()
	want := fmt.Sprintf("more than the %d a demographic may have", config.MaxDemographicLevels)
	if !strings.Contains(msg, "segmentation.demographics: acquisition_cost has ") || !strings.Contains(msg, want) ||
		!strings.Contains(msg, "bin it") || strings.Contains(msg, "region") {
		t.Errorf("error %q: want it to name acquisition_cost alone, the limit and the advice to bin it", msg)
	}
}

func TestCheckDemographicLevels(t *testing.T) {
	if err := checkDemographicLevels(map[string]int{"region": config.MaxDemographicLevels}); err != nil {
		t.Errorf("a demographic at the limit: %v, want no error", err)
	}
	err := checkDemographicLevels(map[string]int{"b": config.MaxDemographicLevels + 1, "a": 5000, "region": 4})
	var ce *config.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 2 || !strings.Contains(ce.Problems[0], " a has 5000 ") || !strings.Contains(ce.Problems[1], " b has ") {
		t.Errorf("two demographics over the limit: %v, want one problem each, in name order", err)
	}
}
