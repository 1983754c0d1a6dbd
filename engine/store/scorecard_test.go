package store

import "testing"

// A plan covers the days of its horizon, both ends included; between two
// plans' horizons no plan does.
func TestPlanCovering(t *testing.T) {
	plans := []Plan{
		{ID: 1, HorizonStart: "2026-01-01", HorizonEnd: "2026-12-31"},
		{ID: 3, HorizonStart: "2027-02-01", HorizonEnd: "2028-01-31"},
	}
	for day, want := range map[string]int{
		"2025-12-31": 0, "2026-01-01": 1, "2026-07-15": 1, "2026-12-31": 1, "2027-01-15": 0, "2027-02-01": 3, "2028-01-31": 3, "2028-02-01": 0,
	} {
		got := 0
		if p := PlanCovering(plans, day); p != nil {
			got = p.ID
		}
		if got != want {
			t.Errorf("plan covering %s: %d, want %d (0: none)", day, got, want)
		}
	}
}
