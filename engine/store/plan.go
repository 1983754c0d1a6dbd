package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/crmseg/crmseg/internal/sqlquote"
)

// Plans of record (crmseg plan commit and plan show): the segment targets
// of a succeeded run, committed as the plan for their horizon, with who
// committed them, when and why. They live in the run history's plans and
// plan_targets tables (schema version 3).
//
// Two horizons overlap when they share a day. A new plan supersedes every
// active plan whose horizon overlaps its own, so the horizons of the active
// plans never overlap: any day is in at most one active plan's horizon. A
// superseded plan stays in the history, with superseded_by and
// superseded_at; nothing else ever changes a committed plan.

// PlanRunFiles are the files of a run's directory a plan stands on: its
// segments (the model and who is in each segment) and its targets. A run
// whose directory lacks one cannot be committed.
var PlanRunFiles = []string{"model.json", "segments.parquet", "customer_segments.parquet", "segment_targets.parquet"}

// Plan is a plan of record as the run history keeps it.
type Plan struct {
	ID     int    `json:"plan_id"`
	Status string `json:"status"` // active or superseded
	RunID  string `json:"run_id"`
	// Directory is the run's directory, relative to the output root
	// (runs/<run_id>): its model.json and customer_segments are the plan's
	// segments. The output root's pruning keeps it while the plan is active.
	Directory    string `json:"directory"`
	AsOf         string `json:"as_of"`
	HorizonStart string `json:"horizon_start"`
	HorizonEnd   string `json:"horizon_end"`
	CommittedBy  string `json:"committed_by"`
	CommittedAt  string `json:"committed_at"` // RFC 3339, UTC
	Note         string `json:"note"`
	// SupersededBy is the plan that superseded this one, nil while it is
	// active; SupersededAt when (RFC 3339, UTC).
	SupersededBy *int         `json:"superseded_by"`
	SupersededAt string       `json:"superseded_at,omitempty"`
	Targets      []PlanTarget `json:"targets,omitempty"`
}

// PlanTarget is one target of a plan: a row of its run's segment_targets
// (the horizon is the plan's).
type PlanTarget struct {
	SegmentID   int      `json:"segment_id"`
	SegmentName string   `json:"segment_name"`
	Objective   string   `json:"objective"`
	Metric      string   `json:"metric"`
	Unit        string   `json:"unit"`
	Baseline    *float64 `json:"baseline"`
	Low         *float64 `json:"low"`
	High        *float64 `json:"high"`
	Target      *float64 `json:"target"`
	Uplift      *float64 `json:"uplift"`
	Method      string   `json:"method"`
}

// PlanCommit is a request to commit a run's targets as the plan of record.
type PlanCommit struct {
	// RunID is the run; "" or "latest" is the run the output root's
	// latest link points at.
	RunID string
	By    string    // who commits it
	Note  string    // why
	Now   time.Time // when
}

// CommitPlan records the segment targets of a succeeded run of the output
// root as the plan of record for their horizon, in the run history, and
// marks every active plan whose horizon overlaps it superseded by it. It
// returns the new plan, with its targets, and the plans it superseded.
//
// It holds the output root's lock meanwhile, as a run does (a *LockedError,
// nothing done, when a run holds it): the history has one writer at a
// time, and no run prunes the plan's run directory between its check and
// the commit. The commit is one transaction: the history gains the whole
// plan and its superseding, or nothing. An older history file is migrated
// forward first; a newer one is refused.
//
// A request the output root cannot carry out is a *PlanError and writes
// nothing: no history, a latest that leads to no run, a run the history
// does not list or that failed, a run without targets, a run whose
// directory or tables are gone, a run whose targets are the active plan of
// their horizon already. Any other error is a *HistoryError.
func CommitPlan(ctx context.Context, root string, c PlanCommit) (plan *Plan, superseded []Plan, err error) {
	c.By, c.Note = strings.TrimSpace(c.By), strings.TrimSpace(c.Note)
	switch {
	case c.By == "":
		return nil, nil, &PlanError{Root: root, Problem: "expected who commits the plan, found no name"}
	case c.Note == "":
		return nil, nil, &PlanError{Root: root, Problem: "expected a note saying why the plan is committed, found none"}
	case strings.ContainsFunc(c.By, unicode.IsControl):
		// plan show prints who on one line: a line break or a terminal
		// escape in it would forge lines of its own.
		return nil, nil, &PlanError{Root: root, Problem: fmt.Sprintf("expected who commits the plan as one line of text, found %q, "+
			"which holds a control character", c.By)}
	case strings.ContainsFunc(c.Note, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return nil, nil, &PlanError{Root: root, Problem: "expected a note of text (line breaks and tabs allowed), found a control character " +
			"(a terminal escape, a carriage return) in it"}
	}
	if err := checkPlanRoot(root); err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	lock, _, err := Acquire(root, LockHolder{PID: os.Getpid(), Host: host, StartedAt: c.Now.UTC().Format(time.RFC3339), Command: "plan commit"})
	if err != nil {
		return nil, nil, err
	}
	defer lock.Release()
	runID := c.RunID
	if runID == "" || runID == "latest" {
		// Under the lock: no run switches latest meanwhile.
		if runID, err = latestRunID(root); err != nil {
			return nil, nil, err
		}
	}
	err = withScratchConn(ctx, func(conn *sql.Conn) error {
		var err error
		plan, superseded, err = commitPlan(ctx, conn, root, runID, c)
		return err
	})
	if err != nil {
		var pe *PlanError
		var he *HistoryError
		if !errors.As(err, &pe) && !errors.As(err, &he) {
			err = &HistoryError{Path: filepath.Join(root, HistoryFile), Op: "commit the plan", Err: err}
		}
		return nil, nil, err
	}
	return plan, superseded, nil
}

// commitPlan is CommitPlan through conn, under the output root's lock.
func commitPlan(ctx context.Context, conn *sql.Conn, root, runID string, c PlanCommit) (plan *Plan, superseded []Plan, err error) {
	path := filepath.Join(root, HistoryFile)
	if err := attachHistory(ctx, conn, path, false); err != nil {
		return nil, nil, err
	}
	defer detachHistory(ctx, conn)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := migrateHistory(ctx, tx, "commit plans"); err != nil {
		return nil, nil, err
	}
	refuse := func(format string, args ...any) error {
		return &PlanError{Root: root, Problem: fmt.Sprintf(format, args...)}
	}
	h := sqlquote.Ident(historyAlias)

	// The run: recorded, succeeded, with its targets and its directory.
	var status, failedStage, dir, asOf, kind string
	err = tx.QueryRowContext(ctx, "SELECT status, coalesce(failed_stage, ''), coalesce(directory, ''), coalesce(strftime(as_of, '%Y-%m-%d'), ''), "+
		"coalesce(kind, 'run') FROM "+h+".runs WHERE run_id = $1", runID).Scan(&status, &failedStage, &dir, &asOf, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		if st, err := os.Stat(filepath.Join(root, "runs", runID)); err == nil && st.IsDir() {
			return nil, nil, refuse("expected a run the run history %s records, found the directory of run %s but no record of it "+
				"(it was published but not recorded, exit code 4): a plan takes its targets from the run history", path, runID)
		}
		return nil, nil, refuse("expected a run the run history %s records, found no run %s in it (crmseg history lists the runs)", path, runID)
	}
	if err != nil {
		return nil, nil, err
	}
	if kind != "run" {
		return nil, nil, refuse("expected a run, found %s, an experiment: promote it (crmseg experiment promote) and commit the plan from the nightly run that follows", runID)
	}
	if status != "succeeded" {
		return nil, nil, refuse("expected a run that succeeded, found run %s %s in its %s stage: it published no targets", runID, status, failedStage)
	}
	if asOf == "" {
		return nil, nil, refuse("expected the as_of of run %s in the run history, found none", runID)
	}
	var n, nullHorizons int
	var start, end, lastStart, lastEnd string
	err = tx.QueryRowContext(ctx, `SELECT count(*), count(*) - least(count(horizon_start), count(horizon_end)),
		coalesce(strftime(min(horizon_start), '%Y-%m-%d'), ''), coalesce(strftime(min(horizon_end), '%Y-%m-%d'), ''),
		coalesce(strftime(max(horizon_start), '%Y-%m-%d'), ''), coalesce(strftime(max(horizon_end), '%Y-%m-%d'), '')
		FROM `+h+".run_targets WHERE run_id = $1", runID).Scan(&n, &nullHorizons, &start, &end, &lastStart, &lastEnd)
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		return nil, nil, refuse("expected segment targets of run %s in the run history (its segment_targets table), found none: there is nothing to plan", runID)
	}
	if nullHorizons > 0 || start != lastStart || end != lastEnd {
		return nil, nil, refuse("expected one horizon for all %d segment targets of run %s, found horizons from %s to %s and %d targets without one",
			n, runID, start, lastEnd, nullHorizons)
	}
	if dir == "" {
		dir = filepath.Join("runs", runID)
	}
	if st, err := os.Stat(filepath.Join(root, dir)); err != nil || !st.IsDir() {
		return nil, nil, refuse("expected the directory %s of run %s, which holds the plan's segments (its model.json and customer_segments), "+
			"found it gone (pruned, since keep_runs keeps the newest runs, or removed): commit a run whose directory is still there (%s lists them)",
			filepath.Join(root, dir), runID, filepath.Join(root, "runs"))
	}
	for _, f := range PlanRunFiles {
		if _, err := os.Stat(filepath.Join(root, dir, f)); err != nil {
			return nil, nil, refuse("expected %s in the directory %s of run %s, found it missing: the plan's segments and targets must be there "+
				"for as long as the plan stands", f, filepath.Join(root, dir), runID)
		}
	}

	// The active plan of the very same horizon, if any: a commit that would
	// change nothing is refused.
	same, err := queryPlans(ctx, tx, "WHERE superseded_by IS NULL AND horizon_start = $1::DATE AND horizon_end = $2::DATE", start, end)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range same {
		q, err := historySQL("plan_target_changes")
		if err != nil {
			return nil, nil, err
		}
		var changes int
		if err := tx.QueryRowContext(ctx, q, p.ID, runID).Scan(&changes); err != nil {
			return nil, nil, fmt.Errorf("plan_target_changes: %w", err)
		}
		if changes > 0 {
			continue
		}
		if p.RunID == runID {
			return nil, nil, refuse("run %s is the plan of record for %s to %s already (plan %d, committed %s by %s): "+
				"expected a run whose targets differ from it, found the same run: nothing to commit", runID, start, end, p.ID, p.CommittedAt, p.CommittedBy)
		}
		return nil, nil, refuse("plan %d (run %s, committed %s by %s) holds exactly the targets of run %s for %s to %s already: "+
			"expected targets that differ from it, found the same: nothing to commit", p.ID, p.RunID, p.CommittedAt, p.CommittedBy, runID, start, end)
	}

	var id int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(plan_id), 0) + 1 FROM "+h+".plans").Scan(&id); err != nil {
		return nil, nil, err
	}
	now := historyTimestamp(c.Now)
	// Every active plan whose horizon shares a day with this one's.
	if _, err := tx.ExecContext(ctx, "UPDATE "+h+".plans SET superseded_by = $3, superseded_at = $4::TIMESTAMP "+
		"WHERE superseded_by IS NULL AND horizon_start <= $2::DATE AND horizon_end >= $1::DATE", start, end, id, now); err != nil {
		return nil, nil, fmt.Errorf("superseding plans: %w", err)
	}
	if superseded, err = queryPlans(ctx, tx, "WHERE superseded_by = $1", id); err != nil {
		return nil, nil, err
	}
	if err := insertRow(ctx, tx, "plans", []column{{"plan_id", int32(id)}, {"run_id", runID}, {"directory", dir}, {"as_of", asOf},
		{"horizon_start", start}, {"horizon_end", end}, {"committed_by", c.By}, {"committed_at", now}, {"note", c.Note}}); err != nil {
		return nil, nil, err
	}
	q, err := historySQL("insert_plan_targets")
	if err != nil {
		return nil, nil, err
	}
	if _, err := tx.ExecContext(ctx, q, id, runID); err != nil {
		return nil, nil, fmt.Errorf("insert_plan_targets: %w", err)
	}
	plans, err := queryPlans(ctx, tx, "WHERE plan_id = $1", id)
	if err != nil {
		return nil, nil, err
	}
	if len(plans) != 1 {
		return nil, nil, fmt.Errorf("plan %d not read back after its insert", id)
	}
	plan = &plans[0]
	if err := readPlanTargets(ctx, tx, plan); err != nil {
		return nil, nil, err
	}
	return plan, superseded, tx.Commit()
}

// checkPlanRoot checks that root is an output root with a run history.
func checkPlanRoot(root string) error {
	expected := fmt.Sprintf("expected an output root (the directory holding %s, latest and runs/)", HistoryFile)
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &PlanError{Root: root, Problem: expected + ", found nothing there"}
	case err != nil:
		return &PlanError{Root: root, Problem: fmt.Sprintf("%s, found %v", expected, err)}
	case !st.IsDir():
		return &PlanError{Root: root, Problem: expected + ", found a file"}
	}
	path := filepath.Join(root, HistoryFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return &PlanError{Root: root, Problem: fmt.Sprintf("expected the run history %s, which every run writes, found none: no run has been recorded here", path)}
	}
	return nil
}

// latestRunID is the ID of the run the output root's latest link points at.
func latestRunID(root string) (string, error) {
	latest := filepath.Join(root, "latest")
	refuse := func(format string, args ...any) error {
		return &PlanError{Root: root, Problem: fmt.Sprintf(format, args...) + ": give the run ID instead (crmseg history lists the runs)"}
	}
	target, err := os.Readlink(latest)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", refuse("expected %s, a link to the newest run, found nothing there", latest)
		}
		found := "a file"
		if st, serr := os.Lstat(latest); serr == nil && st.IsDir() {
			found = "a directory"
		} else if serr != nil {
			found = err.Error()
		}
		return "", refuse("expected %s to be a link to the newest run, found %s", latest, found)
	}
	if st, err := os.Stat(latest); err != nil || !st.IsDir() {
		return "", refuse("expected %s to lead to a run directory, found it points at %s, which is not there", latest, target)
	}
	return filepath.Base(target), nil
}

// Plans returns the plans of record of the output root's history: the
// active ones, and with all the superseded ones too, each with its
// targets, by horizon then plan ID. A history recorded before plans
// existed (schema version 1 or 2) has none.
func Plans(ctx context.Context, root string, all bool) ([]Plan, error) {
	if err := checkPlanRoot(root); err != nil {
		return nil, err
	}
	var plans []Plan
	err := readHistory(ctx, root, func(conn *sql.Conn, v int) error {
		if v < 3 {
			return nil
		}
		where := "WHERE superseded_by IS NULL"
		if all {
			where = ""
		}
		var err error
		if plans, err = queryPlans(ctx, conn, where); err != nil {
			return err
		}
		for i := range plans {
			if err := readPlanTargets(ctx, conn, &plans[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return plans, err
}

// ShowPlan returns one plan of record of the output root's history, with
// its targets; a *PlanError when the history has no such plan.
func ShowPlan(ctx context.Context, root string, id int) (*Plan, error) {
	if err := checkPlanRoot(root); err != nil {
		return nil, err
	}
	var plan *Plan
	err := readHistory(ctx, root, func(conn *sql.Conn, v int) error {
		if v < 3 {
			return nil
		}
		plans, err := queryPlans(ctx, conn, "WHERE plan_id = $1", id)
		if err != nil || len(plans) == 0 {
			return err
		}
		plan = &plans[0]
		return readPlanTargets(ctx, conn, plan)
	})
	if err != nil {
		return nil, err
	}
	if plan == nil {
		return nil, &PlanError{Root: root, Problem: fmt.Sprintf("expected a plan the run history lists, found no plan %d (crmseg plan show --all lists them)", id)}
	}
	return plan, nil
}

// queryPlans reads the plans rows where selects (a WHERE clause, or
// nothing), by horizon then plan ID, without their targets.
func queryPlans(ctx context.Context, q querier, where string, args ...any) ([]Plan, error) {
	var plans []Plan
	err := queryEach(ctx, q, `SELECT plan_id, run_id, directory, strftime(as_of, '%Y-%m-%d'), strftime(horizon_start, '%Y-%m-%d'),
		strftime(horizon_end, '%Y-%m-%d'), committed_by, strftime(committed_at, '%Y-%m-%dT%H:%M:%SZ'), note, superseded_by,
		coalesce(strftime(superseded_at, '%Y-%m-%dT%H:%M:%SZ'), '')
		FROM `+sqlquote.Ident(historyAlias)+".plans "+where+" ORDER BY horizon_start, plan_id", func(rows *sql.Rows) error {
		var p Plan
		err := rows.Scan(&p.ID, &p.RunID, &p.Directory, &p.AsOf, &p.HorizonStart, &p.HorizonEnd, &p.CommittedBy, &p.CommittedAt,
			&p.Note, optional(&p.SupersededBy), &p.SupersededAt)
		p.Status = "active"
		if p.SupersededBy != nil {
			p.Status = "superseded"
		}
		plans = append(plans, p)
		return err
	}, args...)
	return plans, err
}

// readPlanTargets reads the targets of p.
func readPlanTargets(ctx context.Context, q querier, p *Plan) error {
	p.Targets = nil
	return queryEach(ctx, q, `SELECT segment_id, coalesce(segment_name, ''), coalesce(objective, ''), metric, coalesce(unit, ''),
		baseline, low, high, target, uplift, coalesce(method, '')
		FROM `+sqlquote.Ident(historyAlias)+".plan_targets WHERE plan_id = $1 ORDER BY segment_id, metric", func(rows *sql.Rows) error {
		var t PlanTarget
		err := rows.Scan(&t.SegmentID, &t.SegmentName, &t.Objective, &t.Metric, &t.Unit, optional(&t.Baseline), optional(&t.Low),
			optional(&t.High), optional(&t.Target), optional(&t.Uplift), &t.Method)
		p.Targets = append(p.Targets, t)
		return err
	}, p.ID)
}

// planRunIDs returns the runs the active plans of the output root's
// history stand on: pruning keeps their directories. None when there is no
// history file or it has no plans yet; an error when it cannot be read.
func planRunIDs(ctx context.Context, root string) (map[string]bool, error) {
	if _, err := os.Stat(filepath.Join(root, HistoryFile)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	ids := map[string]bool{}
	err := readHistory(ctx, root, func(conn *sql.Conn, v int) error {
		if v < 3 {
			return nil
		}
		plans, err := queryPlans(ctx, conn, "WHERE superseded_by IS NULL")
		for _, p := range plans {
			ids[p.RunID] = true
		}
		return err
	})
	return ids, err
}
