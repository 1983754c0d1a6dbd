package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// A history of schema version 5 (before experiments) is read as it is, its
// runs runs and no promotions; recording a promotion migrates it to version
// 6, its runs kept. An experiment recorded there is listed as one and is
// never the published run a new run continues from.
func TestHistoryMigratesToExperiments(t *testing.T) {
	if HistorySchemaVersion != experimentSchemaVersion || len(historyMigrations) != HistorySchemaVersion {
		t.Fatalf("schema version %d with %d migrations; this test migrates version 5 to %d", HistorySchemaVersion, len(historyMigrations), experimentSchemaVersion)
	}
	ctx := context.Background()
	root := t.TempDir()
	const old = "20260701T020000Z-aaaaaa"
	writeHistoryVersion(t, root, old, 5)

	runs, err := List(ctx, root)
	if err != nil || len(runs) != 1 || runs[0].Kind != "run" || runs[0].ExperimentName != "" {
		t.Fatalf("runs of a version 5 history: %+v, %v", runs, err)
	}
	if ps, err := Promotions(ctx, root); err != nil || len(ps) != 0 {
		t.Errorf("promotions of a version 5 history: %+v, %v", ps, err)
	}
	if v := historyValue(t, root, "SELECT value FROM run_history.meta WHERE key = 'schema_version'"); v != "5" {
		t.Fatalf("reading migrated the history to version %s", v)
	}

	at := time.Date(2026, 7, 2, 9, 30, 0, 0, time.UTC)
	p := Promotion{ExperimentName: "k4", ExperimentRunID: "20260702T090000Z-bbbbbb", BaseRunID: old, ConfigPath: "/etc/crmseg.yaml",
		PreviousConfig: "/etc/crmseg.yaml.prev-20260702T093000Z", Diff: "-  k: 3\n+  k: 4\n", Version: "v9"}
	if err := RecordPromotion(ctx, root, p, at); err != nil {
		t.Fatal(err)
	}
	if v := historyValue(t, root, "SELECT value FROM run_history.meta WHERE key = 'schema_version'"); v != "6" {
		t.Errorf("schema version after recording a promotion: %s, want 6", v)
	}
	ps, err := Promotions(ctx, root)
	p.PromotedAt = "2026-07-02T09:30:00Z"
	if err != nil || len(ps) != 1 || ps[0] != p {
		t.Errorf("promotions read back: %+v, %v; want %+v", ps, err, p)
	}

	// A failed experiment, recorded as one; a succeeded one with its
	// directory, started after the run: still the run is the one to
	// continue from.
	m := &manifest.Manifest{RunID: "20260702T090000Z-bbbbbb", Experiment: &manifest.Experiment{Name: "k4", BaseRunID: old}}
	started := time.Date(2026, 7, 2, 9, 0, 0, 0, time.UTC)
	if _, err := RecordRun(ctx, nil, root, Record{Manifest: m, Started: started, Finished: started, Err: errors.New("boom"), ExitCode: 1}); err != nil {
		t.Fatal(err)
	}
	err = withScratchConn(ctx, func(conn *sql.Conn) error {
		for _, q := range []string{
			"ATTACH " + sqlquote.Literal(filepath.Join(root, HistoryFile)) + " AS run_history",
			`INSERT INTO run_history.runs (run_id, status, exit_code, started_at, finished_at, seconds, directory, manifest, kind, experiment_name, base_run_id)
				VALUES ('20260702T100000Z-cccccc', 'succeeded', 0, '2026-07-02 10:00:00', '2026-07-02 10:01:00', 60, 'experiments/k5', '{}', 'experiment', 'k5', '` + old + `')`,
			"DETACH run_history",
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runs, err = List(ctx, root)
	if err != nil || len(runs) != 3 {
		t.Fatalf("runs after the migration: %+v, %v", runs, err)
	}
	var kinds []string
	for _, r := range runs {
		kinds = append(kinds, fmt.Sprintf("%s:%s:%s:%s:%s", r.RunID, r.Kind, r.ExperimentName, r.BaseRunID, r.Directory))
	}
	want := []string{old + ":run:::runs/" + old, "20260702T090000Z-bbbbbb:experiment:k4:" + old + ":", "20260702T100000Z-cccccc:experiment:k5:" + old + ":experiments/k5"}
	if !slices.Equal(kinds, want) {
		t.Errorf("runs listed as\n%q\nwant\n%q", kinds, want)
	}
	dirs, _, _, err := historyPublished(ctx, root)
	if err != nil || !slices.Equal(dirs, []string{"runs/" + old}) {
		t.Errorf("published runs to continue from: %v, %v; want only the run", dirs, err)
	}
	var pe *PlanError
	if _, _, err := CommitPlan(ctx, root, PlanCommit{RunID: "20260702T100000Z-cccccc", By: "alice", Note: "k5", Now: at}); !errors.As(err, &pe) ||
		!strings.Contains(err.Error(), "an experiment") {
		t.Errorf("a plan committed from an experiment: %v, want a *PlanError saying it is an experiment", err)
	}
}

// Resolve maps latest, a run ID and an experiment's name to directories,
// and refuses what the root does not have; experiment names are checked.
func TestResolveAndNames(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"", "../up", ".hidden", "a/b", "latest", "20260701T020000Z-aaaaaa", string(make([]byte, 65))} {
		var xe *ExperimentError
		if err := CheckExperimentName(root, name); !errors.As(err, &xe) {
			t.Errorf("name %q: %v, want an *ExperimentError", name, err)
		}
	}
	for _, name := range []string{"k4", "rfm.k5_v2", "A-1"} {
		if err := CheckExperimentName(root, name); err != nil {
			t.Errorf("name %q refused: %v", name, err)
		}
	}
	for _, ref := range []string{"latest", "20260701T020000Z-aaaaaa", "k4"} {
		var nf *RunRefError
		if _, err := ResolveRun(root, ref); !errors.As(err, &nf) {
			t.Errorf("ResolveRun(%q) in an empty root: %v, want a *RunRefError", ref, err)
		}
	}
}
