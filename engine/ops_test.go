package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/store"
)

// clockAt returns a clock that starts at t and moves one minute per call,
// so that successive runs get distinct run IDs.
func clockAt(t time.Time) func() time.Time {
	return func() time.Time {
		t = t.Add(time.Minute)
		return t
	}
}

func TestLockRefusesSecondRun(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	cfg.Segmentation.NInit = 1
	holder := store.LockHolder{PID: 4242, Host: "batch-7", StartedAt: "2026-07-01T02:00:00Z", RunID: "20260701T020000Z-abcdef", Command: "run"}
	lock, stale, err := store.Acquire(out, holder)
	if err != nil {
		t.Fatal(err)
	}
	if stale != nil {
		t.Errorf("fresh lock file reported a stale holder %+v", stale)
	}
	var logs bytes.Buffer
	_, err = Run(context.Background(), cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	var le *store.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("run on a locked output root: %v, want a *LockedError", err)
	}
	// The refusal is returned with the run's ID, for the command to log
	// (cmd/crmseg's TestErrorRecords); the engine logs no error.
	var re *RunError
	if ids := runIDsLogged(t, &logs); !errors.As(err, &re) || len(ids) != 1 || re.RunID != ids[0] {
		t.Errorf("run on a locked output root: %#v, want a *RunError with the run ID of the log, %v", err, ids)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("the refusal the run returns is logged too:\n%s", logs.String())
	}
	for _, w := range []string{"in use by another run", "pid 4242", "host batch-7", "started 2026-07-01T02:00:00Z", "run 20260701T020000Z-abcdef", filepath.Join(out, store.LockFile)} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	// Refused before writing anything: only the lock file is there.
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 || entries[0].Name() != store.LockFile {
		t.Errorf("a refused run wrote to the output root: %v", entries)
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg, Options{}); err != nil {
		t.Fatalf("run after the lock was released: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, store.LockFile)); len(b) != 0 {
		t.Errorf("lock file not emptied at release: %q", b)
	}
}

// TestLockHelperProcess is not a test: TestStaleLockTakenOver runs the test
// binary with it to get a process that holds an output root's lock until
// it is killed.
func TestLockHelperProcess(t *testing.T) {
	root := os.Getenv("CRMSEG_LOCK_HELPER_ROOT")
	if root == "" {
		t.Skip("helper process for TestStaleLockTakenOver")
	}
	if _, _, err := store.Acquire(root, store.LockHolder{PID: os.Getpid(), Host: "helper-host", StartedAt: "2026-07-01T02:00:00Z", RunID: "helper-run"}); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	os.Exit(1) // never reached: the test kills the process
}

func TestStaleLockTakenOver(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	cfg.Segmentation.NInit = 1

	helper := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	helper.Env = append(os.Environ(), "CRMSEG_LOCK_HELPER_ROOT="+out)
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper process: %q, %v", line, err)
	}
	pid := helper.Process.Pid

	// While the helper lives, its lock holds.
	_, err = Run(context.Background(), cfg, Options{})
	var le *store.LockedError
	if !errors.As(err, &le) || !strings.Contains(fmt.Sprint(err), fmt.Sprintf("pid %d on host helper-host", pid)) {
		t.Fatalf("run while the helper holds the lock: %v, want a *LockedError naming pid %d", err, pid)
	}

	// Killed, it cannot release the lock; the kernel does, and its holder
	// information stays in the file for the next run to report.
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := helper.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("helper ended with %v, want killed", err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, store.LockFile)); !strings.Contains(string(b), fmt.Sprintf(`"pid":%d`, pid)) {
		t.Fatalf("the killed holder's information is not in the lock file: %q", b)
	}
	var logs bytes.Buffer
	res, err := Run(context.Background(), cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("run after the holder was killed: %v", err)
	}
	var takeover map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "taken over") {
			if err := json.Unmarshal([]byte(line), &takeover); err != nil {
				t.Fatal(err)
			}
		}
	}
	if takeover == nil || takeover["holder_pid"] != float64(pid) || takeover["holder_run_id"] != "helper-run" || takeover["run_id"] != res.RunID {
		t.Errorf("stale lock takeover logged as %v, want holder_pid %d, holder_run_id helper-run, run_id %s", takeover, pid, res.RunID)
	}
}

func TestPruneRuns(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	ids := []string{
		"20260101T000000Z-aaaaaa", // latest points here: the oldest
		"20260102T000000Z-aaaaaa",
		"20260103T000000Z-aaaaaa",
		"20260103T000000Z-aaaaaa-2",
		"20260103T000000Z-aaaaaa-10", // after -2, not before it
		"20260104T000000Z-bbbbbb",
	}
	for _, id := range ids {
		if err := os.MkdirAll(filepath.Join(runs, id), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(runs, id, "manifest.json"), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not runs: left alone whatever keep says.
	os.MkdirAll(filepath.Join(runs, "notes"), 0o755)
	os.WriteFile(filepath.Join(runs, "20260105T000000Z-cccccc"), nil, 0o644) // a file, not a run directory
	if err := os.Symlink(filepath.Join("runs", ids[0]), filepath.Join(root, "latest")); err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		entries, _ := os.ReadDir(runs)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}

	if removed, err := store.Prune(context.Background(), root, 0); err != nil || len(removed) != 0 {
		t.Fatalf("keep 0 removed %v (%v), want nothing", removed, err)
	}
	removed, err := store.Prune(context.Background(), root, 3)
	if err != nil {
		t.Fatal(err)
	}
	// latest, then the two newest others.
	if want := []string{"20260102T000000Z-aaaaaa", "20260103T000000Z-aaaaaa", "20260103T000000Z-aaaaaa-2"}; !slices.Equal(removed, want) {
		t.Errorf("keep 3 removed %v, want %v (oldest first)", removed, want)
	}
	if got, want := list(), []string{"20260101T000000Z-aaaaaa", "20260103T000000Z-aaaaaa-10", "20260104T000000Z-bbbbbb", "20260105T000000Z-cccccc", "notes"}; !slices.Equal(got, want) {
		t.Errorf("after keep 3: %v, want %v", got, want)
	}
	if removed, err := store.Prune(context.Background(), root, 1); err != nil || !slices.Equal(removed, []string{"20260103T000000Z-aaaaaa-10", "20260104T000000Z-bbbbbb"}) {
		t.Errorf("keep 1 removed %v (%v), want all but latest", removed, err)
	}
	if _, err := os.Stat(filepath.Join(runs, ids[0], "manifest.json")); err != nil {
		t.Errorf("the run latest points at was pruned: %v", err)
	}
}

// TestRunsPruneAndClean runs the pipeline four times with keep_runs 2 on an
// output root littered with what killed runs leave: each run removes the
// litter and keeps exactly two runs, the new latest and the one before.
func TestRunsPruneAndClean(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	cfg.Segmentation.NInit = 1
	cfg.KeepRuns = 2
	litter := []string{
		filepath.Join(out, ".tmp-duckdb-123456", "duckdb_temp_storage-0.tmp"),
		filepath.Join(out, "runs", ".tmp-20260101T000000Z-aaaaaa", "customer_segments.csv"),
		filepath.Join(out, "runs", ".tmp-pruned-20250101T000000Z-aaaaaa", "manifest.json"),
	}
	keep := []string{filepath.Join(out, "README.txt"), filepath.Join(out, "runs", "notes", "x.txt")}
	for _, p := range append(slices.Clone(litter), keep...) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("runs/20260101T000000Z-aaaaaa", filepath.Join(out, ".latest-20260101T000000Z-aaaaaa")); err != nil {
		t.Fatal(err)
	}
	litter = append(litter, filepath.Join(out, ".latest-20260101T000000Z-aaaaaa"))

	now := clockAt(time.Date(2026, 7, 1, 2, 0, 0, 0, time.UTC))
	var ids []string
	for i := range 4 {
		res, err := Run(context.Background(), cfg, Options{Now: now})
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		ids = append(ids, res.RunID)
		if i == 0 {
			for _, p := range litter {
				if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("leftover %s not removed (%v)", p, err)
				}
			}
		}
		var dirs []string
		entries, _ := os.ReadDir(filepath.Join(out, "runs"))
		for _, e := range entries {
			if e.Name() != "notes" {
				dirs = append(dirs, e.Name())
			}
		}
		want := ids[max(0, len(ids)-2):]
		if !slices.Equal(dirs, want) {
			t.Errorf("after run %d: runs/ holds %v, want %v", i, dirs, want)
		}
		if target, _ := os.Readlink(filepath.Join(out, "latest")); target != filepath.Join("runs", res.RunID) {
			t.Errorf("after run %d: latest -> %s, want runs/%s", i, target, res.RunID)
		}
	}
	for _, p := range keep {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("a file that is not crmseg's was removed: %v", err)
		}
	}
}

// TestProgressSteps checks that a run reports each long step with its
// total and completes it.
func TestProgressSteps(t *testing.T) {
	data := generatedData(t, 3000, 0)
	cfg := generatedConfig(t, data, t.TempDir())
	cfg.Segmentation.NInit = 3
	rec := &stepRecorder{}
	if _, err := Run(context.Background(), cfg, Options{Progress: rec.start}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		StepLoad + " 11/11 done",   // three inputs, params, the seven other ingest models
		StepRestarts + " 3/3 done", // n_init
		StepFit + " 2/2 done",      // BG/NBD, Gamma-Gamma
		fmt.Sprintf("%s %d/%d done", StepWrite, len(outputTables), len(outputTables)),
	}
	if got := rec.summary(); !slices.Equal(got, want) {
		t.Errorf("progress steps:\n got %v\nwant %v", got, want)
	}

	// Choosing k: every k (3 and 4), each with its 2 bootstraps, and the
	// chosen k refitted: 3 × (2 × 3 + 1) = 21 restarts of n_init 3.
	cfg = generatedConfig(t, data, t.TempDir())
	cfg.Segmentation.NInit = 3
	cfg.Segmentation.ChooseK = &config.ChooseK{Min: 3, Max: 4, Bootstraps: 2}
	rec = &stepRecorder{}
	if _, err := Run(context.Background(), cfg, Options{Progress: rec.start}); err != nil {
		t.Fatal(err)
	}
	if got := rec.summary(); len(got) < 2 || got[1] != StepChooseK+" 21/21 done" {
		t.Errorf("progress steps with choose_k: %v, want %q second", got, StepChooseK+" 21/21 done")
	}
}

type stepRecorder struct{ steps []*recordedStep }

type recordedStep struct {
	name        string
	total, done int
	closed      bool
}

func (s *recordedStep) Add(n int) { s.done += n }
func (s *recordedStep) Done()     { s.closed = true }

func (r *stepRecorder) start(step string, total int) Progress {
	s := &recordedStep{name: step, total: total}
	r.steps = append(r.steps, s)
	return s
}

func (r *stepRecorder) summary() []string {
	var out []string
	for _, s := range r.steps {
		line := fmt.Sprintf("%s %d/%d", s.name, s.done, s.total)
		if s.closed {
			line += " done"
		}
		out = append(out, line)
	}
	return out
}

func TestMetricsText(t *testing.T) {
	man := &manifest.Manifest{
		RunID:        "20260701T020000Z-abcdef",
		Timings:      []manifest.Timing{{Stage: "inspect", Seconds: 0.004}, {Stage: "ingest", Seconds: 1.25}},
		PeakRSSBytes: 1536 << 20,
		Inputs: []manifest.Input{
			{Table: "transactions", Rows: 60}, {Table: "transactions", Rows: 40}, // two files
			{Table: "customers", Rows: 12},
		},
		Quality: manifest.Quality{
			TransactionsRead: 100, TransactionsAccepted: 93,
			Rejects:      []manifest.RejectCount{{Table: "transactions", Reason: "zero amount", Rows: 2}, {Table: "customers", Reason: "duplicate customer_id", Rows: 1}, {Table: "transactions", Reason: `bad "quote"`, Rows: 5}},
			Segmentation: manifest.SegmentationQuality{K: 4, Customers: 11},
		},
	}
	// The file's previous content carries the counters and the last success.
	path := filepath.Join(t.TempDir(), "crmseg.prom")
	previous := "crmseg_runs_total{status=\"success\"} 6\ncrmseg_runs_total{status=\"failure\"} 1\ncrmseg_last_success_timestamp_seconds 1782784800\n"
	if err := os.WriteFile(path, []byte(previous), 0o644); err != nil {
		t.Fatal(err)
	}
	o := store.Outcome{Manifest: man, Version: "v1.2.3", Status: "success", ExitCode: 0, Ended: time.Unix(1782871200, 0), Duration: 1500 * time.Millisecond}
	if err := store.WriteMetrics(path, t.TempDir(), o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	want := `# HELP crmseg_last_run_status Outcome of the last run: 1 for its status, 0 for the others.
# TYPE crmseg_last_run_status gauge
crmseg_last_run_status{status="success"} 1
crmseg_last_run_status{status="failure"} 0
crmseg_last_run_status{status="rejected"} 0
crmseg_last_run_status{status="config_error"} 0
# HELP crmseg_last_run_exit_code Exit code of the last run: 0 success, 1 failure, 2 usage or configuration error, 3 input data rejected.
# TYPE crmseg_last_run_exit_code gauge
crmseg_last_run_exit_code 0
# HELP crmseg_last_run_info The last run's ID and crmseg version, as labels; always 1.
# TYPE crmseg_last_run_info gauge
crmseg_last_run_info{run_id="20260701T020000Z-abcdef",version="v1.2.3"} 1
# HELP crmseg_last_run_timestamp_seconds When the last run ended, in seconds since the Unix epoch.
# TYPE crmseg_last_run_timestamp_seconds gauge
crmseg_last_run_timestamp_seconds 1782871200
# HELP crmseg_last_run_duration_seconds Wall time of the last run, in seconds.
# TYPE crmseg_last_run_duration_seconds gauge
crmseg_last_run_duration_seconds 1.5
# HELP crmseg_last_success_timestamp_seconds When a run last succeeded and switched latest, in seconds since the Unix epoch.
# TYPE crmseg_last_success_timestamp_seconds gauge
crmseg_last_success_timestamp_seconds 1782871200
# HELP crmseg_runs_total Runs finished with this metrics file, by status (carried over from the file's previous content).
# TYPE crmseg_runs_total counter
crmseg_runs_total{status="success"} 7
crmseg_runs_total{status="failure"} 1
crmseg_runs_total{status="rejected"} 0
crmseg_runs_total{status="config_error"} 0
# HELP crmseg_last_run_stage_duration_seconds Wall time of each stage the last run finished, in seconds.
# TYPE crmseg_last_run_stage_duration_seconds gauge
crmseg_last_run_stage_duration_seconds{stage="inspect"} 0.004
crmseg_last_run_stage_duration_seconds{stage="ingest"} 1.25
# HELP crmseg_last_run_peak_rss_bytes Peak resident memory of the last run's process up to its last finished stage, in bytes.
# TYPE crmseg_last_run_peak_rss_bytes gauge
crmseg_last_run_peak_rss_bytes 1610612736
# HELP crmseg_last_run_rows_read Input rows the last run read, per table.
# TYPE crmseg_last_run_rows_read gauge
crmseg_last_run_rows_read{table="transactions"} 100
crmseg_last_run_rows_read{table="customers"} 12
# HELP crmseg_last_run_rows_accepted Input rows the last run accepted (read less rejected), per table.
# TYPE crmseg_last_run_rows_accepted gauge
crmseg_last_run_rows_accepted{table="transactions"} 93
crmseg_last_run_rows_accepted{table="customers"} 11
# HELP crmseg_last_run_rows_rejected Input rows the last run rejected, per table and reason.
# TYPE crmseg_last_run_rows_rejected gauge
crmseg_last_run_rows_rejected{table="customers",reason="duplicate customer_id"} 1
crmseg_last_run_rows_rejected{table="transactions",reason="bad \"quote\""} 5
crmseg_last_run_rows_rejected{table="transactions",reason="zero amount"} 2
# HELP crmseg_last_run_customers Customers the last run segmented.
# TYPE crmseg_last_run_customers gauge
crmseg_last_run_customers 11
# HELP crmseg_last_run_segments Segments of the last run.
# TYPE crmseg_last_run_segments gauge
crmseg_last_run_segments 4
`
	if got != want {
		t.Errorf("metrics text:\n%s\nwant:\n%s", got, want)
	}
	if _, err := parseExposition(got); err != nil {
		t.Error(err)
	}
}

// TestMetricsFile runs the pipeline with a metrics file, then fails a run:
// the file is rewritten both times, parses, and carries the last success
// and the run counters over.
func TestMetricsFile(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	dir := t.TempDir()
	cfg := generatedConfig(t, data, out)
	cfg.Segmentation.NInit = 1
	cfg.MetricsFile = filepath.Join(dir, "crmseg.prom")
	first := time.Date(2026, 7, 1, 2, 0, 0, 0, time.UTC)
	opts := Options{Now: func() time.Time { return first }, Version: "test", ExitCode: cliExitCode}
	res, err := Run(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	m := readExposition(t, cfg.MetricsFile)
	q := res.Manifest.Quality
	for key, want := range map[string]float64{
		`crmseg_last_run_status{status="success"}`:                        1,
		`crmseg_last_run_status{status="rejected"}`:                       0,
		`crmseg_last_run_exit_code`:                                       0,
		`crmseg_last_run_info{run_id="` + res.RunID + `",version="test"}`: 1,
		`crmseg_last_run_timestamp_seconds`:                               float64(first.Unix()),
		`crmseg_last_success_timestamp_seconds`:                           float64(first.Unix()),
		`crmseg_runs_total{status="success"}`:                             1,
		`crmseg_last_run_rows_read{table="transactions"}`:                 float64(q.TransactionsRead),
		`crmseg_last_run_rows_accepted{table="transactions"}`:             float64(q.TransactionsAccepted),
		`crmseg_last_run_rows_read{table="customers"}`:                    3000,
		`crmseg_last_run_customers`:                                       3000,
		`crmseg_last_run_segments`:                                        5,
	} {
		if got, ok := m[key]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	if d := m["crmseg_last_run_duration_seconds"]; !(d > 0 && d < 120) {
		t.Errorf("duration %v s", d)
	}
	if st, err := os.Stat(cfg.MetricsFile); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("metrics file mode %v (%v), want 0644 so node_exporter can read it", st.Mode(), err)
	}

	// A rejected run: under the default as_of, every transaction is dated
	// after the run's date.
	cfg.Today = "2000-01-01"
	second := time.Date(2026, 7, 2, 2, 0, 0, 0, time.UTC)
	opts.Now = func() time.Time { return second }
	if _, err := Run(context.Background(), cfg, opts); cliExitCode(err) != exitRejected {
		t.Fatalf("run with every row rejected: %v", err)
	}
	m = readExposition(t, cfg.MetricsFile)
	for key, want := range map[string]float64{
		`crmseg_last_run_status{status="success"}`:                                             0,
		`crmseg_last_run_status{status="rejected"}`:                                            1,
		`crmseg_last_run_exit_code`:                                                            3,
		`crmseg_last_run_timestamp_seconds`:                                                    float64(second.Unix()),
		`crmseg_last_success_timestamp_seconds`:                                                float64(first.Unix()),
		`crmseg_runs_total{status="success"}`:                                                  1,
		`crmseg_runs_total{status="rejected"}`:                                                 1,
		`crmseg_last_run_rows_rejected{table="transactions",reason="timestamp in the future"}`: float64(q.TransactionsRead),
		`crmseg_last_run_rows_accepted{table="transactions"}`:                                  0,
	} {
		if got, ok := m[key]; !ok || got != want {
			t.Errorf("after a rejected run: %s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	if _, ok := m["crmseg_last_run_segments"]; ok {
		t.Errorf("a run that stopped before segmenting reports segments")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("metrics directory holds %d entries, want the metrics file only (no temporary files)", len(entries))
	}

	// A run refused by the lock leaves the holder's file alone.
	before, _ := os.ReadFile(cfg.MetricsFile)
	lock, _, err := store.Acquire(out, store.LockHolder{PID: 1, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	cfg.AsOf = ""
	var le *store.LockedError
	if _, err := Run(context.Background(), cfg, Options{}); !errors.As(err, &le) {
		t.Fatalf("run on a locked root: %v", err)
	}
	if after, _ := os.ReadFile(cfg.MetricsFile); !bytes.Equal(before, after) {
		t.Errorf("a run refused by the lock rewrote the metrics file")
	}
}

func readExposition(t *testing.T, path string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseExposition(string(b))
	if err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return m
}

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseExposition checks text against the Prometheus text exposition
// format as the textfile collector reads it, plus the naming rules this
// project follows, and returns the samples keyed by name and labels.
func parseExposition(text string) (map[string]float64, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("does not end with a newline")
	}
	samples := map[string]float64{}
	help, typ := map[string]bool{}, map[string]string{}
	var current string // the family being read
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n := i + 1
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			f := strings.SplitN(rest, " ", 3)
			if len(f) < 3 || (f[0] != "HELP" && f[0] != "TYPE") {
				return nil, fmt.Errorf("line %d: bad comment %q", n, line)
			}
			name := f[1]
			if !metricNameRE.MatchString(name) || !strings.HasPrefix(name, "crmseg_") {
				return nil, fmt.Errorf("line %d: metric name %q", n, name)
			}
			if name != current && (help[name] || typ[name] != "") {
				return nil, fmt.Errorf("line %d: family %s comes twice", n, name)
			}
			current = name
			if f[0] == "HELP" {
				if help[name] || typ[name] != "" {
					return nil, fmt.Errorf("line %d: HELP of %s twice or after TYPE", n, name)
				}
				help[name] = true
				continue
			}
			switch f[2] {
			case "gauge", "counter":
			default:
				return nil, fmt.Errorf("line %d: type %q", n, f[2])
			}
			if (f[2] == "counter") != strings.HasSuffix(name, "_total") {
				return nil, fmt.Errorf("line %d: %s is a %s: only counters end in _total", n, name, f[2])
			}
			typ[name] = f[2]
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("line %d: no value: %q", n, line)
		}
		key, value := line[:sp], line[sp+1:]
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value %q", n, value)
		}
		name := key
		if i := strings.IndexByte(key, '{'); i >= 0 {
			name = key[:i]
			if err := checkLabels(key[i:]); err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
		}
		if name != current || !help[name] || typ[name] == "" {
			return nil, fmt.Errorf("line %d: sample of %s outside its family (HELP and TYPE first, samples together)", n, name)
		}
		if _, dup := samples[key]; dup {
			return nil, fmt.Errorf("line %d: duplicate sample %s", n, key)
		}
		samples[key] = v
	}
	for name := range maps.Keys(help) {
		if typ[name] == "" {
			return nil, fmt.Errorf("%s has HELP but no TYPE", name)
		}
	}
	return samples, nil
}

// checkLabels checks a label set: {name="value",...} with \\, \" and \n
// the only escapes.
func checkLabels(s string) error {
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return fmt.Errorf("label set %q", s)
	}
	s = s[1 : len(s)-1]
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || !labelNameRE.MatchString(s[:eq]) || len(s) < eq+2 || s[eq+1] != '"' {
			return fmt.Errorf("label at %q", s)
		}
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' {
				i++
				if i >= len(s) || !strings.ContainsRune(`\"n`, rune(s[i])) {
					return fmt.Errorf("bad escape in %q", s)
				}
			}
		}
		if i >= len(s) {
			return fmt.Errorf("unterminated label value in %q", s)
		}
		s = s[i+1:]
		if s != "" {
			if s[0] != ',' {
				return fmt.Errorf("expected a comma at %q", s)
			}
			s = s[1:]
		}
	}
	return nil
}

func TestConfigOpsKeys(t *testing.T) {
	if got := config.DefaultConfig().KeepRuns; got != 14 {
		t.Errorf("default keep_runs %d, want 14", got)
	}
	cfg, err := config.LoadConfig(filepath.Join("config", "testdata", "ops.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KeepRuns != 30 || cfg.MetricsFile != filepath.Join("config", "testdata", "metrics", "crmseg.prom") {
		t.Errorf("keep_runs %d, metrics_file %q; want 30 and the path resolved against the config's directory", cfg.KeepRuns, cfg.MetricsFile)
	}
	// The metrics file's directory must exist: found before any work.
	cfg.Inputs.Transactions.Path = filepath.Join(t.TempDir(), "tx.parquet")
	_, err = Run(context.Background(), cfg, Options{})
	if cliExitCode(err) != exitUsage || !strings.Contains(fmt.Sprint(err), "metrics_file: directory config/testdata/metrics does not exist") {
		t.Errorf("run with a metrics file in a missing directory: %v", err)
	}
}

// A run refused for its configuration returns the error, before it has a
// run ID, and logs nothing: the command logs it (cmd/crmseg's
// TestErrorRecords), so that a scheduler's JSON log explains the exit code.
func TestConfigErrorReturned(t *testing.T) {
	for name, edit := range map[string]func(*config.Config){
		"invalid":         func(c *config.Config) { c.KeepRuns = -1 },
		"metrics_missing": func(c *config.Config) { c.MetricsFile = filepath.Join(t.TempDir(), "missing", "crmseg.prom") },
	} {
		cfg := config.DefaultConfig()
		cfg.Inputs.Transactions.Path = "tx.parquet"
		cfg.Output = t.TempDir()
		edit(&cfg)
		var logs bytes.Buffer
		_, err := Run(context.Background(), cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		var re *RunError
		if cliExitCode(err) != exitUsage || !errors.As(err, &re) || re.RunID != "" {
			t.Errorf("%s: %#v, want exit %d, a *RunError without a run ID", name, err, exitUsage)
		}
		if logs.Len() > 0 {
			t.Errorf("%s: log %q, want none", name, logs.String())
		}
	}
}

// A run that cannot create or lock its output root (here a path below a
// regular file: tests run as root, for whom permissions do not fail) fails
// with exit 1, and the metrics file says so rather than keep the last
// success.
func TestMetricsWhenRootUnusable(t *testing.T) {
	data := generatedData(t, 3000, 0)
	dir := t.TempDir()
	cfg := generatedConfig(t, data, t.TempDir())
	cfg.Segmentation.NInit = 1
	cfg.MetricsFile = filepath.Join(dir, "crmseg.prom")
	first := time.Date(2026, 7, 1, 2, 0, 0, 0, time.UTC)
	if _, err := Run(context.Background(), cfg, Options{Now: func() time.Time { return first }}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, root := range []string{filepath.Join(file, "out"), file} {
		cfg.Output = root
		at := first.Add(time.Duration(i+1) * time.Hour)
		_, err := Run(context.Background(), cfg, Options{Now: func() time.Time { return at }})
		if cliExitCode(err) != exitFailure || !strings.Contains(fmt.Sprint(err), "output root") {
			t.Fatalf("output root %s: %v (exit %d), want exit 1 naming the output root", root, err, cliExitCode(err))
		}
		m := readExposition(t, cfg.MetricsFile)
		for key, want := range map[string]float64{
			`crmseg_last_run_status{status="success"}`: 0,
			`crmseg_last_run_status{status="failure"}`: 1,
			`crmseg_last_run_exit_code`:                1,
			`crmseg_last_run_timestamp_seconds`:        float64(at.Unix()),
			`crmseg_last_success_timestamp_seconds`:    float64(first.Unix()),
			`crmseg_runs_total{status="success"}`:      1,
			`crmseg_runs_total{status="failure"}`:      float64(i + 1),
		} {
			if got, ok := m[key]; !ok || got != want {
				t.Errorf("output root %s: %s = %v (present %v), want %v", root, key, got, ok, want)
			}
		}
	}
	if b, _ := os.ReadFile(file); string(b) != "not a directory\n" {
		t.Errorf("the file in the output root's place was changed: %q", b)
	}
}

// latest that is a directory, not a link, is refused before any work,
// saying what is wrong and how to fix it; nothing in the root changes.
func TestLatestNotALink(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	cfg.Segmentation.NInit = 1
	if _, err := Run(context.Background(), cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	latest := filepath.Join(out, "latest")
	if err := os.Remove(latest); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(latest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(latest, "customer_segments.csv"), []byte("customer_id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out)
	var logs bytes.Buffer
	_, err := Run(context.Background(), cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	var oe *store.OutputRootError
	if !errors.As(err, &oe) || cliExitCode(err) != exitUsage {
		t.Fatalf("run with latest a directory: %v (exit %d), want an *OutputRootError, exit 2", err, cliExitCode(err))
	}
	for _, w := range []string{latest + " is a directory, not the symbolic link", "mv " + latest + " " + latest + ".moved", "ln -s runs/RUN_ID " + latest} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if strings.Contains(logs.String(), `"msg":"stage done"`) {
		t.Errorf("the run did work before refusing latest:\n%s", logs.String())
	}
	after := snapshot(t, out)
	if !maps.Equal(before, after) {
		t.Errorf("a refused run changed the output root:\nbefore %v\nafter  %v", before, after)
	}
}

// runIDsLogged returns the distinct run_id of the JSON log's records.
func runIDsLogged(t *testing.T, logs *bytes.Buffer) []string {
	t.Helper()
	seen := map[string]bool{}
	sc := bufio.NewScanner(logs)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		seen[fmt.Sprint(rec["run_id"])] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// Runs of one config started in the same second get distinct run IDs
// before their first log line: logs, manifest, history and directory agree.
func TestRunIDUniqueBeforeLogging(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	cfg.Segmentation.NInit = 1
	at := time.Date(2026, 7, 1, 2, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	base := store.NewRunID(at, cfg)
	first, err := Run(context.Background(), cfg, Options{Now: now})
	if err != nil || first.RunID != base {
		t.Fatalf("first run %v, %v; want run ID %s", first, err, base)
	}
	var failed bytes.Buffer
	if _, err := Run(context.Background(), cfg, Options{Now: now, failAt: "features", Logger: slog.New(slog.NewJSONHandler(&failed, nil))}); !errors.Is(err, errInjected) {
		t.Fatalf("failing run: %v", err)
	}
	if got := runIDsLogged(t, &failed); !slices.Equal(got, []string{base + "-2"}) {
		t.Errorf("failed run logged run IDs %v, want only %s-2", got, base)
	}
	var logs bytes.Buffer
	res, err := Run(context.Background(), cfg, Options{Now: now, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	want := base + "-3"
	if res.RunID != want || res.Manifest.RunID != want || res.Dir != filepath.Join(out, "runs", want) {
		t.Errorf("third run: ID %s, manifest %s, directory %s; want %s throughout", res.RunID, res.Manifest.RunID, res.Dir, want)
	}
	if got := runIDsLogged(t, &logs); !slices.Equal(got, []string{want}) {
		t.Errorf("third run logged run IDs %v, want only %s", got, want)
	}
	runs, err := store.List(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range runs {
		ids = append(ids, h.RunID+" "+h.Status)
	}
	if !slices.Equal(ids, []string{base + " succeeded", base + "-2 failed", want + " succeeded"}) {
		t.Errorf("history holds %v", ids)
	}
}

// A lost latest is taken from the run history; when no published run is
// left, the run refuses unless told to start over, and then never reuses
// a segment ID.
func TestLostLatestKeepsSegmentIDs(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	cfg.Segmentation.NInit = 1
	clock := clockAt(time.Date(2026, 7, 1, 2, 0, 0, 0, time.UTC))
	first, err := Run(context.Background(), cfg, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	segmentIDs := func(res *Result) []int {
		var ids []int
		for _, s := range res.Segments {
			ids = append(ids, s.ID)
		}
		return ids
	}
	firstIDs := segmentIDs(first)
	latest := filepath.Join(out, "latest")

	// latest gone: the history's newest published run is continued.
	if err := os.Remove(latest); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	second, err := Run(context.Background(), cfg, Options{Now: clock, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	q := second.Manifest.Quality
	if second.Manifest.PreviousRunID != first.RunID || q.Segmentation.Source != "retrained" || q.Delta.New != 0 ||
		!slices.Equal(segmentIDs(second), firstIDs) {
		t.Errorf("after losing latest: previous run %q, source %s, %d new in the delta, segment IDs %v; want %s, retrained, 0, %v",
			second.Manifest.PreviousRunID, q.Segmentation.Source, q.Delta.New, segmentIDs(second), first.RunID, firstIDs)
	}
	if !strings.Contains(logs.String(), "latest lost: continuing from the newest published run") {
		t.Errorf("continuing from the history's run is not logged:\n%s", logs.String())
	}

	// latest gone, the newest run's model unreadable, the older run
	// removed: refused, before any work, saying how to go on.
	if err := os.Remove(latest); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(second.Dir, "model.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(first.Dir); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out)
	_, err = Run(context.Background(), cfg, Options{Now: clock})
	var oe *store.OutputRootError
	if !errors.As(err, &oe) || cliExitCode(err) != exitUsage {
		t.Fatalf("run with no previous run left: %v (exit %d), want an *OutputRootError, exit 2", err, cliExitCode(err))
	}
	for _, w := range []string{latest + " is missing", "none of the 2 runs the run history lists as published", "--reset-segments", "ln -sfn runs/RUN_ID"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if after := snapshot(t, out); !maps.Equal(before, after) {
		t.Errorf("a refused run changed the output root:\nbefore %v\nafter  %v", before, after)
	}

	// Told to start over: IDs above every one given before.
	third, err := Run(context.Background(), cfg, Options{Now: clock, ResetSegments: true})
	if err != nil {
		t.Fatal(err)
	}
	highest := slices.Max(append(firstIDs, segmentIDs(second)...))
	for _, id := range segmentIDs(third) {
		if id <= highest {
			t.Errorf("segment ID %d given again after --reset-segments (highest before: %d)", id, highest)
		}
	}
	if third.Manifest.Quality.Segmentation.Source != "trained" {
		t.Errorf("source %s after --reset-segments, want trained", third.Manifest.Quality.Segmentation.Source)
	}
}

// A run that continues from an older run than latest's (latest's
// model.json unreadable, or latest pointed back at an older run) numbers
// its new segments above the highest ID ever given, never from the older
// model's next free ID, and compares its delta with the run it continues.
func TestContinuedModelNeverReusesIDs(t *testing.T) {
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	cfg.Segmentation.NInit = 1
	clock := clockAt(time.Date(2026, 7, 1, 2, 0, 0, 0, time.UTC))
	ids := func(res *Result) []int {
		var ids []int
		for _, s := range res.Segments {
			ids = append(ids, s.ID)
		}
		return ids
	}
	cfg.Segmentation.K = 4
	first, err := Run(context.Background(), cfg, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Segmentation.K = 6
	second, err := Run(context.Background(), cfg, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(second); !slices.Equal(got, []int{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("second run's segment IDs %v, want 1..6", got)
	}
	// check: res continued the run continued (IDs and delta), and its one
	// new segment has an ID above highest, the highest given before.
	check := func(what string, res *Result, continued *Result, highest int) {
		t.Helper()
		q := res.Manifest.Quality
		if res.Manifest.PreviousRunID != continued.RunID || q.Delta.New != 0 {
			t.Errorf("%s: delta compared with %q (%d new), want %s (0 new)", what, res.Manifest.PreviousRunID, q.Delta.New, continued.RunID)
		}
		var fresh []int
		for _, id := range ids(res) {
			if !slices.Contains(ids(continued), id) {
				fresh = append(fresh, id)
			}
		}
		if len(fresh) != 1 || fresh[0] <= highest {
			t.Errorf("%s: new segment IDs %v (all %v), want one above %d, the highest given before", what, fresh, ids(res), highest)
		}
		if res.Model.NextID != slices.Max(ids(res))+1 {
			t.Errorf("%s: model next_id %d, want %d", what, res.Model.NextID, slices.Max(ids(res))+1)
		}
	}

	// latest's model.json unreadable: the first run is continued, and its
	// model's next free ID (5) is below the highest given (6).
	if err := os.WriteFile(filepath.Join(second.Dir, "model.json"), []byte("{garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Segmentation.K = 5
	var logs bytes.Buffer
	third, err := Run(context.Background(), cfg, Options{Now: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	check("latest's model.json unreadable", third, first, 6)
	for _, w := range []string{
		`level=WARN msg="latest lost: continuing from the newest published run that is still there: the segment IDs follow its model and the customer delta compares with its customers"`,
		"previous_run_id=" + first.RunID,
		`level=WARN msg="new segments are numbered above the highest segment ID ever given`,
	} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log does not say %q:\n%s", w, logs.String())
		}
	}

	// latest pointed back at the first run by hand (as a restore would):
	// the same.
	latest := filepath.Join(out, "latest")
	if err := os.Remove(latest); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("runs", first.RunID), latest); err != nil {
		t.Fatal(err)
	}
	fourth, err := Run(context.Background(), cfg, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	check("latest pointed back at the first run", fourth, first, slices.Max(ids(third)))

	// No history file (moved aside) and latest lost: the newest run
	// directory is continued, not a first run numbered from 1.
	if err := os.Rename(filepath.Join(out, store.HistoryFile), filepath.Join(out, store.HistoryFile+".moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(latest); err != nil {
		t.Fatal(err)
	}
	fifth, err := Run(context.Background(), cfg, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if fifth.Manifest.PreviousRunID != fourth.RunID || fifth.Manifest.Quality.Delta.New != 0 || !slices.Equal(ids(fifth), ids(fourth)) {
		t.Errorf("no history, latest lost: continued %q (%d new in the delta), IDs %v; want %s, 0, %v",
			fifth.Manifest.PreviousRunID, fifth.Manifest.Quality.Delta.New, ids(fifth), fourth.RunID, ids(fourth))
	}
}

// The crmseg command's exit codes the tests check a run's outcome by
// (cmd/crmseg/exit.go).
const (
	exitFailure  = 1
	exitUsage    = 2
	exitRejected = 3
)

// cliExitCode is the code crmseg exits with for a run's error, as far as
// the outcome the engine gives it decides it (runStatus); tests that check
// the code a run records pass it as Options.ExitCode. A refusal by the lock
// (75) and a published run not recorded (4) are told by their types.
func cliExitCode(err error) int {
	return map[string]int{"success": 0, "failure": exitFailure, "config_error": exitUsage, "rejected": exitRejected}[runStatus(err)]
}
