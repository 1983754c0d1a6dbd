package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/store"
)

// TestPlanCommand commits plans from three runs and shows them: the second
// run's horizon overlaps the first's and supersedes its plan, the third's
// shares no day with the second's and stands beside it. Then the requests
// the output root cannot carry out, each refused with exit code 2 and a
// message saying what was expected and what was found.
func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, stderr := run(t, "generate", "--customers", "300", "--seed", "3", "--out", data); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	root := filepath.Join(dir, "out")
	runAsOf := func(asOf string) string {
		t.Helper()
		code, stdout, stderr := run(t, "run", "--transactions", filepath.Join(data, "transactions.parquet"),
			"--customers", filepath.Join(data, "customers.parquet"), "--out", root, "--k", "3", "--as-of", asOf)
		if code != 0 {
			t.Fatalf("run as of %s: exit %d: %s", asOf, code, stderr)
		}
		return strings.Fields(stdout)[1] // "run <id> as of ..."
	}
	plan := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, append([]string{"plan"}, args...)...)
	}

	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := plan("commit", "--out", root, "--note", "x"); code != exitUsage ||
		!strings.Contains(stderr, "expected the run history "+filepath.Join(root, store.HistoryFile)+", which every run writes, found none") || stdout != "" {
		t.Errorf("commit before any run: exit %d, %s", code, stderr)
	}
	a := runAsOf("2026-06-30")
	code, stdout, stderr := plan("commit", "--out", root, "--by", "alice", "--note", "FY27 board plan")
	if code != 0 {
		t.Fatalf("plan commit: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "plan 1 committed: run "+a+" (as of 2026-06-30), horizon 2026-07-01 to 2027-06-30, ") ||
		!strings.Contains(stdout, "targets of 3 segments\n  by alice at ") || !strings.Contains(stdout, ": FY27 board plan\n") {
		t.Errorf("plan commit printed:\n%s", stdout)
	}
	code, stdout, _ = plan("show", "--out", root)
	lines := strings.Split(stdout, "\n")
	if f := strings.Fields(lines[1]); code != 0 || len(f) < 9 || f[0] != "1" || f[1] != "active" || f[2] != "2026-07-01" || f[4] != "2027-06-30" ||
		f[5] != a || f[7] != "alice" || strings.Join(f[8:], " ") != "FY27 board plan" {
		t.Fatalf("plan show: exit %d:\n%s", code, stdout)
	}
	for _, w := range []string{"\nplan 1, 2026-07-01 to 2027-06-30 (run " + a + ", as of 2026-06-30):\n", "  segment 1  ", "  segment 3  ",
		"    revenue_12m              currency ", "bg_nbd_gamma_gamma"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("plan show lacks %q:\n%s", w, stdout)
		}
	}
	if code, _, stderr := plan("commit", "--out", root, "--note", "again", a); code != exitUsage ||
		!strings.Contains(stderr, "run "+a+" is the plan of record for 2026-07-01 to 2027-06-30 already (plan 1") {
		t.Errorf("committing the same run again: exit %d, %s", code, stderr)
	}

	// The second run's horizon starts 2026-04-01: it overlaps plan 1's. Who
	// commits it is $USER when --by is not given.
	t.Setenv("USER", "bob")
	b := runAsOf("2026-03-31")
	code, stdout, stderr = plan("commit", "--note", "Q2 reforecast", "--out", root)
	if code != 0 || !strings.Contains(stdout, "plan 2 committed: run "+b) || !strings.Contains(stdout, "  by bob at ") ||
		!strings.Contains(stdout, "supersedes plan 1 (run "+a+", horizon 2026-07-01 to 2027-06-30), which stays in the history") {
		t.Fatalf("second commit: exit %d: %s\n%s", code, stderr, stdout)
	}
	// The third run's horizon ends 2026-03-31, the day before plan 2's
	// starts: both stay active.
	c := runAsOf("2025-03-31")
	code, stdout, stderr = plan("commit", "--out", root, "--by", "carol", "--note", "FY25, backfilled", "--json", c)
	var committed struct {
		Plan       store.Plan
		Superseded []store.Plan
	}
	if err := json.Unmarshal([]byte(stdout), &committed); code != 0 || err != nil {
		t.Fatalf("third commit --json: exit %d, %v: %s\n%s", code, err, stderr, stdout)
	}
	if p := committed.Plan; p.ID != 3 || p.RunID != c || p.HorizonEnd != "2026-03-31" || p.CommittedBy != "carol" || len(p.Targets) == 0 ||
		committed.Superseded == nil || len(committed.Superseded) != 0 {
		t.Errorf("third commit --json: %+v", committed)
	}

	listed := func(args ...string) []string {
		t.Helper()
		code, stdout, stderr := plan(append([]string{"show", "--out", root, "--json"}, args...)...)
		var list struct{ Plans []store.Plan }
		if err := json.Unmarshal([]byte(stdout), &list); code != 0 || err != nil {
			t.Fatalf("plan show --json %v: exit %d, %v: %s", args, code, err, stderr)
		}
		var out []string
		for _, p := range list.Plans {
			out = append(out, p.Status+" "+p.RunID)
			if len(p.Targets) == 0 {
				t.Errorf("plan %d listed without its targets", p.ID)
			}
		}
		return out
	}
	if got, want := listed(), []string{"active " + c, "active " + b}; !slices.Equal(got, want) {
		t.Errorf("plan show --json: %v, want %v", got, want)
	}
	if got, want := listed("--all"), []string{"active " + c, "active " + b, "superseded " + a}; !slices.Equal(got, want) {
		t.Errorf("plan show --all --json: %v, want %v", got, want)
	}
	code, stdout, _ = plan("show", "--out", root, "--all")
	if code != 0 || !strings.Contains(stdout, "   1  superseded by 2  2026-07-01 to 2027-06-30  "+a) || strings.Contains(stdout, "\nplan 1, ") {
		t.Errorf("plan show --all, plan 1 listed without its targets:\n%s", stdout)
	}
	code, stdout, _ = plan("show", "--out", root, "1")
	for _, w := range []string{"plan           1\n", "status         superseded by plan 2 at ", "horizon        2026-07-01 to 2027-06-30\n",
		"run            " + a + " (as of 2026-06-30), directory runs/" + a, "committed      ", " by alice\n", "note           FY27 board plan\n",
		"\ntargets:\n  segment 1  "} {
		if code != 0 || !strings.Contains(stdout, w) {
			t.Errorf("plan show 1 lacks %q: exit %d:\n%s", w, code, stdout)
		}
	}
	code, stdout, _ = run(t, "history", "--out", root, a)
	if code != 0 || !strings.Contains(stdout, "\nplan           1, superseded by 2, horizon 2026-07-01 to 2027-06-30, committed ") {
		t.Errorf("history of run a does not list its plan:\n%s", stdout)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"commit", "--out", root, "--note", "x", "20990101T000000Z-abcdef"}, exitUsage,
			"found no run 20990101T000000Z-abcdef in it (crmseg history lists the runs)"},
		{[]string{"commit", "--out", root}, exitUsage, "plan commit needs --note"},
		{[]string{"commit", "--out", root, "--note", "x", a, b}, exitUsage, "plan commit takes one run ID (or latest, the default), found " + a + ", " + b},
		{[]string{"commit", "--note", "x"}, exitUsage, "plan commit needs --out (the output root) or --config"},
		{[]string{"commit", "--out", filepath.Join(dir, "nope"), "--note", "x"}, exitUsage, "expected an output root (the directory holding history.duckdb, latest and runs/), found nothing there"},
		{[]string{"show", "--out", root, "9"}, exitUsage, "found no plan 9 (crmseg plan show --all lists them)"},
		{[]string{"show", "--out", root, "first"}, exitUsage, `plan show: expected a plan ID, a number (crmseg plan show --all lists them), found "first"`},
		{[]string{"show", "--out", data}, exitUsage, "expected the run history " + filepath.Join(data, store.HistoryFile)},
		{[]string{"frob"}, exitUsage, `plan: expected the subcommand commit or show, found "frob"`},
		{nil, exitUsage, "plan needs a subcommand: commit or show"},
	} {
		code, stdout, stderr := plan(c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("plan %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}

	// The run directory of a plan's run is gone: a plan cannot stand on it.
	if err := os.RemoveAll(filepath.Join(root, "runs", a)); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := plan("commit", "--out", root, "--note", "x", a); code != exitUsage ||
		!strings.Contains(stderr, "expected the directory "+filepath.Join(root, "runs", a)+" of run "+a) {
		t.Errorf("commit of a pruned run: exit %d, %s", code, stderr)
	}
	if got := listed("--all"); len(got) != 3 {
		t.Errorf("plans after the refusals: %v, want the 3 committed", got)
	}
}
