package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// planTargets are the segment targets a recorded test run publishes: two
// segments, two metrics each, one with null figures. A plan lists them by
// segment and metric: retention_12m before revenue_12m.
const planTargets = `(1, 'High', 'revenue_12m', 'currency', %[1]s, 1000, 900, 1100, 1050, 0.05, 'retention', 'bg_nbd_gamma_gamma'),
	(1, 'High', 'retention_12m', 'share', %[1]s, 0.6, 0.55, 0.65, 0.6, 0, 'retention', 'last_12m_projection'),
	(2, 'Low', 'revenue_12m', 'currency', %[1]s, 100, 80, 120, %[2]s, 0.05, 'acquisition', 'bg_nbd_gamma_gamma'),
	(2, 'Low', 'retention_12m', 'share', %[1]s, NULL, NULL, NULL, NULL, NULL, 'acquisition', 'last_12m_projection')`

// recordPlanRun records a succeeded run of the output root root as of
// asOf, whose segment targets are planTargets with the revenue target
// lowTarget for segment 2 (none at all when lowTarget is ""), and writes
// its run directory with the files a plan stands on.
func recordPlanRun(t *testing.T, root, id, asOf, lowTarget string) {
	t.Helper()
	recordRunWith(t, root, id, asOf, lowTarget, nil, "")
}

// recordRunWith is recordPlanRun of a run whose manifest has the scorecard
// summary sc (nil: none) and whose segment_scorecard has the rows
// scorecardRows (a VALUES list; "": none).
func recordRunWith(t *testing.T, root, id, asOf, lowTarget string, sc *manifest.Scorecard, scorecardRows string) {
	t.Helper()
	ctx := context.Background()
	err := withScratchConn(ctx, func(conn *sql.Conn) error {
		for _, q := range []string{
			`CREATE TABLE segments (segment_id INTEGER, segment_name VARCHAR, customers BIGINT, customer_share DOUBLE, historical_ltv DOUBLE,
				objective VARCHAR, objective_source VARCHAR, objective_reason VARCHAR, traits VARCHAR)`,
			"INSERT INTO segments VALUES (1, 'High', 10, 0.25, 500, 'retention', 'rule', '', ''), (2, 'Low', 30, 0.75, 50, 'acquisition', 'rule', '', '')",
			"CREATE TABLE segment_metrics (segment_id INTEGER, segment_name VARCHAR, metric VARCHAR, dimension VARCHAR, value DOUBLE, unit VARCHAR)",
			"CREATE TABLE segment_migration (from_segment_id INTEGER, to_segment_id INTEGER, customers BIGINT)",
			`CREATE TABLE segment_targets (segment_id INTEGER, segment_name VARCHAR, metric VARCHAR, unit VARCHAR, horizon_start DATE,
				horizon_end DATE, baseline DOUBLE, low DOUBLE, high DOUBLE, target DOUBLE, uplift DOUBLE, objective VARCHAR, method VARCHAR)`,
			// No plan covered the run's as_of: an empty scorecard.
			`CREATE TABLE segment_scorecard (plan_id INTEGER, segment_id INTEGER, segment_name VARCHAR, objective VARCHAR, metric VARCHAR,
				unit VARCHAR, horizon_start DATE, horizon_end DATE, as_of DATE, days_elapsed BIGINT, horizon_days BIGINT, customers BIGINT,
				added_customers BIGINT, actual_to_date DOUBLE, added_to_date DOUBLE, expected_to_date DOUBLE, phasing VARCHAR, phased_share DOUBLE,
				baseline_full_year DOUBLE, target_full_year DOUBLE, projected_year_end DOUBLE, projection_method VARCHAR,
				comparison VARCHAR, gap DOUBLE, status VARCHAR)`,
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		if scorecardRows != "" {
			if _, err := conn.ExecContext(ctx, "INSERT INTO segment_scorecard VALUES "+scorecardRows); err != nil {
				return err
			}
		}
		if lowTarget != "" {
			horizon := fmt.Sprintf("DATE '%[1]s' + 1, DATE '%[1]s' + INTERVAL 1 YEAR", asOf)
			if _, err := conn.ExecContext(ctx, "INSERT INTO segment_targets VALUES "+fmt.Sprintf(planTargets, horizon, lowTarget)); err != nil {
				return err
			}
		}
		m := &manifest.Manifest{RunID: id, AsOf: asOf, Versions: map[string]string{}, Scorecard: sc}
		started := time.Date(2026, 7, 1, 2, 0, 0, 0, time.UTC)
		_, err := RecordRun(ctx, conn, root, Record{Manifest: m, Started: started, Finished: started.Add(time.Minute)})
		return err
	})
	if err != nil {
		t.Fatalf("recording run %s: %v", id, err)
	}
	dir := filepath.Join(root, "runs", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range PlanRunFiles {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// setLatest points the output root's latest at run id.
func setLatest(t *testing.T, root, id string) {
	t.Helper()
	latest := filepath.Join(root, "latest")
	os.Remove(latest)
	if err := os.Symlink(filepath.Join("runs", id), latest); err != nil {
		t.Fatal(err)
	}
}

// planIDs are the IDs of plans, each with its status, e.g. "2 active".
func planIDs(plans []Plan) []string {
	var out []string
	for _, p := range plans {
		s := fmt.Sprintf("%d %s", p.ID, p.Status)
		if p.SupersededBy != nil {
			s += fmt.Sprintf(" by %d", *p.SupersededBy)
		}
		out = append(out, s)
	}
	return out
}

// A committed plan holds its run's targets with who, when and why; a
// second commit over an overlapping horizon supersedes it, which stays in
// the history; horizons that share no day stay active side by side; a
// horizon that shares one day with two plans supersedes both.
func TestPlanCommitSupersede(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	const a, b, c, d = "20260701T020000Z-aaaaaa", "20261001T020000Z-bbbbbb", "20261002T020000Z-cccccc", "20261003T020000Z-dddddd"
	recordPlanRun(t, root, a, "2026-06-30", "110")
	setLatest(t, root, a)
	t1 := time.Date(2026, 7, 2, 9, 30, 0, 0, time.UTC)
	p1, superseded, err := CommitPlan(ctx, root, PlanCommit{By: " alice ", Note: "FY27 board plan", Now: t1})
	if err != nil {
		t.Fatal(err)
	}
	if p1.ID != 1 || p1.Status != "active" || p1.RunID != a || p1.Directory != filepath.Join("runs", a) || p1.AsOf != "2026-06-30" ||
		p1.HorizonStart != "2026-07-01" || p1.HorizonEnd != "2027-06-30" || p1.CommittedBy != "alice" || p1.Note != "FY27 board plan" ||
		p1.CommittedAt != "2026-07-02T09:30:00Z" || p1.SupersededBy != nil || len(superseded) != 0 {
		t.Errorf("first plan: %+v, superseded %v", p1, superseded)
	}
	if len(p1.Targets) != 4 {
		t.Fatalf("first plan has %d targets, want the run's 4: %+v", len(p1.Targets), p1.Targets)
	}
	if got := p1.Targets[3]; got.SegmentID != 2 || got.SegmentName != "Low" || got.Metric != "revenue_12m" || got.Unit != "currency" ||
		*got.Baseline != 100 || *got.Low != 80 || *got.High != 120 || *got.Target != 110 || *got.Uplift != 0.05 ||
		got.Objective != "acquisition" || got.Method != "bg_nbd_gamma_gamma" {
		t.Errorf("segment 2's revenue target read back as %+v", got)
	}
	if got := p1.Targets[2]; got.Baseline != nil || got.Target != nil || got.Uplift != nil {
		t.Errorf("null figures read back as %+v", got)
	}
	shown, err := ShowPlan(ctx, root, 1)
	if err != nil || shown.RunID != a || len(shown.Targets) != 4 || *shown.Targets[1].Target != 1050 {
		t.Fatalf("ShowPlan(1): %+v, %v", shown, err)
	}

	// b's horizon (2026-10-01 to 2027-09-30) overlaps plan 1's.
	recordPlanRun(t, root, b, "2026-09-30", "120")
	t2 := t1.Add(24 * time.Hour)
	p2, superseded, err := CommitPlan(ctx, root, PlanCommit{RunID: b, By: "bob", Note: "Q3 reforecast", Now: t2})
	if err != nil {
		t.Fatal(err)
	}
	if p2.ID != 2 || p2.HorizonStart != "2026-10-01" || !slices.Equal(planIDs(superseded), []string{"1 superseded by 2"}) {
		t.Errorf("second plan %+v superseded %v, want plan 1", p2, planIDs(superseded))
	}
	active, err := Plans(ctx, root, false)
	if err != nil || !slices.Equal(planIDs(active), []string{"2 active"}) {
		t.Errorf("active plans after the second: %v, %v", planIDs(active), err)
	}
	all, err := Plans(ctx, root, true)
	if err != nil || !slices.Equal(planIDs(all), []string{"1 superseded by 2", "2 active"}) {
		t.Fatalf("all plans after the second: %v, %v", planIDs(all), err)
	}
	if old := all[0]; old.SupersededAt != "2026-07-03T09:30:00Z" || old.CommittedBy != "alice" || len(old.Targets) != 4 || *old.Targets[3].Target != 110 {
		t.Errorf("superseded plan changed: %+v", old)
	}

	// c's horizon (2025-10-01 to 2026-09-30) ends the day before plan 2's
	// starts: both stay active, the earlier horizon listed first.
	recordPlanRun(t, root, c, "2025-09-30", "130")
	p3, superseded, err := CommitPlan(ctx, root, PlanCommit{RunID: c, By: "carol", Note: "backfill", Now: t2.Add(time.Hour)})
	if err != nil || p3.ID != 3 || len(superseded) != 0 {
		t.Fatalf("third plan: %+v superseded %v, %v; want none superseded", p3, planIDs(superseded), err)
	}
	active, err = Plans(ctx, root, false)
	if err != nil || !slices.Equal(planIDs(active), []string{"3 active", "2 active"}) {
		t.Errorf("active plans after the third: %v, %v", planIDs(active), err)
	}

	// d's horizon (2025-10-02 to 2026-10-01) shares 2026-10-01 with plan 2
	// and the rest with plan 3: it supersedes both.
	recordPlanRun(t, root, d, "2025-10-01", "140")
	_, superseded, err = CommitPlan(ctx, root, PlanCommit{RunID: d, By: "dan", Note: "one day over", Now: t2.Add(2 * time.Hour)})
	if err != nil || !slices.Equal(planIDs(superseded), []string{"3 superseded by 4", "2 superseded by 4"}) {
		t.Fatalf("fourth plan superseded %v, %v; want plans 3 and 2", planIDs(superseded), err)
	}
	all, err = Plans(ctx, root, true)
	if err != nil || !slices.Equal(planIDs(all), []string{"3 superseded by 4", "4 active", "1 superseded by 2", "2 superseded by 4"}) {
		t.Errorf("all plans after the fourth: %v, %v", planIDs(all), err)
	}

	// Committing plan 1's run again is a new plan, which supersedes plan 4.
	p5, superseded, err := CommitPlan(ctx, root, PlanCommit{By: "alice", Note: "back to the board plan", Now: t2.Add(3 * time.Hour)})
	if err != nil || p5.ID != 5 || p5.RunID != a || !slices.Equal(planIDs(superseded), []string{"4 superseded by 5"}) {
		t.Fatalf("recommitting run a: %+v superseded %v, %v", p5, planIDs(superseded), err)
	}
	d5, err := Show(ctx, root, a)
	if err != nil || !slices.Equal(planIDs(d5.Plans), []string{"1 superseded by 2", "5 active"}) {
		t.Errorf("history detail of run a lists plans %v, %v; want 1 and 5", planIDs(d5.Plans), err)
	}
}

// Every request the output root cannot carry out is refused with a
// *PlanError saying what was expected and what was found, and writes
// nothing.
func TestPlanCommitRefused(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	now := time.Date(2026, 7, 2, 9, 30, 0, 0, time.UTC)
	commit := func(id string) error {
		_, _, err := CommitPlan(ctx, root, PlanCommit{RunID: id, By: "alice", Note: "why", Now: now})
		return err
	}
	refused := func(what string, err error, want ...string) {
		t.Helper()
		var pe *PlanError
		if !errors.As(err, &pe) {
			t.Errorf("%s: %v, want a PlanError", what, err)
			return
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", what, err, w)
			}
		}
	}

	refused("no output root", func() error {
		_, _, err := CommitPlan(ctx, filepath.Join(root, "nope"), PlanCommit{By: "a", Note: "b", Now: now})
		return err
	}(), "expected an output root", "found nothing there")
	refused("no history", commit("latest"), "expected the run history "+filepath.Join(root, HistoryFile), "found none")
	_, err := Plans(ctx, root, false)
	refused("plans without a history", err, "expected the run history")

	const good, empty, failed, gone = "20260701T020000Z-aaaaaa", "20260701T030000Z-bbbbbb", "20260701T040000Z-cccccc", "20260701T050000Z-dddddd"
	recordPlanRun(t, root, good, "2026-06-30", "110")
	refused("no latest", commit(""), filepath.Join(root, "latest")+", a link to the newest run, found nothing there", "give the run ID")
	setLatest(t, root, "20990101T000000Z-ffffff")
	refused("dangling latest", commit("latest"), "points at runs/20990101T000000Z-ffffff, which is not there")
	os.Remove(filepath.Join(root, "latest"))
	os.Mkdir(filepath.Join(root, "latest"), 0o755)
	refused("latest a directory", commit("latest"), "to be a link to the newest run, found a directory")
	os.Remove(filepath.Join(root, "latest"))

	refused("unknown run", commit("20990101T000000Z-ffffff"), "found no run 20990101T000000Z-ffffff in it", "crmseg history lists the runs")
	recordPlanRun(t, root, empty, "2026-06-30", "")
	refused("run without targets", commit(empty), "expected segment targets of run "+empty, "found none")
	m := &manifest.Manifest{RunID: failed, Versions: map[string]string{}}
	if _, err := RecordRun(ctx, nil, root, Record{Manifest: m, Started: now, Finished: now, Err: errors.New("boom"), ExitCode: 1}); err != nil {
		t.Fatal(err)
	}
	refused("failed run", commit(failed), "expected a run that succeeded, found run "+failed+" failed")
	recordPlanRun(t, root, gone, "2026-06-30", "111")
	os.Remove(filepath.Join(root, "runs", gone, "customer_segments.parquet"))
	refused("a table gone", commit(gone), "expected customer_segments.parquet in the directory "+filepath.Join(root, "runs", gone), "found it missing")
	os.RemoveAll(filepath.Join(root, "runs", gone))
	refused("run directory gone", commit(gone), "expected the directory "+filepath.Join(root, "runs", gone), "found it gone (pruned")
	// A run directory whose run the history does not record (its record
	// failed): the message says so.
	os.MkdirAll(filepath.Join(root, "runs", "20260701T060000Z-eeeeee"), 0o755)
	refused("unrecorded run", commit("20260701T060000Z-eeeeee"), "found the directory of run 20260701T060000Z-eeeeee but no record of it")

	if err := commit(good); err != nil {
		t.Fatal(err)
	}
	refused("the same run again", commit(good), "run "+good+" is the plan of record for 2026-07-01 to 2027-06-30 already (plan 1", "nothing to commit")
	// Another run with the very same targets for the same horizon.
	const twin = "20260701T070000Z-ffffff"
	recordPlanRun(t, root, twin, "2026-06-30", "110")
	refused("identical targets", commit(twin), "plan 1 (run "+good+", committed 2026-07-02T09:30:00Z by alice) holds exactly the targets of run "+twin)
	_, err = ShowPlan(ctx, root, 7)
	refused("unknown plan", err, "found no plan 7", "crmseg plan show --all lists them")
	for _, c := range []PlanCommit{{By: "", Note: "why"}, {By: "alice", Note: " \n"}} {
		_, _, err := CommitPlan(ctx, root, c)
		refused(fmt.Sprintf("commit %+v", c), err, "expected")
	}
	// Who and why with control characters, which plan show would print
	// as lines (or terminal commands) of their own: refused.
	const forged = "20260701T090000Z-cdcdcd"
	recordPlanRun(t, root, forged, "2026-06-30", "120")
	for _, c := range []PlanCommit{{By: "mallory\nplan 99 committed: run FAKE", Note: "why"}, {By: "bob\x1b[31m", Note: "why"},
		{By: "bob", Note: "why\x1b[2J"}, {By: "bob", Note: "overwritten\rforged"}} {
		c.RunID, c.Now = forged, now
		_, _, err := CommitPlan(ctx, root, c)
		refused(fmt.Sprintf("commit %q %q", c.By, c.Note), err, "control character")
	}

	// Nothing refused was written: one plan, the first.
	all, err := Plans(ctx, root, true)
	if err != nil || !slices.Equal(planIDs(all), []string{"1 active"}) || all[0].RunID != good {
		t.Errorf("plans after the refusals: %v, %v; want plan 1 alone", planIDs(all), err)
	}
	// A twin whose targets differ by one figure is a new plan.
	recordPlanRun(t, root, "20260701T080000Z-ababab", "2026-06-30", "110.5")
	if err := commit("20260701T080000Z-ababab"); err != nil {
		t.Errorf("a run whose targets differ by one figure: %v", err)
	}
}

// writeHistoryV2 writes a history file of schema version 2, as crmseg
// wrote it before plans, with one succeeded run and its targets.
func writeHistoryV2(t *testing.T, root, id string) {
	t.Helper()
	writeHistoryVersion(t, root, id, 2)
}

// writeHistoryVersion writes a history file of schema version v, as a
// crmseg of that version wrote it, with one succeeded run and its targets.
func writeHistoryVersion(t *testing.T, root, id string, v int) {
	t.Helper()
	ctx := context.Background()
	err := withScratchConn(ctx, func(conn *sql.Conn) error {
		if _, err := conn.ExecContext(ctx, "ATTACH "+sqlquote.Literal(filepath.Join(root, HistoryFile))+" AS run_history"); err != nil {
			return err
		}
		for _, f := range historyMigrations[:v] {
			q, err := historySQL(f)
			if err != nil {
				return err
			}
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		for _, q := range []string{
			fmt.Sprintf("UPDATE run_history.meta SET value = '%d' WHERE key = 'schema_version'", v),
			fmt.Sprintf(`INSERT INTO run_history.runs (run_id, status, exit_code, as_of, started_at, finished_at, seconds, directory, manifest)
				VALUES ('%[1]s', 'succeeded', 0, '2026-06-30', '2026-07-01 02:00:00', '2026-07-01 02:01:00', 60, 'runs/%[1]s', '{}')`, id),
			fmt.Sprintf(`INSERT INTO run_history.run_targets (run_id, segment_id, segment_name, metric, unit, horizon_start, horizon_end, baseline, target)
				VALUES ('%[1]s', 1, 'All', 'revenue_12m', 'currency', '2026-07-01', '2027-06-30', 10, 11)`, id),
			"DETACH run_history",
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("writing a version %d history: %v", v, err)
	}
}

// historyValue is a one-value query on the output root's history.
func historyValue(t *testing.T, root, query string) string {
	t.Helper()
	var v string
	if err := readHistory(context.Background(), root, func(conn *sql.Conn, _ int) error {
		return conn.QueryRowContext(context.Background(), query).Scan(&v)
	}); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// A history of schema version 2 (before plans) has no plans and is read as
// it is; the first plan commit migrates it to version 3, its runs kept. A
// history of a later version than this crmseg's is refused, unchanged.
func TestPlanMigratesHistory(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	const id = "20260701T020000Z-aaaaaa"
	writeHistoryV2(t, root, id)
	dir := filepath.Join(root, "runs", id)
	os.MkdirAll(dir, 0o755)
	for _, f := range PlanRunFiles {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}

	plans, err := Plans(ctx, root, true)
	if err != nil || len(plans) != 0 {
		t.Fatalf("plans of a version 2 history: %v, %v; want none", plans, err)
	}
	var pe *PlanError
	if _, err := ShowPlan(ctx, root, 1); !errors.As(err, &pe) {
		t.Errorf("plan 1 of a version 2 history: %v, want a PlanError", err)
	}
	if d, err := Show(ctx, root, id); err != nil || len(d.Plans) != 0 || len(d.Targets) != 1 {
		t.Errorf("a run of a version 2 history: %+v, %v", d, err)
	}
	if v := historyValue(t, root, "SELECT value FROM run_history.meta WHERE key = 'schema_version'"); v != "2" {
		t.Fatalf("reading migrated the history to version %s", v)
	}

	p, _, err := CommitPlan(ctx, root, PlanCommit{RunID: id, By: "alice", Note: "first plan", Now: time.Now()})
	if err != nil {
		t.Fatalf("committing a plan in a version 2 history: %v", err)
	}
	if v := historyValue(t, root, "SELECT value FROM run_history.meta WHERE key = 'schema_version'"); v != fmt.Sprint(HistorySchemaVersion) {
		t.Errorf("schema version after the commit: %s, want %d", v, HistorySchemaVersion)
	}
	if p.ID != 1 || p.HorizonStart != "2026-07-01" || len(p.Targets) != 1 || *p.Targets[0].Target != 11 {
		t.Errorf("plan of the migrated history: %+v", p)
	}
	runs, err := List(ctx, root)
	if err != nil || len(runs) != 1 || runs[0].RunID != id {
		t.Errorf("runs of the migrated history: %+v, %v", runs, err)
	}
	// A run recorded now goes into the version 3 tables as before.
	recordPlanRun(t, root, "20260702T020000Z-bbbbbb", "2026-07-01", "5")
	if n := historyValue(t, root, "SELECT count(*) FROM run_history.runs"); n != "2" {
		t.Errorf("%s runs after recording one more, want 2", n)
	}

	// A later crmseg's file: refused, for a commit and for reading.
	err = withScratchConn(ctx, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, "ATTACH "+sqlquote.Literal(filepath.Join(root, HistoryFile))+" AS h; "+
			"UPDATE h.meta SET value = '99' WHERE key = 'schema_version'; DETACH h")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = CommitPlan(ctx, root, PlanCommit{RunID: "20260702T020000Z-bbbbbb", By: "alice", Note: "later", Now: time.Now()})
	var he *HistoryError
	if !errors.As(err, &he) || !strings.Contains(err.Error(), fmt.Sprintf("schema version 99 is newer than this crmseg's (%d): commit plans with a newer crmseg", HistorySchemaVersion)) {
		t.Errorf("commit in a later version's history: %v", err)
	}
	if _, err := Plans(ctx, root, false); err == nil || !strings.Contains(err.Error(), "read it with a newer crmseg") {
		t.Errorf("plans of a later version's history: %v", err)
	}
}

// Pruning keeps the runs the active plans stand on, whatever their age,
// beside latest and the newest; a superseded plan's run is pruned like any
// other. When the history cannot be read, nothing is pruned.
func TestPruneKeepsPlanRuns(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	ids := []string{"20260101T020000Z-aaaaaa", "20260102T020000Z-aaaaaa", "20260103T020000Z-aaaaaa", "20260104T020000Z-aaaaaa", "20260105T020000Z-aaaaaa"}
	// Plans: run 0 (superseded by run 2's), run 2, run 1 (another horizon).
	recordPlanRun(t, root, ids[0], "2026-06-30", "1")
	recordPlanRun(t, root, ids[1], "2025-06-30", "2")
	recordPlanRun(t, root, ids[2], "2026-07-31", "3")
	recordPlanRun(t, root, ids[3], "2026-08-31", "4")
	recordPlanRun(t, root, ids[4], "2026-09-30", "5")
	for _, id := range ids[:3] {
		if _, _, err := CommitPlan(ctx, root, PlanCommit{RunID: id, By: "a", Note: "n", Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	setLatest(t, root, ids[4])
	dirs := func() []string {
		var out []string
		for _, d := range RunDirs(root) {
			out = append(out, filepath.Base(d))
		}
		slices.Sort(out)
		return out
	}

	history := filepath.Join(root, HistoryFile)
	os.Rename(history, history+".moved")
	os.WriteFile(history, []byte("not a database"), 0o644)
	if removed, err := Prune(ctx, root, 1); err == nil || len(removed) != 0 || len(dirs()) != 5 {
		t.Errorf("prune with an unreadable history removed %v (%v), want nothing and an error", removed, err)
	}
	os.Rename(history+".moved", history)

	removed, err := Prune(ctx, root, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ids[0], ids[3]}; !slices.Equal(removed, want) {
		t.Errorf("prune removed %v, want %v (oldest first)", removed, want)
	}
	if want := []string{ids[1], ids[2], ids[4]}; !slices.Equal(dirs(), want) {
		t.Errorf("after pruning: %v, want the active plans' runs and latest %v", dirs(), want)
	}
}
