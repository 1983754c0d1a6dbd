package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/cli"
)

// cmdHistory lists the runs recorded in an output root's run history, or
// shows one of them: its figures, segments, targets and migration.
//
//	crmseg history --out ROOT [--json] [--kind run|experiment|all]
//	crmseg history --out ROOT [--json] RUN_ID    (or --run RUN_ID)
func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("crmseg", "history", stderr)
	out := fs.String("out", "", "output root (the directory holding history.duckdb)")
	configFile := fs.String("config", "", "take the output root from this config file")
	runID := fs.String("run", "", "show this run (or give its ID as an argument)")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	cli.Examples(fs, "crmseg history --config crmseg.yaml", "crmseg history --out crmseg-out --json RUN_ID")
	kind := fs.String("kind", "all", "list only runs (run), only experiments (experiment), or both (all)")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *runID != "" {
		ids = append(ids, *runID)
	}
	if len(ids) > 1 {
		return &cli.UsageError{Msg: fmt.Sprintf("history shows one run at a time, found %s", strings.Join(ids, ", "))}
	}
	root, err := outputRoot("history", *out, *configFile)
	if err != nil {
		return err
	}

	if len(ids) == 0 {
		runs, err := store.List(ctx, root)
		if err != nil {
			return err
		}
		switch *kind {
		case "all":
		case "run", "experiment":
			runs = slices.DeleteFunc(runs, func(r store.HistoryRun) bool { return r.Kind != *kind })
		default:
			return &cli.UsageError{Msg: fmt.Sprintf("--kind: expected run, experiment or all, found %q", *kind)}
		}
		if *asJSON {
			return writeJSON(stdout, struct {
				Runs []store.HistoryRun `json:"runs"`
			}{runs})
		}
		printHistory(stdout, runs)
		return nil
	}
	d, err := store.Show(ctx, root, ids[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, d)
	}
	printHistoryRun(stdout, d)
	return nil
}

// parseInterspersed parses args, flags and arguments in any order, and
// returns the arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &cli.UsageError{Msg: err.Error()}
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// outputRoot is the output root a command that reads it (history, plan) is
// given: --out, or the output of the --config file.
func outputRoot(command, out, configFile string) (string, error) {
	if out == "" && configFile != "" {
		cfg, err := config.LoadConfig(configFile)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			return "", err
		}
		out = cfg.Output
	}
	if out == "" {
		return "", &cli.UsageError{Msg: command + " needs --out (the output root) or --config"}
	}
	return out, nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// orDash formats a figure a failed run may lack.
func orDash[T int64 | float64](v *T, format string) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf(format, *v)
}

// printHistory prints one line per run, oldest first.
func printHistory(w io.Writer, runs []store.HistoryRun) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "no runs recorded")
		return
	}
	fmt.Fprintf(w, "%-26s %-10s %-10s %9s %3s %8s %7s %-20s %8s  %s\n",
		"run", "status", "as of", "customers", "k", "rejected", "moved", "delta new/chg/exit", "seconds", "scorecard")
	for _, r := range runs {
		delta := "–"
		if r.DeltaNew != nil {
			delta = fmt.Sprintf("%d/%d/%d", *r.DeltaNew, *r.DeltaChanged, *r.DeltaExit)
		}
		moved := "–"
		if r.ChangedShare != nil && r.Compared != nil && *r.Compared > 0 {
			moved = fmt.Sprintf("%.1f%%", 100**r.ChangedShare)
		}
		fmt.Fprintf(w, "%-26s %-10s %-10s %9s %3s %8s %7s %-20s %8.1f  %s", r.RunID, r.Status, cmp.Or(r.AsOf, "–"),
			orDash(r.Customers, "%d"), orDash(r.K, "%d"), orDash(r.RejectedRows, "%d"), moved, delta, r.Seconds, scorecardSummary(r))
		if e := experimentKind(r); e != "" {
			fmt.Fprintf(w, "  %s", e)
		}
		if r.Status != "succeeded" {
			fmt.Fprintf(w, "  %s: %s", r.FailedStage, firstLine(r.Error))
		}
		fmt.Fprintln(w)
	}
}

// scorecardSummary is a run's scorecard in short: its plan and the plan's
// targets by status, "–" without one.
func scorecardSummary(r store.HistoryRun) string {
	if r.ScorecardPlanID == nil {
		return "–"
	}
	return fmt.Sprintf("plan %d: %s ahead, %s on track, %s at risk, %s behind", *r.ScorecardPlanID, orDash(r.ScorecardAhead, "%d"),
		orDash(r.ScorecardOnTrack, "%d"), orDash(r.ScorecardAtRisk, "%d"), orDash(r.ScorecardBehind, "%d"))
}

// printHistoryRun prints what the history keeps of one run.
func printHistoryRun(w io.Writer, d *store.HistoryDetail) {
	r := d.Run
	fmt.Fprintf(w, "run            %s\n", r.RunID)
	fmt.Fprintf(w, "status         %s (exit %d)\n", r.Status, r.ExitCode)
	if e := experimentKind(r); e != "" {
		fmt.Fprintf(w, "kind           %s\n", e)
	}
	if r.Status != "succeeded" {
		fmt.Fprintf(w, "failed in      %s: %s\n", r.FailedStage, r.Error)
	}
	fmt.Fprintf(w, "as of          %s\n", cmp.Or(r.AsOf, "–"))
	fmt.Fprintf(w, "started        %s, %.1f s\n", r.StartedAt, r.Seconds)
	if r.Directory != "" {
		fmt.Fprintf(w, "directory      %s\n", r.Directory)
	}
	if r.TransactionsRead != nil {
		fmt.Fprintf(w, "transactions   %d read, %d accepted; %d rows rejected\n", *r.TransactionsRead, *r.TransactionsAccepted, *r.RejectedRows)
	}
	if r.K != nil {
		fmt.Fprintf(w, "segmentation   k %d (%s), %d customers, inertia %s, silhouette %s, hysteresis kept %s\n", *r.K, r.Source,
			*r.Customers, orDash(r.Inertia, "%.1f"), orDash(r.Silhouette, "%.3f"), orDash(r.HysteresisKept, "%d"))
	}
	if r.Compared != nil {
		fmt.Fprintf(w, "previous run   %d customers compared, %s changed segment\n", *r.Compared, orDash(r.ChangedShare, "%.4f"))
		fmt.Fprintf(w, "delta          %s new, %s changed, %s exit\n", orDash(r.DeltaNew, "%d"), orDash(r.DeltaChanged, "%d"), orDash(r.DeltaExit, "%d"))
	}
	if len(d.Timings) > 0 {
		var parts []string
		for _, t := range d.Timings {
			part := fmt.Sprintf("%s %.2fs", t.Stage, t.Seconds)
			if t.PeakRSSBytes > 0 {
				part += " " + formatBytes(t.PeakRSSBytes)
			}
			parts = append(parts, part)
		}
		fmt.Fprintf(w, "timings        %s\n", strings.Join(parts, ", "))
	}
	if r.PeakRSSBytes != nil {
		how := ""
		if r.StagePeakRSS == engine.StagePeakRSSSoFar {
			how = " (stage figures are the peak so far)"
		}
		fmt.Fprintf(w, "peak memory    %s%s\n", formatBytes(*r.PeakRSSBytes), how)
	}
	for _, in := range d.Inputs {
		fmt.Fprintf(w, "input          %-12s %10d rows  %s\n", in.Table, in.Rows, in.Path)
	}
	for _, rc := range d.Rejects {
		fmt.Fprintf(w, "rejected       %-12s %-30s %8d\n", rc.Table, rc.Reason, rc.Rows)
	}
	for _, p := range d.Plans {
		fmt.Fprintf(w, "plan           %d, %s, horizon %s to %s, committed %s by %s (crmseg plan show %d)\n", p.ID, planStatus(p),
			p.HorizonStart, p.HorizonEnd, p.CommittedAt, p.CommittedBy, p.ID)
	}
	if r.ScorecardPlanID != nil {
		fmt.Fprintf(w, "scorecard      %s\n", scorecardSummary(r))
	}
	if len(d.Segments) > 0 {
		fmt.Fprintf(w, "\nsegments:\n  %3s  %-44s %9s %7s %10s  %s\n", "id", "segment", "customers", "share", "hist. LTV", "objective")
		for _, s := range d.Segments {
			fmt.Fprintf(w, "  %3d  %-44s %9d %6.1f%% %10.2f  %s\n", s.ID, s.Name, s.Customers, 100*s.Share, s.HistoricalLTV, s.Objective)
		}
	}
	if len(d.Targets) > 0 {
		fmt.Fprintf(w, "\ntargets (next 12 months):\n  %3s  %-24s %14s %14s %14s %14s\n", "id", "metric", "baseline", "low", "high", "target")
		for _, t := range d.Targets {
			fmt.Fprintf(w, "  %3d  %-24s %14s %14s %14s %14s\n", t.SegmentID, t.Metric,
				orDash(t.Baseline, "%.4f"), orDash(t.Low, "%.4f"), orDash(t.High, "%.4f"), orDash(t.Target, "%.4f"))
		}
	}
	if len(d.Scorecard) > 0 {
		c := d.Scorecard[0]
		fmt.Fprintf(w, "\nscorecard (plan %d, day %d of %d):\n  %3s  %-24s %14s %14s %14s %14s  %s\n", c.PlanID, c.DaysElapsed, c.HorizonDays,
			"id", "metric", "actual", "expected", "target", "projected", "status")
		for _, c := range d.Scorecard {
			fmt.Fprintf(w, "  %3d  %-24s %14s %14s %14s %14s  %s\n", c.SegmentID, c.Metric, orDash(c.ActualToDate, "%.4f"),
				orDash(c.Expected, "%.4f"), orDash(c.Target, "%.4f"), orDash(c.Projected, "%.4f"), cmp.Or(c.Status, "–"))
		}
	}
	if len(d.Migration) > 0 {
		fmt.Fprintf(w, "\nmigration since the previous run:\n  %6s %6s %9s\n", "from", "to", "customers")
		for _, m := range d.Migration {
			fmt.Fprintf(w, "  %6s %6s %9d\n", orDash(m.From, "%d"), orDash(m.To, "%d"), m.Customers)
		}
	}
}

// formatBytes formats a memory size in binary units: "512 KiB", "1.5 GiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	if v < 10 {
		return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
	}
	return fmt.Sprintf("%.0f %ciB", v, "KMGTP"[i])
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
