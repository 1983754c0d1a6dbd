package store

import (
	"errors"
	"fmt"
)

// LockedError is returned when another run holds the output root's lock.
// The run stopped before writing anything.
type LockedError struct {
	Root   string      // the output root
	Path   string      // its lock file
	Holder *LockHolder // nil when the holder has not written who it is
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("output root %s is in use by another run (%s; lock file %s): try again when it has finished", e.Root, e.Who(), e.Path)
}

// Who says who holds the lock, as far as the holder wrote it.
func (e *LockedError) Who() string {
	if e.Holder == nil {
		return "a process that has not said who it is"
	}
	return e.Holder.String()
}

// OutputRootError is an output root in a state no run can go on from
// (latest is not a link; latest and the runs the run history lists as
// published are gone or unreadable): the run stops before its work, and
// someone must fix the root as Fix says.
type OutputRootError struct {
	Root    string
	Problem string // what is wrong
	Fix     string // how to fix it
}

func (e *OutputRootError) Error() string {
	return fmt.Sprintf("output root %s: %s: %s", e.Root, e.Problem, e.Fix)
}

// HistoryError is a run history file that cannot be opened, read or
// written. A run that is published but not recorded carries it in
// Result.HistoryErr.
type HistoryError struct {
	Path string // the history file
	Op   string // what was being done: open, record, read
	// Published says the run itself succeeded: latest points at it and
	// only its history record is missing.
	Published bool
	Err       error
}

func (e *HistoryError) Error() string {
	msg := fmt.Sprintf("run history %s: cannot %s: %v", e.Path, e.Op, e.Err)
	if e.Published {
		msg += " (the run itself was published; only its history record is missing)"
	}
	return msg
}

func (e *HistoryError) Unwrap() error { return e.Err }

// ErrRunNotInHistory is returned by Root.Show for a run ID the history
// does not have.
var ErrRunNotInHistory = errors.New("no such run in the run history")

// PlanError is a plan of record that cannot be committed or shown as asked:
// an output root without a run history, a run the history does not have or
// that has no targets, a run whose directory is gone, a plan that would
// change nothing, a plan ID the history does not have. Problem says what
// was expected and what was found; nothing was written.
type PlanError struct {
	Root    string // the output root
	Problem string
}

func (e *PlanError) Error() string {
	return fmt.Sprintf("output root %s: %s", e.Root, e.Problem)
}

// ExperimentError is an experiment that cannot be run, shown or promoted
// as asked: a name that is not safe as a directory name, a name in use, a
// variant that names other inputs than its base run's, a configuration the
// settings cannot be written into. Problem says what was expected and what
// was found; nothing was written.
type ExperimentError struct {
	Root    string // the output root
	Name    string // the experiment's name, when it has one
	Problem string
}

func (e *ExperimentError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("output root %s: %s", e.Root, e.Problem)
	}
	return fmt.Sprintf("output root %s: experiment %q: %s", e.Root, e.Name, e.Problem)
}

// ManifestError is a manifest.json that is not a run's manifest: Err says
// why it does not decode.
type ManifestError struct {
	Path string
	Err  error
}

func (e *ManifestError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *ManifestError) Unwrap() error { return e.Err }

// RunRefError is a reference to a run (a run ID, an experiment name,
// latest or a run directory) that leads to no run the command can read:
// Problem says what was looked for and what was found.
type RunRefError struct {
	Ref     string
	Problem string
}

func (e *RunRefError) Error() string {
	return fmt.Sprintf("run %q: %s", e.Ref, e.Problem)
}
