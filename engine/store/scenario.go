package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/crmseg/crmseg/internal/sqlquote"
)

// Scenarios (crmseg scenario): what a run's segments would do under a
// programme's changes, written under the run's directory and recorded in the
// run history's scenarios and scenario_results tables (schema version 4).

// ScenarioRecord is a scenario as the run history records it.
type ScenarioRecord struct {
	RunID string
	Name  string
	// Directory is the scenario's directory, relative to the output root.
	Directory string
	Created   time.Time
	AsOf      string // the run's as_of, YYYY-MM-DD
	// Changes are the scenario's changes as --set gives them, segment by
	// segment.
	Changes string
	// The programme's figures; NaN when the scenario has no cost.
	FixedCost, CostPerCustomer, ProgrammeCost, Margin, IncrementalValue, ROI, PaybackMonths float64
	Contacted                                                                               int64
	Version                                                                                 string
	// JSON is the scenario's scenario.json.
	JSON string
}

// RecordScenario records a scenario in the run history of the output root
// root, in one transaction: the scenarios row and the rows of conn's
// scenario_results table (the scenario's own DuckDB session), or nothing.
// An older history file is migrated forward first; a newer one is refused,
// and so is a scenario of that run and name recorded already. The caller
// holds the output root's lock. Its error is a *HistoryError.
func RecordScenario(ctx context.Context, conn *sql.Conn, root string, rec ScenarioRecord) error {
	path := filepath.Join(root, HistoryFile)
	err := recordScenario(ctx, conn, path, rec)
	if err == nil {
		return nil
	}
	var he *HistoryError
	if !errors.As(err, &he) {
		he = &HistoryError{Path: path, Op: "record the scenario", Err: err}
	}
	return he
}

func recordScenario(ctx context.Context, conn *sql.Conn, path string, rec ScenarioRecord) error {
	return writeHistory(ctx, conn, path, "record scenarios", func(tx *sql.Tx) error { return insertScenario(ctx, tx, rec) })
}

// insertScenario inserts the scenario's rows into the attached history.
func insertScenario(ctx context.Context, tx *sql.Tx, rec ScenarioRecord) error {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+sqlquote.Ident(historyAlias)+".scenarios WHERE run_id = $1 AND scenario_name = $2",
		rec.RunID, rec.Name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("expected a new scenario, found scenario %s of run %s recorded already", rec.Name, rec.RunID)
	}
	orNull := func(v float64) any {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return v
	}
	var asOf, contacted any
	if rec.AsOf != "" {
		asOf = rec.AsOf
	}
	if !math.IsNaN(rec.ProgrammeCost) {
		contacted = rec.Contacted
	}
	if err := insertRow(ctx, tx, "scenarios", []column{{"run_id", rec.RunID}, {"scenario_name", rec.Name}, {"directory", rec.Directory},
		{"created_at", historyTimestamp(rec.Created)}, {"as_of", asOf}, {"changes", rec.Changes},
		{"fixed_cost", orNull(rec.FixedCost)}, {"cost_per_customer", orNull(rec.CostPerCustomer)}, {"contacted_customers", contacted},
		{"programme_cost", orNull(rec.ProgrammeCost)}, {"margin", orNull(rec.Margin)}, {"incremental_value", orNull(rec.IncrementalValue)},
		{"roi", orNull(rec.ROI)}, {"payback_months", orNull(rec.PaybackMonths)}, {"crmseg_version", rec.Version},
		{"scenario_json", rec.JSON}}); err != nil {
		return err
	}
	q, err := historySQL("insert_scenario_results")
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, q, rec.RunID, rec.Name); err != nil {
		return fmt.Errorf("insert_scenario_results: %w", err)
	}
	return nil
}
