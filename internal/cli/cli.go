// Package cli holds what crmseg's commands (crmseg, and the benchmarks'
// crmseg-bench) share in reading a command line: flag sets that report
// instead of exiting, and the error of a mistaken command line.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// UsageError is a mistake in the command line: the command exits 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// NewFlagSet returns the flag set of program's command name, writing its
// help and errors to stderr and returning errors rather than exiting.
func NewFlagSet(program, name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(program+" "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// Parse parses args, turning flag errors and arguments that are not flags
// into a *UsageError; -h gives flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return &UsageError{Msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// Examples adds examples of the command to fs's help (-h), after what it
// prints already (the usage and the flags): one "Example:" line heading the
// command lines, each indented by two spaces, so that every command's help
// ends with a command line to copy.
func Examples(fs *flag.FlagSet, examples ...string) {
	usage := fs.Usage
	fs.Usage = func() {
		if usage != nil {
			usage()
		} else {
			fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		fmt.Fprint(fs.Output(), "\nExample:\n")
		for _, e := range examples {
			fmt.Fprintf(fs.Output(), "  %s\n", e)
		}
	}
}
