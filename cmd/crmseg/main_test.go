package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/crmseg/crmseg/datasets/featuretable"
	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/cli"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "Commands:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run"}, "run needs --config or --transactions\nRun 'crmseg run -h' for its flags and examples."},
		{[]string{"compare", "a"}, "compare takes two runs (run IDs, experiment names, latest or run directories), found 1\nRun 'crmseg compare -h'"},
		{[]string{"run", "--transactions", "x.parquet", "--k", "many"}, `invalid value "many" for flag -k`},
		{[]string{"run", "--transactions", "x.parquet", "--log-format", "xml"}, "--log-format: expected text or json"},
		{[]string{"generate", "--customers", "10"}, "generate needs --out"},
		{[]string{"run", "--transactions", "x.parquet", "--k", "0", "--out", "o"}, "segmentation.k: expected 1 to 100, found 0"},
		{[]string{"generate", "--blobs", "--out", "o"}, "generate --blobs moved to the benchmarks' tool: make build-bench, then bin/crmseg-bench blobs"},
		{[]string{"train", "--transactions", "x.parquet", "--model-out", filepath.Join("no-such-dir", "m.json")},
			"--model-out: expected a file in an existing directory, found no-such-dir/m.json, whose directory no-such-dir does not exist"},
	}
	for _, c := range cases {
		code, _, stderr := run(t, c.args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", c.args, code, exitUsage)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("%v: stderr %q does not contain %q", c.args, stderr, c.want)
		}
	}
}

func TestBadInputExitCode(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	noCustomer := filepath.Join(dir, "no_customer.parquet")
	if _, err := db.Exec("COPY (SELECT TIMESTAMP '2025-01-01' AS ts, 10.0 AS amount) TO '" + noCustomer + "' (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		file string
		want []string
	}{
		{filepath.Join(dir, "missing.parquet"), []string{"missing.parquet", "no such file"}},
		{noCustomer, []string{"no_customer.parquet", `column "customer_id"`, "required column"}},
	}
	for _, c := range cases {
		out := filepath.Join(dir, "out")
		code, _, stderr := run(t, "run", "--transactions", c.file, "--out", out)
		if code != exitRejected {
			t.Errorf("%s: exit %d, want %d; stderr %s", c.file, code, exitRejected, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q does not mention %q", c.file, stderr, w)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: output root written on bad input", c.file)
		}
	}
}

// TestDemo runs the demo end to end on a small dataset, with JSON logs.
func TestDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	code, stdout, stderr := run(t, "demo", "--out", out, "--customers", "1500", "--k", "4", "--log-format", "json")
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, stderr)
	}
	for _, w := range []string{"generated 1500 customers", "segment", "objective", "baseline rev", "outputs: " + out} {
		if !strings.Contains(stdout, w) {
			t.Errorf("demo output lacks %q:\n%s", w, stdout)
		}
	}
	if got := strings.Count(stdout, "\n"); got < 4+5 {
		t.Errorf("demo printed %d lines, want a header and 4 segments:\n%s", got, stdout)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"run_id"`) {
			t.Errorf("log line is not JSON with a run_id: %s", line)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "out", "latest", "customer_segments.csv")); err != nil {
		t.Errorf("demo outputs: %v", err)
	}
}

func TestValidateExitCodes(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx := filepath.Join(dir, "tx.csv")
	if err := os.WriteFile(tx, []byte("customer_id,ts,amount\nC1,2025-01-01,10\nC2,2025-01-02,12.5\n,2025-01-03,4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "validate", "--transactions", tx)
	if code != exitRejected {
		t.Errorf("1 of 3 rows rejected with 5%% allowed: exit %d, want %d; %s", code, exitRejected, stderr)
	}
	for _, w := range []string{"3 read, 2 accepted, 1 rejected", "missing customer_id", "customers: 2"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("summary lacks %q:\n%s", w, stdout)
		}
	}
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("inputs:\n  transactions: tx.csv\nrejects:\n  max_share: 0.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "validate", "--config", cfg); code != 0 {
		t.Errorf("validate within the limit: exit %d: %s", code, stderr)
	}
}

// A memory_limit DuckDB cannot use, or an integer key given a fraction,
// is a configuration error: exit 2 before the inputs are looked at (the
// transactions file here does not exist), naming the key and the value.
func TestConfigValuesRefusedEarly(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ yaml, want string }{
		{"memory_limit: lots", `memory_limit: expected a size from 64MB up, such as 4GB, 512MB or 2GiB, found "lots"`},
		{"memory_limit: 0", `found "0"`},
		{"memory_limit: 1PB", `found "1PB"`},
		{"memory_limit: -1GB", `found "-1GB"`},
		{"memory_limit: 0GB", `found "0GB"`},
		{"segmentation: {n_init: 1.5}", "segmentation.n_init: expected a whole number, found 1.5"},
		{"segmentation: {sample_size: 1.5}", "segmentation.sample_size: expected a whole number, found 1.5"},
	} {
		config := filepath.Join(dir, "crmseg.yaml")
		doc := "inputs:\n  transactions: missing.parquet\noutput: " + filepath.Join(dir, "out") + "\n" + c.yaml + "\n"
		if err := os.WriteFile(config, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := run(t, "run", "--config", config)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "missing.parquet") {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 saying %q before reading the inputs", c.yaml, code, stderr, c.want)
		}
	}
	// Every problem at once: an unknown key, a fraction, a value out of
	// range, in one attempt.
	config := filepath.Join(dir, "crmseg.yaml")
	doc := "inputs:\n  transactions: missing.parquet\noutput: " + filepath.Join(dir, "out") + "\nbogus: 1\nthreads: 2.5\nkeep_runs: -3\n"
	if err := os.WriteFile(config, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "run", "--config", config)
	for _, w := range []string{"bogus: unknown key, expected one of inputs,", "threads: expected a whole number, found 2.5 (line 5)",
		"keep_runs: expected 0 (keep every run) or more, found -3 (line 6)"} {
		if code != exitUsage || !strings.Contains(stderr, w) {
			t.Errorf("several problems: exit %d, stderr %q; want exit 2 saying %q", code, stderr, w)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("a refused configuration created the output root (%v)", err)
	}
}

// TestExitCodes maps each kind of error to its exit code
// (docs/operations.md), through the wrapping the engine adds.
func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flag.ErrHelp, 0},
		{errors.New("disk full"), 1},
		{&store.HistoryError{Path: "h", Op: "read", Err: errors.New("x")}, 1},
		{&cli.UsageError{Msg: "--k: bad"}, 2},
		{&config.ConfigError{Problems: []string{"k"}}, 2},
		{&engine.RunError{Err: &config.ConfigError{Problems: []string{"k"}}}, 2},
		{&engine.RunError{RunID: "r", Err: &store.OutputRootError{Root: "o"}}, 2},
		{&engine.RunError{Err: &store.ExperimentError{Root: "o", Name: "x"}}, 2},
		{&store.RunRefError{Ref: "k9", Problem: "x"}, 2},
		{&engine.RunError{RunID: "r", Err: errors.Join(&engine.InputError{File: "a"}, &engine.InputError{File: "b"})}, 3},
		{&engine.RunError{RunID: "r", Err: fmt.Errorf("ingest: %w", &engine.RejectedError{})}, 3},
		{&featuretable.InputError{Path: "f", Err: errors.New("x")}, 3},
		{&engine.RunError{RunID: "r", Err: &store.HistoryError{Path: "h", Published: true, Err: errors.New("x")}}, 4},
		{&engine.RunError{RunID: "r", Err: &store.LockedError{Root: "o"}}, 75},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("%#v: exit %d, want %d", c.err, got, c.want)
		}
	}
}

// TestKFlagReplacesChooseK: --k with a config that chooses k trains at the
// flag's k, as every flag replaces its key; without --k the file's
// choose_k stands.
func TestKFlagReplacesChooseK(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "crmseg.yaml")
	yaml := "inputs:\n  transactions: tx.parquet\noutput: out\nsegmentation:\n  choose_k:\n    min: 3\n    max: 6\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) config.Config {
		t.Helper()
		var lf logFlags
		f := newRunFlags("run", &bytes.Buffer{}, &lf, runFlagNames)
		cfg, err := f.parse(append([]string{"--config", path}, args...))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if cfg := parse(); cfg.Segmentation.ChooseK == nil {
		t.Fatalf("without --k: choose_k dropped, want the file's")
	}
	if cfg := parse("--k", "4"); cfg.Segmentation.ChooseK != nil || cfg.Segmentation.K != 4 {
		t.Errorf("--k 4: choose_k %+v, k %d; want no choose_k and k 4", cfg.Segmentation.ChooseK, cfg.Segmentation.K)
	}
}

// TestKFlagWithAssignments: --k with segmentation.assignments is a
// configuration error (exit 2), not a k silently ignored.
func TestKFlagWithAssignments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crmseg.yaml")
	yaml := "inputs:\n  transactions: tx.parquet\noutput: out\nsegmentation:\n  assignments: segments.csv\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var lf logFlags
	if _, err := newRunFlags("run", &bytes.Buffer{}, &lf, runFlagNames).parse([]string{"--config", path}); err != nil {
		t.Fatalf("without --k: %v", err)
	}
	_, err := newRunFlags("run", &bytes.Buffer{}, &lf, runFlagNames).parse([]string{"--config", path, "--k", "4"})
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "--k: segmentation.assignments fixes the segments") {
		t.Errorf("--k with assignments: %v (exit %d), want a configuration error, exit 2", err, exitCode(err))
	}
}

// TestRunPrintsKSelection: a run that chooses k prints the figures per k,
// as the demo does; a run at a fixed k prints none.
func TestRunPrintsKSelection(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, stderr := run(t, "generate", "--customers", "300", "--seed", "3", "--out", data); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	path := filepath.Join(dir, "crmseg.yaml")
	yaml := fmt.Sprintf("inputs:\n  transactions: %s\noutput: %s\nsegmentation:\n  min_size: 0.01\n  choose_k:\n    min: 2\n    max: 3\n    bootstraps: 2\n    min_size: 0.01\n",
		filepath.Join(data, "transactions.parquet"), filepath.Join(dir, "out"))
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "run", "--config", path, "--no-progress")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	rows := 0
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(strings.TrimPrefix(line, "*")); len(f) == 7 && (f[0] == "2" || f[0] == "3") {
			rows++
		}
	}
	if !strings.Contains(stdout, "choosing k (") || rows != 2 {
		t.Errorf("run with choose_k: no table of k in its output:\n%s", stdout)
	}
	code, stdout, stderr = run(t, "run", "--config", path, "--k", "2", "--no-progress")
	if code != 0 {
		t.Fatalf("run --k 2: exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "choosing k (") {
		t.Errorf("run at a fixed k printed a table of k:\n%s", stdout)
	}
}
