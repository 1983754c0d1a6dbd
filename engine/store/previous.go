package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/crmseg/crmseg/segment"
)

// Previous is the run a new run continues: its model gives the segment IDs
// and its customer_segments is what the delta compares with.
type Previous struct {
	// Dir is the run's directory; empty for a first run (or none left,
	// with reset).
	Dir string
	// Model is its model.json, its next free ID raised above IDFloor; nil
	// when the run starts its segment IDs afresh.
	Model *segment.Model
	// IDFloor is the highest segment ID the output root ever gave: every
	// new segment is numbered above it.
	IDFloor int
	// Plans are the active plans of record of the run history, with their
	// targets, read with the rest: the run's scorecard measures the one
	// whose horizon holds its as_of. PlansErr is why the history could not
	// be read (the plans are then unknown); nil without a history.
	Plans    []Plan
	PlansErr error
}

// FindPrevious finds the run a new run of the output root root continues, whose model gives the
// segment IDs and whose customer_segments the delta compares with: the run
// latest points at; when latest is missing or leads to no run with a
// readable model.json, the newest run the run history lists as published
// that is still there (or, when there is no history file, the newest run
// directory), logged. When none is left but runs were published, the run
// refuses (an *OutputRootError): numbering segments from 1 would reuse IDs
// a CRM holds, and every customer would be new in the delta. A history file
// that cannot be read while latest is unusable is refused the same way: it
// is evidence of earlier runs, and of the IDs they gave.
// reset starts the IDs afresh instead, above the highest ever given (the
// run's --reset-segments).
//
// Whichever run is continued, new segments are numbered above the highest
// ID ever given (Previous.IDFloor): a model continued from other than
// latest's own run, or latest pointed back at an older run, never gives an
// ID again.
func FindPrevious(ctx context.Context, root string, reset bool, log *slog.Logger) (p Previous, err error) {
	latest := filepath.Join(root, "latest")
	history := filepath.Join(root, HistoryFile)
	dir, m, problem := readPreviousRun(latest)
	dirs, highest, plans, herr := historyPublished(ctx, root)
	p.Plans, p.PlansErr = plans, herr
	highest = max(highest, highestModelID(root))
	if m != nil {
		highest = max(highest, m.NextID-1)
	}
	if herr != nil {
		if dir == "" {
			return p, &OutputRootError{Root: root,
				Problem: fmt.Sprintf("%s, and the run history %s exists but cannot be read (%v), so neither the run to continue from "+
					"nor the highest segment ID ever given is known (%d run directories found under runs/)",
					cmp.Or(problem, latest+" is missing"), history, herr, len(RunDirs(root))),
				Fix: fmt.Sprintf("if another process holds the history open, run again once it has closed it; if the file is damaged, "+
					"restore it from a backup, or move it aside (mv %s %s.unreadable) and run again with --reset-segments, which starts a new "+
					"history and numbers the segments afresh above the highest ID a run directory's model.json gives (%d), from 1 only when "+
					"none gives any: IDs earlier runs gave that nothing left records can then come back", history, history, highest)}
		}
		log.Warn("run history not read: the highest segment ID given so far is taken from the run directories' model.json",
			"path", history, "error", herr, "highest_id", highest)
	}
	if dir == "" {
		if _, err := os.Stat(history); errors.Is(err, os.ErrNotExist) {
			// No history (moved aside, or never written): the run
			// directories are what is known of earlier runs.
			dirs = RunDirs(root)
		}
		for _, d := range dirs {
			if dir, m, _ = readPreviousRun(filepath.Join(root, d)); dir != "" {
				log.Warn("latest lost: continuing from the newest published run that is still there: the segment IDs follow its model "+
					"and the customer delta compares with its customers", "latest", latest, "problem", cmp.Or(problem, "latest is missing"),
					"previous_run_id", filepath.Base(dir))
				break
			}
		}
	}
	p.IDFloor = highest
	if dir != "" {
		p.Dir = dir
		if reset {
			log.Warn("segment IDs start afresh, above the highest given so far (--reset-segments)", "highest_id", highest)
			return p, nil
		}
		if m.NextID <= highest {
			log.Warn("new segments are numbered above the highest segment ID ever given, not from the previous model's next free ID",
				"previous_run_id", filepath.Base(dir), "model_next_id", m.NextID, "highest_id", highest)
			m.NextID = highest + 1
		}
		p.Model = m
		return p, nil
	}
	if problem == "" && len(dirs) == 0 {
		return p, nil // a first run
	}
	if reset {
		log.Warn("no previous run left: segment IDs start afresh, above the highest given so far (--reset-segments)", "highest_id", highest)
		return p, nil
	}
	what := cmp.Or(problem, latest+" is missing")
	if _, err := os.Stat(history); errors.Is(err, os.ErrNotExist) && len(dirs) > 0 {
		what += fmt.Sprintf(", there is no run history, and none of the %d run directories has a readable model.json", len(dirs))
	} else if len(dirs) > 0 {
		what += fmt.Sprintf(", and none of the %d runs the run history lists as published is left with a readable model.json", len(dirs))
	}
	return p, &OutputRootError{Root: root,
		Problem: what + ": numbering segments afresh from 1 would reuse IDs already published, and the delta would list every customer as new",
		Fix: fmt.Sprintf("restore latest (ln -sfn runs/RUN_ID %s) or the run directory it points at, or run again with --reset-segments "+
			"to number the segments afresh above the highest ID given so far (%d)", latest, highest)}
}

// highestModelID is the highest segment ID the model.json of any run
// directory of the output root gives (its next free ID less one); 0 when
// none can be read.
func highestModelID(root string) int {
	highest := 0
	for _, d := range RunDirs(root) {
		if m, err := segment.ReadModel(filepath.Join(root, d, "model.json")); err == nil {
			highest = max(highest, m.NextID-1)
		}
	}
	return highest
}

// RunDirs lists the run directories of the output root (runs/<run_id>,
// relative to the root), newest first (runNames).
func RunDirs(root string) []string {
	entries, _ := os.ReadDir(filepath.Join(root, "runs"))
	var dirs []string
	for _, name := range runNames(entries) {
		dirs = append(dirs, filepath.Join("runs", name))
	}
	return dirs
}

// readPreviousRun resolves path (latest, or a run directory) to a run
// directory and reads its model. All empty when path does not exist;
// otherwise problem says why it is no run to continue from.
func readPreviousRun(path string) (dir string, m *segment.Model, problem string) {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return "", nil, ""
	}
	dir, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", nil, fmt.Sprintf("%s leads to no run (%v)", path, err)
	}
	if m, err = segment.ReadModel(filepath.Join(dir, "model.json")); err != nil {
		return "", nil, fmt.Sprintf("the model.json of %s, which %s leads to, cannot be read (%v)", dir, path, err)
	}
	return dir, m, ""
}
