package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// TestRecordScenario records a scenario in a history of schema version 2,
// which it migrates to this crmseg's version, its runs kept, with the rows
// of the session's scenario_results; the same scenario again is refused,
// the history unchanged.
func TestRecordScenario(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	const id = "20260701T020000Z-aaaaaa"
	writeHistoryV2(t, root, id)
	rec := ScenarioRecord{RunID: id, Name: "retain", Directory: "runs/" + id + "/scenarios/retain", Created: time.Date(2026, 7, 2, 9, 0, 0, 0, time.UTC),
		AsOf: "2026-06-30", Changes: "1: retention_12m=+0.05", FixedCost: 100, CostPerCustomer: math.NaN(), ProgrammeCost: 100, Margin: 1,
		IncrementalValue: 250, ROI: 1.5, PaybackMonths: math.NaN(), Contacted: 40, Version: "test", JSON: "{}"}
	record := func() error {
		return withScratchConn(ctx, func(conn *sql.Conn) error {
			if _, err := conn.ExecContext(ctx, `CREATE TABLE scenario_results AS SELECT 1 AS segment_id, 'A' AS segment_name,
				'active_customers_12m' AS metric, 'customers' AS unit, DATE '2026-07-01' AS horizon_start, DATE '2027-06-30' AS horizon_end,
				10.0 AS baseline, 8.0 AS baseline_low, 12.0 AS baseline_high, 12.0 AS scenario, 9.6 AS scenario_low, 14.4 AS scenario_high,
				2.0 AS change, 'bg_nbd' AS method, 'retention_12m=+0.05' AS changes`); err != nil {
				return err
			}
			return RecordScenario(ctx, conn, root, rec)
		})
	}
	if err := record(); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"SELECT value FROM run_history.meta WHERE key = 'schema_version'": fmt.Sprint(HistorySchemaVersion),
		"SELECT count(*) FROM run_history.runs":                           "1",
		"SELECT concat_ws(' ', scenario_name, as_of, fixed_cost, cost_per_customer IS NULL, contacted_customers, roi, payback_months IS NULL) FROM run_history.scenarios": "retain 2026-06-30 100.0 true 40 1.5 true",
		"SELECT concat_ws(' ', run_id, scenario_name, metric, scenario, change) FROM run_history.scenario_results":                                                        id + " retain active_customers_12m 12.0 2.0",
	} {
		if got := historyValue(t, root, q); got != want {
			t.Errorf("%s: %s, want %s", q, got, want)
		}
	}
	err := record()
	var he *HistoryError
	if !errors.As(err, &he) || !strings.Contains(err.Error(), "expected a new scenario, found scenario retain of run "+id+" recorded already") {
		t.Errorf("the same scenario again: %v", err)
	}
	if n := historyValue(t, root, "SELECT count(*) FROM run_history.scenario_results"); n != "1" {
		t.Errorf("%s result rows after the refused record, want 1", n)
	}
}
