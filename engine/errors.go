package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/store"
)

// Exit codes of the crmseg command. They are part of the contract with
// schedulers and are documented in docs/operations.md.
const (
	ExitOK       = 0 // success
	ExitFailure  = 1 // anything else: I/O, DuckDB, internal
	ExitUsage    = 2 // bad flags or configuration, or an output root no run can go on from
	ExitRejected = 3 // the input data was rejected
	// ExitHistory: the run was published (latest points at it, its tables
	// are good) but it could not be recorded in the run history.
	ExitHistory = 4
	// ExitLocked: another run holds the output root (sysexits' EX_TEMPFAIL,
	// "try again later"); this run did nothing.
	ExitLocked = 75
)

// InputError is an input that cannot be used at all: a missing or unreadable
// file, a missing required column, a column of a type that cannot be
// converted. It stops the run before anything is written.
type InputError struct {
	File     string // the file, as configured
	Table    string // logical table: customers, transactions, products
	Column   string // logical column, when the problem is a column
	Source   string // the column's name in the file, when it differs
	Expected string
	Found    string
	Err      error // underlying cause, if any
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Table != "" {
		fmt.Fprintf(&b, " (%s)", e.Table)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, ": column %q", e.Column)
		if e.Source != "" && e.Source != e.Column {
			fmt.Fprintf(&b, " (mapped from %q)", e.Source)
		}
	}
	if e.Expected != "" {
		fmt.Fprintf(&b, ": expected %s", e.Expected)
	}
	if e.Found != "" {
		fmt.Fprintf(&b, ", found %s", e.Found)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *InputError) Unwrap() error { return e.Err }

// RejectedError is returned when too many rows were rejected, or none is left.
type RejectedError struct {
	Rejected, Read int64
	MaxShare       float64
	Reasons        map[string]int64
	Msg            string
}

func (e *RejectedError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("%d of %d transaction rows rejected (%.2f%%), more than the allowed %.2f%%: crmseg validate lists them by reason",
		e.Rejected, e.Read, 100*float64(e.Rejected)/float64(max(e.Read, 1)), 100*e.MaxShare)
}

// ExitCode maps an error returned by this package to the command's exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ce *config.ConfigError
	var ie *InputError
	var re *RejectedError
	var le *store.LockedError
	var he *store.HistoryError
	var oe *store.OutputRootError
	switch {
	case errors.As(err, &le):
		return ExitLocked
	case errors.As(err, &he) && he.Published:
		return ExitHistory
	case errors.As(err, &ce), errors.As(err, &oe):
		return ExitUsage
	case errors.As(err, &ie), errors.As(err, &re):
		return ExitRejected
	}
	return ExitFailure
}

// stageError wraps a failure with the stage it happened in.
func stageError(stage string, err error) error {
	if err == nil {
		return nil
	}
	var de *duckdb.Error
	if errors.As(err, &de) && de.Type == duckdb.ErrorTypeOutOfMemory {
		return &memoryError{stage: stage, err: de}
	}
	return fmt.Errorf("%s: %w", stage, err)
}

// memoryError is DuckDB running out of the memory memory_limit allows. Its
// message gives DuckDB's reason without DuckDB's own advice, which names
// SQL settings (SET threads, SET memory_limit) a crmseg user cannot issue,
// and says what to change in the configuration instead: memory_limit and
// threads are its keys (threads has the flag --threads too).
type memoryError struct {
	stage string
	err   *duckdb.Error
}

func (e *memoryError) Error() string {
	reason, _, _ := strings.Cut(e.err.Msg, "\n\nPossible solutions:")
	return fmt.Sprintf("%s: %s: DuckDB ran out of the memory memory_limit allows: raise memory_limit in the configuration "+
		"(the default is a sixth of the machine's memory), or lower threads (each thread holds its own working memory); "+
		"DuckDB already spills what it can to the run's temporary directory (under the output root; for validate, under "+
		"$TMPDIR or /tmp), which needs free disk space",
		e.stage, strings.TrimSpace(reason))
}

func (e *memoryError) Unwrap() error { return e.err }
