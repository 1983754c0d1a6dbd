package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

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

// A history written before scorecards (schema version 3, with plans; 4,
// with scenarios too) is read as it is, its runs without a scorecard; the
// next run recorded there migrates it to version 5, its plans, scenarios
// and runs kept, and records its scorecard.
func TestHistoryMigratesToScorecard(t *testing.T) {
	if HistorySchemaVersion < 5 || len(historyMigrations) != HistorySchemaVersion {
		t.Fatalf("schema version %d with %d migrations; this test migrates versions 3 and 4 to 5 and on", HistorySchemaVersion, len(historyMigrations))
	}
	ctx := context.Background()
	const old, id = "20260701T020000Z-aaaaaa", "20261001T020000Z-bbbbbb"
	for _, from := range []int{3, 4} {
		t.Run(fmt.Sprint("version ", from), func(t *testing.T) {
			root := t.TempDir()
			writeHistoryVersion(t, root, old, from)
			inserts := []string{
				`INSERT INTO run_history.plans (plan_id, run_id, directory, as_of, horizon_start, horizon_end, committed_by, committed_at, note)
					VALUES (1, '` + old + `', 'runs/` + old + `', '2026-06-30', '2026-07-01', '2027-06-30', 'alice', '2026-07-01 09:00:00', 'FY')`,
				`INSERT INTO run_history.plan_targets (plan_id, segment_id, segment_name, metric, unit, horizon_start, horizon_end, baseline, target)
					VALUES (1, 1, 'All', 'revenue_12m', 'currency', '2026-07-01', '2027-06-30', 10, 11)`,
			}
			if from >= 4 {
				inserts = append(inserts, `INSERT INTO run_history.scenarios (run_id, scenario_name, directory, created_at, changes, scenario_json)
					VALUES ('`+old+`', 'retain', 'runs/`+old+`/scenarios/retain', '2026-07-02 09:00:00', '1: retention_12m=+0.05', '{}')`)
			}
			err := withScratchConn(ctx, func(conn *sql.Conn) error {
				if _, err := conn.ExecContext(ctx, "ATTACH "+sqlquote.Literal(filepath.Join(root, HistoryFile))+" AS run_history"); err != nil {
					return err
				}
				for _, q := range append(inserts, "DETACH run_history") {
					if _, err := conn.ExecContext(ctx, q); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}

			// Read as it is: no scorecards, the plan active.
			runs, err := List(ctx, root)
			if err != nil || len(runs) != 1 || runs[0].ScorecardPlanID != nil {
				t.Fatalf("runs of a version %d history: %+v, %v", from, runs, err)
			}
			if d, err := Show(ctx, root, old); err != nil || len(d.Scorecard) != 0 || len(d.Plans) != 1 {
				t.Errorf("run of a version %d history: %+v, %v", from, d, err)
			}
			if plans, err := Plans(ctx, root, true); err != nil || len(plans) != 1 || PlanCovering(plans, "2026-09-30") == nil {
				t.Errorf("active plans of a version %d history: %+v, %v", from, plans, err)
			}
			if v := historyValue(t, root, "SELECT value FROM run_history.meta WHERE key = 'schema_version'"); v != fmt.Sprint(from) {
				t.Fatalf("reading migrated the history to version %s", v)
			}

			// A run with a scorecard migrates it.
			sc := &manifest.Scorecard{PlanID: 1, PlanRunID: old, HorizonStart: "2026-07-01", HorizonEnd: "2027-06-30", Rows: 1, Behind: 1}
			recordRunWith(t, root, id, "2026-09-30", "12", sc, `(1, 1, 'All', 'retention', 'revenue_12m', 'currency', '2026-07-01', '2027-06-30',
				'2026-09-30', 92, 365, 40, 2, 1.5, 0.5, 2.75, 'base', 0.25, 10, 11, 6, 'bg_nbd_gamma_gamma', 'ratio', -0.4545, 'behind')`)
			for q, want := range map[string]string{
				"SELECT value FROM run_history.meta WHERE key = 'schema_version'": fmt.Sprint(HistorySchemaVersion),
				"SELECT string_agg(run_id || ':' || coalesce(scorecard_plan_id::VARCHAR, '-') || ':' || coalesce(scorecard_behind::VARCHAR, '-'), ' ' ORDER BY run_id) FROM run_history.runs": old + ":-:- " + id + ":1:1",
				"SELECT count(*) FROM run_history.plans WHERE superseded_by IS NULL":                                                                    "1",
				"SELECT concat_ws(' ', run_id, plan_id, segment_id, metric, actual_to_date, projected_year_end, status) FROM run_history.run_scorecard": id + " 1 1 revenue_12m 1.5 6.0 behind",
			} {
				if got := historyValue(t, root, q); got != want {
					t.Errorf("%s: %s, want %s", q, got, want)
				}
			}
			if from >= 4 {
				if n := historyValue(t, root, "SELECT count(*) FROM run_history.scenarios"); n != "1" {
					t.Errorf("%s scenarios after the migration, want the 1 recorded before", n)
				}
			}
			d, err := Show(ctx, root, id)
			if err != nil || len(d.Scorecard) != 1 || d.Scorecard[0].Status != "behind" || d.Run.ScorecardBehind == nil || *d.Run.ScorecardBehind != 1 {
				t.Errorf("the run with a scorecard read back as %+v, %v", d, err)
			}
		})
	}
}
