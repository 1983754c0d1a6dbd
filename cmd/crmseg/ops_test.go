package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crmseg/crmseg/datasets/synth"
	"github.com/crmseg/crmseg/engine/store"
)

// TestMain runs the test binary as the crmseg command when the tests start
// it as a subprocess (to kill it, or to run two at once).
func TestMain(m *testing.M) {
	if os.Getenv("CRMSEG_TEST_AS_COMMAND") == "1" {
		main()
	}
	code := m.Run()
	if testData.dir != "" {
		os.RemoveAll(testData.dir)
	}
	if reportDemo.dir != "" {
		os.RemoveAll(reportDemo.dir)
	}
	os.Exit(code)
}

// testData is a small generated dataset, made once per test binary.
var testData struct {
	once sync.Once
	dir  string
	err  error
}

// smallData writes 3000 generated customers (a run takes about a second)
// and a config for them with 20 k-means restarts, so that the segment
// stage lasts long enough to be caught.
func smallData(t *testing.T) (config string) {
	t.Helper()
	testData.once.Do(func() {
		if testData.dir, testData.err = os.MkdirTemp("", "crmseg-cmd-"); testData.err != nil {
			return
		}
		_, testData.err = synth.Generate(context.Background(), synth.Config{Customers: 3000, Seed: 3}, testData.dir)
	})
	if testData.err != nil {
		t.Fatal(testData.err)
	}
	config = filepath.Join(t.TempDir(), "crmseg.yaml")
	yaml := fmt.Sprintf("inputs:\n  customers: %s\n  transactions: %s\n  products: %s\nsegmentation:\n  k: 5\n  n_init: 20\n",
		filepath.Join(testData.dir, "customers.parquet"), filepath.Join(testData.dir, "transactions.parquet"), filepath.Join(testData.dir, "products.parquet"))
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return config
}

// command is crmseg running as a subprocess with JSON logs, its log
// records arriving on lines.
type command struct {
	cmd   *exec.Cmd
	lines chan map[string]any
	raw   *bytes.Buffer // every stderr line, for failure messages
	mu    sync.Mutex
	// killOn, when set, is checked against every log record as it is
	// read: the first match kills the process with SIGKILL at once.
	killOn func(map[string]any) bool
}

func startCommand(t *testing.T, args ...string) *command {
	return startKillable(t, nil, args...)
}

func startKillable(t *testing.T, killOn func(map[string]any) bool, args ...string) *command {
	t.Helper()
	c := &command{cmd: exec.Command(os.Args[0], args...), lines: make(chan map[string]any, 1000), raw: &bytes.Buffer{}, killOn: killOn}
	c.cmd.Env = append(os.Environ(), "CRMSEG_TEST_AS_COMMAND=1")
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stdout = io.Discard
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.mu.Lock()
			c.raw.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				if c.killOn != nil && c.killOn(rec) {
					c.cmd.Process.Signal(syscall.SIGKILL)
					c.killOn = nil
				}
				c.lines <- rec
			}
		}
	}()
	return c
}

func (c *command) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw.String()
}

// waitFor returns when a log record matches, or false when the process
// ended or a minute passed without one.
func (c *command) waitFor(match func(map[string]any) bool) bool {
	timeout := time.After(time.Minute)
	for {
		select {
		case rec, ok := <-c.lines:
			if !ok {
				return false
			}
			if match(rec) {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// wait waits for the process to end (after draining its log) and returns
// its exit code, or -1 when a signal ended it.
func (c *command) wait() int {
	for range c.lines {
	}
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -2
	}
	return 0
}

func stageDone(stage string) func(map[string]any) bool {
	return func(rec map[string]any) bool { return rec["msg"] == "stage done" && rec["stage"] == stage }
}

// hashTree maps every file under dir to its SHA-256.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		m[rel] = hex.EncodeToString(h[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// leftovers lists what unfinished runs leave in an output root.
func leftovers(root string) []string {
	var out []string
	for _, pattern := range []string{".tmp-duckdb-*", ".latest-*", filepath.Join("runs", ".tmp-*")} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		out = append(out, m...)
	}
	return out
}

// TestKilledRunsKeepLatest kills a real crmseg run with SIGKILL at each
// stage, from loading to the middle of writing the tables and just before
// the switch: every time, latest still points at the earlier run and every
// file under it is byte-identical. The next run then succeeds without any
// clean-up by hand, taking over the lock the killed run could not release
// and removing what it left.
func TestKilledRunsKeepLatest(t *testing.T) {
	config := smallData(t)
	out := filepath.Join(t.TempDir(), "out")
	if code, _, stderr := run(t, "run", "--config", config, "--out", out); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	target, err := os.Readlink(filepath.Join(out, "latest"))
	if err != nil {
		t.Fatal(err)
	}
	before := hashTree(t, filepath.Join(out, target))
	if len(before) < 10 {
		t.Fatalf("latest run holds %d files", len(before))
	}

	tablesStarted := func(map[string]any) bool {
		m, _ := filepath.Glob(filepath.Join(out, "runs", ".tmp-*", "*"))
		return len(m) > 0
	}
	// Past ingest, a killed run leaves its DuckDB directory, and only its
	// own: having taken the lock, it removed the earlier runs' leftovers.
	const duckdbDir, runDir = ".tmp-duckdb-*", "runs/.tmp-*"
	points := []struct {
		name  string
		match func(map[string]any) bool
		poll  bool     // match by watching the file system rather than the log
		left  []string // what the killed run must have left, one of each
	}{
		{"during ingest", stageDone("inspect"), false, nil},
		{"during features", stageDone("ingest"), false, []string{duckdbDir}},
		{"during segment", stageDone("features"), false, []string{duckdbDir}},
		{"during score", stageDone("segment"), false, []string{duckdbDir}},
		{"during targets", stageDone("score"), false, []string{duckdbDir}},
		{"while writing the tables", tablesStarted, true, []string{duckdbDir, runDir}},
		{"after the tables, before the switch", stageDone("publish"), false, []string{duckdbDir}},
	}
	for _, p := range points {
		killed := false
		// The last points lie milliseconds before the end of a run: the
		// run may win the race with the signal now and then.
		for attempt := 0; attempt < 10 && !killed; attempt++ {
			var c *command
			if p.poll {
				c = startCommand(t, "run", "--config", config, "--out", out, "--log-format", "json")
				if !pollUntil(func() bool { return p.match(nil) }) {
					c.cmd.Process.Kill()
					c.wait()
					t.Fatalf("%s: the trigger never came; log:\n%s", p.name, c.log())
				}
				c.cmd.Process.Signal(syscall.SIGKILL)
			} else {
				c = startKillable(t, p.match, "run", "--config", config, "--out", out, "--log-format", "json")
			}
			code := c.wait()
			killed = code == -1
			if got, _ := os.Readlink(filepath.Join(out, "latest")); killed && got != target {
				// The signal landed after the switch to the new run (while
				// the run recorded its history or closed its database): it
				// came too late for this point, and the run it cut short had
				// published whole, so its manifest must be there.
				if _, err := os.Stat(filepath.Join(out, got, "manifest.json")); err != nil {
					t.Fatalf("%s: killed after latest moved to %s, which has no manifest: %v", p.name, got, err)
				}
				t.Logf("%s: the signal landed after the switch to %s; trying again", p.name, got)
				killed = false
				target, before = got, hashTree(t, filepath.Join(out, got))
				continue
			}
			if !killed {
				// The run finished before the signal landed: it published,
				// so the new latest is the baseline for the next attempt.
				t.Logf("%s: the run ended (exit %d) before it was killed; trying again", p.name, code)
				target, _ = os.Readlink(filepath.Join(out, "latest"))
				before = hashTree(t, filepath.Join(out, target))
			}
		}
		if !killed {
			t.Fatalf("%s: never caught the run before it ended", p.name)
		}
		if got, _ := os.Readlink(filepath.Join(out, "latest")); got != target {
			t.Errorf("killed %s: latest -> %s, want %s", p.name, got, target)
		}
		if after := hashTree(t, filepath.Join(out, target)); !maps.Equal(before, after) {
			t.Errorf("killed %s: files under latest changed:\nbefore %v\nafter  %v", p.name, before, after)
		}
		for _, pattern := range p.left {
			if m, _ := filepath.Glob(filepath.Join(out, pattern)); len(m) != 1 {
				t.Errorf("killed %s: %s matches %v, want the killed run's only", p.name, pattern, m)
			}
		}
	}
	if len(leftovers(out)) == 0 {
		t.Errorf("the killed runs left nothing behind: were they killed mid-run?")
	}

	c := startCommand(t, "run", "--config", config, "--out", out, "--log-format", "json")
	takeover := false
	for rec := range c.lines {
		if strings.Contains(fmt.Sprint(rec["msg"]), "taken over") {
			takeover = true
		}
	}
	if code := c.wait(); code != 0 {
		t.Fatalf("run after the kills: exit %d:\n%s", code, c.log())
	}
	if !takeover {
		t.Errorf("the run after a kill did not report taking over the lock:\n%s", c.log())
	}
	if got, _ := os.Readlink(filepath.Join(out, "latest")); got == target {
		t.Errorf("latest did not move after a good run")
	}
	if l := leftovers(out); len(l) > 0 {
		t.Errorf("leftovers of killed runs remain after a good run: %v", l)
	}
}

// pollUntil polls cond every millisecond for up to a minute.
func pollUntil(cond func() bool) bool {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// TestConcurrentRuns starts a run and, while it works, a second one on the
// same output root: the second exits at once with code 75 and names the
// first; the first finishes normally.
func TestConcurrentRuns(t *testing.T) {
	config := smallData(t)
	root := t.TempDir()
	out := filepath.Join(root, "out")
	metrics := filepath.Join(root, "crmseg.prom")
	first := startCommand(t, "run", "--config", config, "--out", out, "--log-format", "json", "--metrics-file", metrics)
	if !first.waitFor(stageDone("ingest")) {
		first.cmd.Process.Kill()
		t.Fatalf("first run did not get through ingest:\n%s", first.log())
	}
	start := time.Now()
	code, stdout, stderr := run(t, "run", "--config", config, "--out", out, "--log-format", "json", "--metrics-file", metrics)
	elapsed := time.Since(start)
	if code != exitLocked {
		t.Errorf("second run: exit %d, want %d; stderr:\n%s", code, exitLocked, stderr)
	}
	host, _ := os.Hostname()
	for _, w := range []string{"in use by another run", fmt.Sprintf("pid %d on host %s", first.cmd.Process.Pid, host), "crmseg run", "started "} {
		if !strings.Contains(stderr, w) {
			t.Errorf("second run's message does not say %q:\n%s", w, stderr)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"run_id"`) {
			t.Errorf("second run: log line is not JSON with a run_id: %s", line)
		}
	}
	if stdout != "" {
		t.Errorf("second run printed %q", stdout)
	}
	if elapsed > 5*time.Second {
		t.Errorf("second run took %v to give up, want at once", elapsed)
	}
	if code := first.wait(); code != 0 {
		t.Fatalf("first run: exit %d:\n%s", code, first.log())
	}
	runs, _ := filepath.Glob(filepath.Join(out, "runs", "*"))
	if len(runs) != 1 {
		t.Errorf("runs published: %v, want exactly one", runs)
	}
	// The metrics file is the first run's: the refused run left it alone.
	b, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "crmseg_last_run_status{status=\"success\"} 1\n") || !strings.Contains(string(b), "crmseg_runs_total{status=\"success\"} 1\n") {
		t.Errorf("metrics file after the two runs:\n%s", b)
	}
}

// TestJSONLogOnFailure checks that with --log-format json a failed run
// writes only JSON records to stderr, the failure among them with its run
// ID and exit code.
func TestJSONLogOnFailure(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := run(t, "run", "--transactions", filepath.Join(dir, "missing.parquet"), "--out", filepath.Join(dir, "out"), "--log-format", "json")
	if code != exitRejected {
		t.Fatalf("exit %d, want %d", code, exitRejected)
	}
	var failed map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["run_id"] == nil {
			t.Errorf("not a JSON record with a run_id: %s", line)
			continue
		}
		if rec["msg"] == "run failed" {
			failed = rec
		}
	}
	if failed == nil || failed["exit_code"] != float64(exitRejected) || !strings.Contains(fmt.Sprint(failed["error"]), "missing.parquet") {
		t.Errorf("failure record %v, want exit_code 3 and the file named", failed)
	}
}

// records parses stderr as JSON log records, one a line, failing the test
// on a line that is not one.
func records(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON record: %s", line)
		}
		recs = append(recs, rec)
	}
	return recs
}

// TestErrorRecords checks the one record a failed command logs (exit logs
// it, the engine returns the error): a run refused for its configuration
// logs "run failed" without a run ID, a run refused by the lock "output
// root locked" with its run ID, and another command "command failed";
// each with the error and the exit code. With text logs the record is
// followed by the error as a line of its own.
func TestErrorRecords(t *testing.T) {
	dir := t.TempDir()
	config := smallData(t)
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"invalid", []string{"--keep-runs", "-1"}, config + ": keep_runs: expected 0 (keep every run) or more, found -1"},
		{"metrics_missing", []string{"--metrics-file", filepath.Join(dir, "missing", "crmseg.prom")},
			"configuration: metrics_file: directory " + filepath.Join(dir, "missing") + " does not exist"},
	} {
		code, _, stderr := run(t, append([]string{"run", "--config", config, "--out", out, "--log-format", "json"}, c.args...)...)
		recs := records(t, stderr)
		if len(recs) != 1 || code != exitUsage {
			t.Fatalf("%s: exit %d, log:\n%s\nwant exit %d and one record", c.name, code, stderr, exitUsage)
		}
		if r := recs[0]; r["msg"] != "run failed" || r["error"] != c.want || r["exit_code"] != float64(exitUsage) || r["level"] != "ERROR" || r["run_id"] != nil {
			t.Errorf("%s: record %v, want run failed, exit_code %d, error %q and no run_id", c.name, r, exitUsage, c.want)
		}
	}
	code, _, stderr := run(t, "run", "--config", config, "--out", out, "--keep-runs", "-1")
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); code != exitUsage || len(lines) != 2 ||
		!strings.Contains(lines[0], `level=ERROR msg="run failed" error="`+config+`: keep_runs: expected 0`) || !strings.HasSuffix(lines[0], " exit_code=2") ||
		lines[1] != "crmseg: "+config+": keep_runs: expected 0 (keep every run) or more, found -1" {
		t.Errorf("text log: exit %d, stderr:\n%s\nwant the record, then the error", code, stderr)
	}

	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, _, err := store.Acquire(out, store.LockHolder{PID: 4242, Host: "batch-7", StartedAt: "2026-07-01T02:00:00Z", RunID: "20260701T020000Z-abcdef", Command: "run"})
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "run", "--config", config, "--out", out, "--log-format", "json")
	lock.Release()
	recs := records(t, stderr)
	last := recs[len(recs)-1]
	if code != exitLocked || last["msg"] != "output root locked" || last["exit_code"] != float64(exitLocked) || last["run_id"] == nil ||
		last["run_id"] != recs[0]["run_id"] || !strings.Contains(fmt.Sprint(last["error"]), "pid 4242 on host batch-7") {
		t.Errorf("run on a locked root: exit %d, log:\n%s\nwant exit 75 and an output root locked record with the run's run_id", code, stderr)
	}
	for _, r := range recs[:len(recs)-1] {
		if r["level"] == "ERROR" {
			t.Errorf("run on a locked root: error logged twice: %v", r)
		}
	}

	code, _, stderr = run(t, "validate", "--transactions", filepath.Join(dir, "missing.csv"), "--log-format", "json")
	recs = records(t, stderr)
	if r := recs[len(recs)-1]; code != exitRejected || len(recs) != 1 || r["msg"] != "command failed" || r["exit_code"] != float64(exitRejected) ||
		!strings.Contains(fmt.Sprint(r["error"]), "missing.csv") {
		t.Errorf("validate of a missing file: exit %d, log:\n%s\nwant one command failed record, exit_code 3", code, stderr)
	}
	// Failures after the flags are read are JSON records too: a missing
	// configuration file (before the logger is set up), a usage error the
	// command finds in its flags' values.
	for _, args := range [][]string{
		{"run", "--config", filepath.Join(dir, "missing.yaml"), "--log-format", "json"},
		{"generate", "--customers", "-5", "--out", filepath.Join(dir, "g"), "--log-format", "json"},
	} {
		code, _, stderr = run(t, args...)
		recs = records(t, stderr)
		if len(recs) != 1 || recs[0]["msg"] != "command failed" || recs[0]["exit_code"] != float64(code) || code == exitOK {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant one command failed record and nothing else", args, code, stderr)
		}
	}
	code, _, stderr = run(t, "cluster", "--features", filepath.Join(dir, "missing.csv"), "--id-column", "id", "--out", filepath.Join(dir, "c"), "--log-format", "json")
	recs = records(t, stderr)
	if r := recs[0]; code != exitRejected || len(recs) != 1 || r["msg"] != "command failed" || r["exit_code"] != float64(exitRejected) {
		t.Errorf("cluster of a missing file: exit %d, log:\n%s\nwant one command failed record, exit_code 3", code, stderr)
	}
}

// TestConsoleProgress draws bars on a buffer standing in for a terminal: a
// log record written while a bar is shown goes on its own line, and a
// finished bar is cleared.
func TestConsoleProgress(t *testing.T) {
	var buf bytes.Buffer
	c := &console{w: &buf}
	p := c.progress("k-means restarts", 4)
	p.Add(1)
	p.Add(1)
	fmt.Fprintf(c, "level=INFO msg=\"stage done\" stage=features\n")
	p.Add(5) // more than the total: stops at a full bar, which clears itself
	if b := p.(*consoleBar); b.done != 4 {
		t.Errorf("bar at %d of 4 after overflowing", b.done)
	}
	p.Done()
	p.Done()
	s := buf.String()
	// The bar, cleared for the log line, drawn again below it.
	for _, w := range []string{"k-means restarts", "(1/4", "(2/4) [0s:0s]\x1b[0K\x1b[2K\rlevel=INFO msg=\"stage done\" stage=features\n\rk-means restarts  50%"} {
		if !strings.Contains(s, w) {
			t.Errorf("console output lacks %q:\n%q", w, s)
		}
	}
	if !strings.HasSuffix(s, "\x1b[2K\r") {
		t.Errorf("the finished bar is not cleared: output ends %q", s[max(0, len(s)-40):])
	}
	if c.bar != nil {
		t.Errorf("console still holds a finished bar")
	}
	n := buf.Len()
	fmt.Fprintf(c, "after\n")
	if got := buf.String()[n:]; got != "after\n" {
		t.Errorf("log line after the bar: %q, want it alone", got)
	}

	// Not a terminal: no bars, whatever the flag says.
	if showProgress(&buf, false) {
		t.Errorf("bars shown on a buffer")
	}
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if showProgress(f, false) {
		t.Errorf("bars shown on a regular file (stderr under cron)")
	}
}

// An output root whose previous run is lost (latest gone, the only run's
// model.json unreadable) is refused with exit 2 and a message naming
// --reset-segments; with the flag the run goes on, numbering segments above
// every ID given before. latest that is a directory is refused too.
func TestResetSegmentsFlag(t *testing.T) {
	config := smallData(t)
	out := t.TempDir()
	if code, _, stderr := run(t, "run", "--config", config, "--out", out, "--no-progress"); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	latest := filepath.Join(out, "latest")
	dir, err := filepath.EvalSymlinks(latest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(latest); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(latest, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "run", "--config", config, "--out", out, "--no-progress")
	if code != exitUsage || !strings.Contains(stderr, latest+" is a directory, not the symbolic link") {
		t.Errorf("latest a directory: exit %d, stderr %q; want exit 2 saying so", code, stderr)
	}
	if err := os.Remove(latest); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "run", "--config", config, "--out", out, "--no-progress")
	if code != exitUsage || !strings.Contains(stderr, "--reset-segments") || !strings.Contains(stderr, latest+" is missing") {
		t.Errorf("no previous run left: exit %d, stderr %q; want exit 2 naming --reset-segments", code, stderr)
	}
	if _, err := os.Lstat(latest); !os.IsNotExist(err) {
		t.Errorf("a refused run published latest (%v)", err)
	}
	code, stdout, stderr := run(t, "run", "--config", config, "--out", out, "--no-progress", "--reset-segments")
	if code != 0 {
		t.Fatalf("run with --reset-segments: exit %d: %s", code, stderr)
	}
	// The first run numbered its 5 segments 1 to 5: the fresh ones start at 6.
	runs, err := store.List(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	d, err := store.Show(context.Background(), out, runs[len(runs)-1].RunID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Segments {
		if s.ID <= 5 {
			t.Errorf("segment ID %d given again after --reset-segments:\n%s", s.ID, stdout)
		}
	}
	if len(d.Segments) != 5 {
		t.Errorf("%d segments after --reset-segments, want 5", len(d.Segments))
	}
}
