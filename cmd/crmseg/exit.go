package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/crmseg/crmseg/datasets/featuretable"
	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/scenario"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/cli"
)

// Exit codes of the crmseg command. They are part of the contract with
// schedulers and are documented in docs/operations.md; the engine records
// them in the run history and the metrics file as exitCode gives them
// (engine.Options.ExitCode).
const (
	exitOK       = 0 // success
	exitFailure  = 1 // anything else: I/O, DuckDB, internal
	exitUsage    = 2 // bad flags or configuration, an output root no run can go on from, a plan the output root cannot commit or show, a scenario it cannot compute, an experiment it cannot run or promote, or a run or experiment it does not have
	exitRejected = 3 // the input data was rejected
	// exitHistory: the run was published (latest points at it, its tables
	// are good), or the scenario written, but it could not be recorded in
	// the run history.
	exitHistory = 4
	// exitLocked: another run holds the output root (sysexits'
	// EX_TEMPFAIL, "try again later"); this run did nothing.
	exitLocked = 75
)

// exitCode maps the error a command returns to the code crmseg exits with.
func exitCode(err error) int {
	var (
		ue *cli.UsageError
		le *store.LockedError
		he *store.HistoryError
		ce *config.ConfigError
		oe *store.OutputRootError
		pe *store.PlanError
		rr *store.RunRefError
		se *scenario.Error
		xe *store.ExperimentError
		sn *engine.ScenarioNotRecordedError
		ie *engine.InputError
		fe *featuretable.InputError
		re *engine.RejectedError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &le):
		return exitLocked
	case errors.As(err, &he) && he.Published, errors.As(err, &sn):
		return exitHistory
	case errors.As(err, &ce), errors.As(err, &oe), errors.As(err, &pe), errors.As(err, &se), errors.As(err, &xe), errors.As(err, &rr):
		return exitUsage
	case errors.As(err, &ie), errors.As(err, &fe), errors.As(err, &re):
		return exitRejected
	}
	return exitFailure
}

// exit reports the error a command returned, if any, on stderr and returns
// the code crmseg exits with. It is the one place a command's error is
// printed or logged.
//
// The error of a run (an *engine.RunError) is logged as a record of the
// run, with its run ID: "run failed", "output root locked", or "run
// published but not recorded in the run history". With --log-format json,
// any other error once the flags are read is logged as "command failed";
// every line on stderr is then a JSON record, and the error is not printed
// as text (a mistake in the flags themselves is printed as text, with the
// usage, as the flag package prints its own). Otherwise the error is printed as a line
// of its own, "crmseg: ...", after the record if there is one, and a usage
// error is followed by where command's help is (the commands' usage when
// there is no command, "").
func exit(stderr io.Writer, lf *logFlags, err error, command string) int {
	code := exitCode(err)
	if code == exitOK {
		return code
	}
	var re *engine.RunError
	var ue *cli.UsageError
	if lf.log == nil && lf.format == "json" && !errors.As(err, &ue) {
		// The flags were read, but the command failed before it set up
		// its logger (a configuration file that is missing or not YAML):
		// the record is JSON all the same.
		lf.logger(stderr) // on a bad --log-level, none: the error is printed
	}
	switch {
	case lf.log == nil:
		// No logger yet: the flags were being read.
	case errors.As(err, &re):
		logRunError(lf.log, re, code)
	case lf.format == "json":
		lf.log.Error("command failed", "error", err, "exit_code", code)
	}
	switch {
	case lf.log != nil && lf.format == "json":
		// Logged: every line on stderr is a JSON record.
	case errors.As(err, &ue) && command != "":
		fmt.Fprintf(stderr, "crmseg: %v\nRun 'crmseg %s -h' for its flags and examples.\n", err, command)
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "crmseg: %v\n\n%s", err, usage)
	default:
		fmt.Fprintf(stderr, "crmseg: %v\n", err)
	}
	return code
}

// logRunError logs the error of a run, with the run's ID when it had one.
func logRunError(log *slog.Logger, re *engine.RunError, code int) {
	if re.RunID != "" {
		log = log.With("run_id", re.RunID)
	}
	var le *store.LockedError
	var he *store.HistoryError
	switch {
	case errors.As(re.Err, &le):
		log.Error("output root locked", "error", re.Err, "exit_code", code)
	case errors.As(re.Err, &he) && he.Published:
		log.Error("run published but not recorded in the run history", "path", he.Path, "error", he.Err)
	default:
		log.Error("run failed", "error", re.Err, "exit_code", code)
	}
}
