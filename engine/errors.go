package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/store"
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

// RunError is the error Run returns: the run's failure, with the run's ID
// once it has one (a configuration refused before the run started gives
// none). Run does not log the errors it returns: the caller reports them,
// with the ID, once.
type RunError struct {
	RunID string
	Err   error
}

func (e *RunError) Error() string { return e.Err.Error() }
func (e *RunError) Unwrap() error { return e.Err }

// runStatus names a run's outcome, by its error, as the metrics file's
// status label gives it: success, config_error (the configuration, or an
// output root no run can go on from), rejected (the input data) or
// failure (anything else).
func runStatus(err error) string {
	var ce *config.ConfigError
	var oe *store.OutputRootError
	var ie *InputError
	var re *RejectedError
	switch {
	case err == nil:
		return "success"
	case errors.As(err, &ce), errors.As(err, &oe):
		return "config_error"
	case errors.As(err, &ie), errors.As(err, &re):
		return "rejected"
	}
	return "failure"
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
	return fmt.Sprintf("%s: %s: DuckDB ran out of the memory memory_limit allows: raise memory_limit in the configuration "+
		"(the default is a sixth of the machine's memory), or lower threads (each thread holds its own working memory); "+
		"DuckDB already spills what it can to the run's temporary directory (under the output root; for validate, under "+
		"$TMPDIR or /tmp), which needs free disk space",
		e.stage, withoutAdvice(e.err.Msg))
}

func (e *memoryError) Unwrap() error { return e.err }

// duckdbReason is an error holding a DuckDB error, as a crmseg user reads
// it: DuckDB's message without the advice it appends, which names SQL
// settings and reader options (SET threads, encoding=, ignore_errors=) no
// crmseg key sets, nor the reader's option list that follows.
type duckdbReason struct {
	err error
	de  *duckdb.Error // within err
}

func (e *duckdbReason) Error() string {
	return strings.Replace(e.err.Error(), e.de.Msg, withoutAdvice(e.de.Msg), 1)
}

func (e *duckdbReason) Unwrap() error { return e.err }

// readerMessage is err's message as the reader of a file names it: a
// DuckDB error's message without its advice nor the SQL it points into
// (LINE 1: ...), which shows views of crmseg's own making.
func readerMessage(err error) string {
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return err.Error()
	}
	msg, _, _ := strings.Cut(withoutAdvice(de.Msg), "\nLINE ")
	return strings.TrimSpace(msg)
}

// withoutAdvice cuts DuckDB's advice, and what follows it, from msg.
func withoutAdvice(msg string) string {
	for _, advice := range []string{"\n\nPossible solutions:", "\n\nPossible Solution:"} {
		msg, _, _ = strings.Cut(msg, advice)
	}
	return strings.TrimSpace(msg)
}

// ScenarioNotRecordedError is a scenario written under its run's directory
// (Dir, whole) that could not be recorded in the run history: Err is the
// *store.HistoryError.
type ScenarioNotRecordedError struct {
	Dir string
	Err error
}

func (e *ScenarioNotRecordedError) Error() string {
	return fmt.Sprintf("scenario written to %s but not recorded in the run history: %v", e.Dir, e.Err)
}

func (e *ScenarioNotRecordedError) Unwrap() error { return e.Err }

// ReportError is a report that cannot be made from a run directory: what
// is missing or wrong there.
type ReportError struct {
	Dir     string
	Problem string
}

func (e *ReportError) Error() string { return "report of " + e.Dir + ": " + e.Problem }
