package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/crmseg/crmseg/datasets"
	"github.com/crmseg/crmseg/engine/config"
)

// DuckDB's out-of-memory error advises SQL settings; the run's message
// names configuration keys instead.
func TestMemoryErrorHints(t *testing.T) {
	de := &duckdb.Error{Type: duckdb.ErrorTypeOutOfMemory, Msg: "Out of Memory Error: failed to allocate data of size 2.0 KiB (0 bytes/0 bytes used)\n\nPossible solutions:\n* Reducing the number of threads (SET threads=X)\n* Increasing the memory limit (SET memory_limit='...GB')\n"}
	err := stageError("score", fmt.Errorf("building: %w", de))
	msg := err.Error()
	for _, want := range []string{"score: Out of Memory Error: failed to allocate data of size 2.0 KiB", "raise memory_limit in the configuration", "lower threads", "free disk space"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	for _, bad := range []string{"SET ", "temp_directory", "Possible solutions"} {
		if strings.Contains(msg, bad) {
			t.Errorf("message %q advises %q, which no configuration key sets", msg, bad)
		}
	}
	if !errors.Is(err, de) || cliExitCode(err) != exitFailure {
		t.Errorf("out-of-memory error does not wrap DuckDB's (%v) or exits %d", errors.Is(err, de), cliExitCode(err))
	}
}

// Running out of memory while reading an input is no fault of the file:
// the run says so with the memory advice and exit code 1, where any other
// read error names the file as bad input.
func TestInputReadOutOfMemory(t *testing.T) {
	in := &input{spec: config.InputSpec{Path: "orders.csv"}, table: datasets.Table{Name: "transactions"}, format: "csv"}
	oom := &duckdb.Error{Type: duckdb.ErrorTypeOutOfMemory, Msg: "Out of Memory Error: failed to allocate data of size 16.0 MiB"}
	err := readError(in, "a readable csv file", fmt.Errorf("reading: %w", oom))
	var ie *InputError
	if errors.As(err, &ie) || cliExitCode(err) != exitFailure || !strings.Contains(err.Error(), "raise memory_limit") {
		t.Errorf("out of memory while reading: %v (exit code %d), want the memory advice and exit code %d", err, cliExitCode(err), exitFailure)
	}
	// DuckDB's advice names reader options no configuration key sets: the
	// message keeps DuckDB's reason only.
	err = readError(in, "a readable csv file", fmt.Errorf("reading: %w", &duckdb.Error{Type: duckdb.ErrorTypeInvalidInput,
		Msg: "CSV Error on Line: 3\nThis file is not utf-8 encoded.\n\nPossible Solution: Set the correct encoding (e.g., encoding='UTF-16')\n\n  file = orders.csv\n"}))
	if msg := err.Error(); !strings.HasSuffix(msg, "reading: CSV Error on Line: 3\nThis file is not utf-8 encoded.") {
		t.Errorf("read error %q keeps DuckDB's advice or loses its reason", msg)
	}
	if !errors.As(err, &ie) || ie.File != "orders.csv" || cliExitCode(err) == exitFailure {
		t.Errorf("a bad file: %v (exit code %d), want an input error naming orders.csv", err, cliExitCode(err))
	}
}
