//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A plan commit takes the output root's lock as a run does: while a run
// holds it, the commit is refused with a *LockedError naming the run, and
// writes nothing; once the run is done, it goes through.
func TestPlanCommitWaitsForNoRun(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	const id = "20260701T020000Z-aaaaaa"
	recordPlanRun(t, root, id, "2026-06-30", "110")
	held, _, err := Acquire(root, LockHolder{PID: 1, Host: "batch-1", RunID: "20260702T020000Z-bbbbbb", Command: "run"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = CommitPlan(ctx, root, PlanCommit{RunID: id, By: "alice", Note: "why", Now: time.Now()})
	var le *LockedError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.RunID != "20260702T020000Z-bbbbbb" {
		t.Fatalf("commit while a run holds the output root: %v, want a LockedError naming the run", err)
	}
	if plans, err := Plans(ctx, root, true); err != nil || len(plans) != 0 {
		t.Errorf("plans after a refused commit: %v, %v; want none", plans, err)
	}
	held.Release()
	if _, _, err := CommitPlan(ctx, root, PlanCommit{RunID: id, By: "alice", Note: "why", Now: time.Now()}); err != nil {
		t.Errorf("commit once the run is done: %v", err)
	}
}
