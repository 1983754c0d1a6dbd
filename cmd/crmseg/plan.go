package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/cli"
)

// cmdPlan commits a run's segment targets as the plan of record for their
// horizon, or shows the plans (docs/plans.md).
//
//	crmseg plan commit (--out ROOT | --config FILE) --note WHY [--by WHO] [--json] [RUN_ID|latest]
//	crmseg plan show (--out ROOT | --config FILE) [--all] [--json] [PLAN_ID]
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) error {
	if len(args) == 0 {
		return &cli.UsageError{Msg: "plan needs a subcommand: commit or show"}
	}
	switch args[0] {
	case "commit":
		return cmdPlanCommit(ctx, args[1:], stdout, stderr, now)
	case "show":
		return cmdPlanShow(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, planUsage)
		return flag.ErrHelp
	}
	return &cli.UsageError{Msg: fmt.Sprintf("plan: expected the subcommand commit or show, found %q", args[0])}
}

const planUsage = `Usage of crmseg plan (docs/plans.md):
  crmseg plan commit (--out DIR | --config FILE) --note WHY [--by WHO] [--json] [RUN_ID|latest]
        record the run's segment targets (latest's by default) as the plan of record for their horizon;
        it supersedes the active plans whose horizons share a day with it
  crmseg plan show (--out DIR | --config FILE) [--all] [--json] [PLAN_ID]
        the active plans (--all: the superseded ones too), or one plan
Run 'crmseg plan commit -h' or 'crmseg plan show -h' for the flags.

Example:
  crmseg plan commit --config crmseg.yaml --note "targets agreed with marketing"
  crmseg plan show --config crmseg.yaml
`

// cmdPlanCommit records a run's segment targets (latest's by default) as
// the plan of record for their horizon.
func cmdPlanCommit(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) error {
	fs := cli.NewFlagSet("crmseg", "plan commit", stderr)
	out := fs.String("out", "", "output root (the directory holding history.duckdb)")
	configFile := fs.String("config", "", "take the output root from this config file")
	note := fs.String("note", "", "why these targets are the plan (required)")
	by := fs.String("by", "", "who commits the plan (default: $USER, or the name of the current user)")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	cli.Examples(fs, `crmseg plan commit --config crmseg.yaml --note "targets agreed with marketing"`)
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) > 1 {
		return &cli.UsageError{Msg: fmt.Sprintf("plan commit takes one run ID (or latest, the default), found %s", strings.Join(ids, ", "))}
	}
	root, err := outputRoot("plan commit", *out, *configFile)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*note) == "" {
		return &cli.UsageError{Msg: "plan commit needs --note: why these targets are the plan"}
	}
	who := cmp.Or(strings.TrimSpace(*by), currentUser())
	if who == "" {
		return &cli.UsageError{Msg: "plan commit needs --by: who commits the plan ($USER is not set and the current user has no name)"}
	}
	runID := "latest"
	if len(ids) == 1 {
		runID = ids[0]
	}
	plan, superseded, err := store.CommitPlan(ctx, root, store.PlanCommit{RunID: runID, By: who, Note: *note, Now: now()})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, struct {
			Plan       *store.Plan  `json:"plan"`
			Superseded []store.Plan `json:"superseded"`
		}{plan, nonNil(superseded)})
	}
	segments := map[int]bool{}
	for _, t := range plan.Targets {
		segments[t.SegmentID] = true
	}
	fmt.Fprintf(stdout, "plan %d committed: run %s (as of %s), horizon %s to %s, %d targets of %d segments\n", plan.ID, plan.RunID, plan.AsOf,
		plan.HorizonStart, plan.HorizonEnd, len(plan.Targets), len(segments))
	fmt.Fprintf(stdout, "  by %s at %s: %s\n", plan.CommittedBy, plan.CommittedAt, firstLine(plan.Note))
	for _, p := range superseded {
		fmt.Fprintf(stdout, "supersedes plan %d (run %s, horizon %s to %s), which stays in the history (crmseg plan show --all)\n",
			p.ID, p.RunID, p.HorizonStart, p.HorizonEnd)
	}
	return nil
}

// currentUser is who runs the command: $USER, or the current user's name.
func currentUser() string {
	if u := strings.TrimSpace(os.Getenv("USER")); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// cmdPlanShow prints the active plans of record, all of them with --all,
// or one.
func cmdPlanShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("crmseg", "plan show", stderr)
	out := fs.String("out", "", "output root (the directory holding history.duckdb)")
	configFile := fs.String("config", "", "take the output root from this config file")
	all := fs.Bool("all", false, "list the superseded plans too")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	cli.Examples(fs, "crmseg plan show --config crmseg.yaml", "crmseg plan show --out crmseg-out --all")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) > 1 {
		return &cli.UsageError{Msg: fmt.Sprintf("plan show shows one plan at a time, found %s", strings.Join(ids, ", "))}
	}
	root, err := outputRoot("plan show", *out, *configFile)
	if err != nil {
		return err
	}
	if len(ids) == 1 {
		id, err := strconv.Atoi(ids[0])
		if err != nil || id < 1 {
			return &cli.UsageError{Msg: fmt.Sprintf("plan show: expected a plan ID, a number (crmseg plan show --all lists them), found %q", ids[0])}
		}
		if *all {
			return &cli.UsageError{Msg: "plan show: --all lists the plans; it does not apply to one plan"}
		}
		p, err := store.ShowPlan(ctx, root, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, p)
		}
		printPlan(stdout, p)
		return nil
	}
	plans, err := store.Plans(ctx, root, *all)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, struct {
			Plans []store.Plan `json:"plans"`
		}{nonNil(plans)})
	}
	printPlans(stdout, plans)
	return nil
}

// nonNil is plans, empty rather than nil: JSON [] rather than null.
func nonNil(plans []store.Plan) []store.Plan {
	if plans == nil {
		return []store.Plan{}
	}
	return plans
}

// printPlans prints one line per plan, then the targets of the active ones.
func printPlans(w io.Writer, plans []store.Plan) {
	if len(plans) == 0 {
		fmt.Fprintln(w, "no plan committed (crmseg plan commit records one)")
		return
	}
	fmt.Fprintf(w, "%4s  %-16s %-24s  %-26s %-20s  %-12s %s\n", "plan", "status", "horizon", "run", "committed", "by", "note")
	for _, p := range plans {
		fmt.Fprintf(w, "%4d  %-16s %s to %s  %-26s %-20s  %-12s %s\n", p.ID, planStatus(p), p.HorizonStart, p.HorizonEnd, p.RunID,
			p.CommittedAt, p.CommittedBy, firstLine(p.Note))
	}
	for _, p := range plans {
		if p.SupersededBy == nil {
			fmt.Fprintf(w, "\nplan %d, %s to %s (run %s, as of %s):\n", p.ID, p.HorizonStart, p.HorizonEnd, p.RunID, p.AsOf)
			printPlanTargets(w, p.Targets)
		}
	}
}

// planStatus is "active" or "superseded by N".
func planStatus(p store.Plan) string {
	if p.SupersededBy == nil {
		return "active"
	}
	return fmt.Sprintf("superseded by %d", *p.SupersededBy)
}

// printPlan prints one plan and its targets.
func printPlan(w io.Writer, p *store.Plan) {
	fmt.Fprintf(w, "plan           %d\n", p.ID)
	status := "active"
	if p.SupersededBy != nil {
		status = fmt.Sprintf("superseded by plan %d at %s", *p.SupersededBy, p.SupersededAt)
	}
	fmt.Fprintf(w, "status         %s\n", status)
	fmt.Fprintf(w, "horizon        %s to %s\n", p.HorizonStart, p.HorizonEnd)
	fmt.Fprintf(w, "run            %s (as of %s), directory %s\n", p.RunID, p.AsOf, p.Directory)
	fmt.Fprintf(w, "committed      %s by %s\n", p.CommittedAt, p.CommittedBy)
	fmt.Fprintf(w, "note           %s\n", strings.ReplaceAll(p.Note, "\n", "\n               "))
	fmt.Fprintln(w, "\ntargets:")
	printPlanTargets(w, p.Targets)
}

// printPlanTargets prints a plan's targets, grouped by segment.
func printPlanTargets(w io.Writer, targets []store.PlanTarget) {
	for i, t := range targets {
		if i == 0 || t.SegmentID != targets[i-1].SegmentID {
			fmt.Fprintf(w, "  segment %d  %s (%s)\n", t.SegmentID, t.SegmentName, cmp.Or(t.Objective, "–"))
			fmt.Fprintf(w, "    %-24s %-10s %14s %14s %14s %14s %7s  %s\n", "metric", "unit", "baseline", "low", "high", "target", "uplift", "method")
		}
		format := "%.2f"
		if t.Unit == "share" {
			format = "%.4f"
		}
		uplift := "–"
		if t.Uplift != nil {
			uplift = fmt.Sprintf("%+.1f%%", 100**t.Uplift)
		}
		fmt.Fprintf(w, "    %-24s %-10s %14s %14s %14s %14s %7s  %s\n", t.Metric, t.Unit, orDash(t.Baseline, format), orDash(t.Low, format),
			orDash(t.High, format), orDash(t.Target, format), uplift, t.Method)
	}
}
