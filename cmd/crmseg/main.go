// Command crmseg is the batch customer segmentation and customer-value
// engine: it reads customer and transaction exports, segments customers,
// computes per-segment value, retention and cross-sell metrics, sets targets
// for the coming year and publishes CRM-ready tables.
//
// Usage:
//
//	crmseg run --config crmseg.yaml [--reset-segments]
//	crmseg run --transactions tx.parquet [--customers c.parquet] [--products p.parquet] --out DIR [--k K] [--seed S] [--as-of DATE]
//	crmseg train --config crmseg.yaml --model-out model.json [--reset-segments]
//	crmseg validate --config crmseg.yaml
//	crmseg generate --out DIR [--customers N] [--seed S]
//	crmseg cluster --features FILE --id-column COLUMN [--columns A,B] [--skip-bad-rows] --out DIR [--k K] [--scale none|standard|robust] [--algorithm A] [--json]
//	crmseg demo [--out DIR] [--customers N] [--seed S] [--k K]
//	crmseg history (--out DIR | --config crmseg.yaml) [--json] [RUN_ID]
//	crmseg plan commit (--out DIR | --config crmseg.yaml) --note WHY [--by WHO] [--json] [RUN_ID|latest]
//	crmseg plan show (--out DIR | --config crmseg.yaml) [--all] [--json] [PLAN_ID]
//	crmseg scenario (--out DIR | --config crmseg.yaml) --set "segment=ID CHANGE..." [--cost AMOUNT] [--cost-per-customer AMOUNT] [--json] [RUN_ID|latest]
//	crmseg config init > crmseg.yaml
//	crmseg experiment run NAME --config variant.yaml [--from RUN_ID|latest] [--out DIR] [--replace]
//	crmseg experiment list (--out DIR | --config crmseg.yaml) [--json]
//	crmseg experiment promote NAME --config NIGHTLY.yaml [--out DIR]
//	crmseg report RUN_DIR [--out FILE]
//	crmseg compare [--out DIR | --config crmseg.yaml] [--json] A B
//	crmseg version
//
// train and validate take those of run's flags that they use (the inputs,
// --out and the settings that override the configuration). Every command but history,
// plan, scenario, config, compare and version takes --log-format text|json and --log-level; those that
// draw progress bars take --no-progress. 'crmseg COMMAND -h' lists a
// command's flags.
//
// Exit codes (exit.go): 0 success, 1 failure, 2 usage or configuration
// error (or an output root no run can go on from, or a plan it cannot
// commit or show, a scenario it cannot compute, or an experiment it cannot run or promote), 3 input data rejected (for an experiment: an input changed since its base run),
// 4 run published (or scenario written) but not recorded in the run
// history, 75 the output root
// is in use by another run (try again later; nothing was done).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/cli"
	"github.com/crmseg/crmseg/segment"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `crmseg — customer segmentation and customer value, in batch

Commands:
  run        run the whole pipeline on the configured inputs
  validate   check the configuration and the inputs as a run would, without clustering, and print a data-quality summary
  train      fit the segmentation and write the model file, without publishing tables
  generate   write a synthetic demo dataset (Parquet) with its ground truth
  cluster    k-means on any table of numeric features (Parquet or CSV)
  demo       generate demo data, run the pipeline on it and print the segments
  history    list the runs of an output root, or show one
  plan       commit a run's targets as the plan of record for their horizon (plan commit), or show the plans (plan show)
  scenario   project a run's segments under a programme's changes against its baselines, with cost, ROI and payback
  config     print a config file of every key with its default and description (config init)
  experiment run a variant configuration on a published run's inputs (experiment run), list them, make one the nightly configuration (experiment promote)
  report     rebuild a published run's report (report.html) from its tables
  compare    compare two runs or experiments: segments, agreement, metrics, targets, choice of k, backtests
  version    print the version

Run 'crmseg COMMAND -h' for a command's flags and examples.

Example:
  crmseg demo --out /tmp/crmseg-demo
  crmseg validate --config crmseg.yaml
  crmseg run --config crmseg.yaml

Exit codes: 0 success, 1 failure, 2 usage or configuration error (or an output root no run can go on from, or a plan it cannot
  commit or show, a scenario it cannot compute, or an experiment it cannot run or promote), 3 input data rejected, 4 run published (or scenario written) but not recorded
  in the run history, 75 the output root is in use by another run (try again later; nothing was done).
`

// Main runs the command line args and returns the exit code. It writes
// results to stdout and logs and errors to stderr. Commands return their
// error; exit reports it and gives the exit code, for every command.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var lf logFlags // the command's logging, once it has set it up
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr, &lf)
	case "generate":
		err = cmdGenerate(ctx, args[1:], stdout, stderr, &lf)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr, &lf)
	case "validate":
		err = cmdValidate(ctx, args[1:], stdout, stderr, &lf)
	case "cluster":
		err = cmdCluster(ctx, args[1:], stdout, stderr, &lf)
	case "train":
		err = cmdTrain(ctx, args[1:], stdout, stderr, &lf)
	case "history":
		err = cmdHistory(ctx, args[1:], stdout, stderr)
	case "plan":
		err = cmdPlan(ctx, args[1:], stdout, stderr, time.Now)
	case "scenario":
		err = cmdScenario(ctx, args[1:], stdout, stderr, time.Now)
	case "config":
		err = cmdConfig(args[1:], stdout, stderr)
	case "experiment":
		err = cmdExperiment(ctx, args[1:], stdout, stderr, &lf, time.Now)
	case "report":
		err = cmdReport(ctx, args[1:], stdout, stderr, &lf)
	case "compare":
		err = cmdCompare(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "crmseg", version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		return exit(stderr, &lf, &cli.UsageError{Msg: fmt.Sprintf("unknown command %q", args[0])}, "")
	}
	return exit(stderr, &lf, err, args[0])
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// logFlags are the logging flags of every command that logs, and the
// logger the command sets up from them: exit logs the command's error
// there once it is set (nil before).
type logFlags struct {
	format, level string
	noProgress    bool
	log           *slog.Logger
}

// register registers --log-format and --log-level, and --no-progress for a
// command that draws progress bars.
func (l *logFlags) register(fs *flag.FlagSet, bars bool) {
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
	if bars {
		fs.BoolVar(&l.noProgress, "no-progress", false, "show no progress bars (they are shown only when stderr is a terminal)")
	}
}

// setup builds the logger writing to w and, when w is a terminal and bars
// are not turned off, the progress bars drawn below the log (nil otherwise).
func (l *logFlags) setup(w io.Writer) (*slog.Logger, func(step string, total int) engine.Progress, error) {
	var progress func(string, int) engine.Progress
	if showProgress(w, l.noProgress) {
		c := &console{w: w}
		w, progress = c, c.progress
	}
	log, err := l.logger(w)
	return log, progress, err
}

// logger builds the logger writing to w, and keeps it for exit.
func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.level)); err != nil {
		return nil, &cli.UsageError{Msg: fmt.Sprintf("--log-level: expected debug, info, warn or error, found %q", l.level)}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch l.format {
	case "text":
		l.log = slog.New(slog.NewTextHandler(w, opts))
	case "json":
		l.log = slog.New(slog.NewJSONHandler(w, opts))
	default:
		return nil, &cli.UsageError{Msg: fmt.Sprintf("--log-format: expected text or json, found %q", l.format)}
	}
	return l.log, nil
}

// runFlags are the flags of run, train and validate: a config file and the
// settings that override it.
type runFlags struct {
	fs                                                        *flag.FlagSet
	config, customers, transactions, products, out, asOf, cpu string
	model, algorithm, metricsFile                             string
	k, threads, keepRuns                                      int
	seed                                                      uint64
}

// The flags of runFlags each of run, train and validate takes: train
// neither assigns with a model nor publishes (no metrics file, no runs to
// prune); validate reads the inputs and checks the configuration, the
// output root's latest and the model file against them, and fits nothing.
var (
	runFlagNames      = []string{"config", "customers", "transactions", "products", "out", "k", "seed", "as-of", "threads", "cpuprofile", "model", "algorithm", "metrics-file", "keep-runs"}
	trainFlagNames    = []string{"config", "customers", "transactions", "products", "out", "k", "seed", "as-of", "threads", "cpuprofile", "algorithm"}
	validateFlagNames = []string{"config", "customers", "transactions", "products", "out", "as-of", "threads", "model"}
)

// newRunFlags registers the logging flags and the named flags of runFlags.
func newRunFlags(name string, stderr io.Writer, lf *logFlags, names []string) *runFlags {
	f := &runFlags{fs: cli.NewFlagSet("crmseg", name, stderr)}
	fs := f.fs
	lf.register(fs, true)
	register := map[string]func(){
		"config":       func() { fs.StringVar(&f.config, "config", "", "YAML config file (flags given as well override it)") },
		"customers":    func() { fs.StringVar(&f.customers, "customers", "", "customers file (optional)") },
		"transactions": func() { fs.StringVar(&f.transactions, "transactions", "", "transactions file") },
		"products":     func() { fs.StringVar(&f.products, "products", "", "products file (optional)") },
		"out":          func() { fs.StringVar(&f.out, "out", "", "output root directory") },
		"k":            func() { fs.IntVar(&f.k, "k", 0, "number of segments") },
		"seed":         func() { fs.Uint64Var(&f.seed, "seed", 0, "random seed") },
		"as-of": func() {
			fs.StringVar(&f.asOf, "as-of", "", "end of the observation window, YYYY-MM-DD (default: latest transaction date)")
		},
		"threads": func() {
			fs.IntVar(&f.threads, "threads", 0, "threads of DuckDB and k-means, 0 = all cores (default: the configuration's threads, all cores when it has none)")
		},
		"cpuprofile": func() { fs.StringVar(&f.cpu, "cpuprofile", "", "write a Go CPU profile to this file") },
		"model": func() {
			fs.StringVar(&f.model, "model", "", "assign customers with this segmentation model (crmseg train, or a run's model.json) instead of training")
		},
		"algorithm": func() {
			fs.StringVar(&f.algorithm, "algorithm", "", "k-means iteration: hamerly (default), lloyd or minibatch")
		},
		"metrics-file": func() {
			fs.StringVar(&f.metricsFile, "metrics-file", "", "write the run's outcome for Prometheus' node_exporter textfile collector to this .prom file")
		},
		"keep-runs": func() {
			fs.IntVar(&f.keepRuns, "keep-runs", 0, "run directories to keep in the output root, 0 = all (default: the configuration's keep_runs, 14 when it has none)")
		},
	}
	for _, n := range names {
		register[n]()
	}
	return f
}

// parse parses args and builds the configuration: the file, then the flags
// given.
func (f *runFlags) parse(args []string) (config.Config, error) {
	if err := cli.Parse(f.fs, args); err != nil {
		return config.Config{}, err
	}
	cfg := config.DefaultConfig()
	if f.config != "" {
		var err error
		if cfg, err = config.LoadConfig(f.config); err != nil {
			return cfg, err
		}
	}
	// Each flag given overrides its key.
	override := map[string]func(){
		"customers":    func() { cfg.Inputs.Customers = config.InputSpec{Path: f.customers} },
		"transactions": func() { cfg.Inputs.Transactions = config.InputSpec{Path: f.transactions} },
		"products":     func() { cfg.Inputs.Products = config.InputSpec{Path: f.products} },
		"out":          func() { cfg.Output = f.out },
		"k":            func() { cfg.Segmentation.K = f.k },
		"seed":         func() { cfg.Seed = f.seed },
		"as-of":        func() { cfg.AsOf = f.asOf },
		"threads":      func() { cfg.Threads = f.threads },
		"model":        func() { cfg.Segmentation.Model = f.model },
		"algorithm":    func() { cfg.Segmentation.Algorithm = f.algorithm },
		"metrics-file": func() { cfg.MetricsFile = f.metricsFile },
		"keep-runs":    func() { cfg.KeepRuns = f.keepRuns },
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) {
		set[fl.Name] = true
		if apply, ok := override[fl.Name]; ok {
			apply()
		}
	})
	if cfg.Segmentation.Model != "" && (set["k"] || cfg.Segmentation.ChooseK != nil) {
		cfg.Segmentation.ChooseK = nil // the model fixes the segments
	}
	if set["k"] && cfg.Segmentation.Assignments != "" {
		return cfg, &config.ConfigError{Problems: []string{"--k: segmentation.assignments fixes the segments, so it excludes k: drop --k, or segmentation.assignments to train"}}
	}
	if set["k"] && f.k > 0 {
		// A fixed k replaces the file's segmentation.choose_k, as every
		// flag replaces its key: choosing k would otherwise ignore it.
		cfg.Segmentation.ChooseK = nil
	}
	if f.config == "" && !set["transactions"] {
		return cfg, &cli.UsageError{Msg: f.fs.Name() + " needs --config or --transactions"}
	}
	return cfg, nil
}

// profile starts the CPU profile if asked and returns its stop function.
func (f *runFlags) profile() (func(), error) {
	if f.cpu == "" {
		return func() {}, nil
	}
	out, err := os.Create(f.cpu)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); out.Close() }, nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer, lf *logFlags) error {
	f := newRunFlags("run", stderr, lf, runFlagNames)
	reset := resetSegmentsFlag(f.fs)
	cli.Examples(f.fs, "crmseg run --config crmseg.yaml",
		"crmseg run --transactions tx.parquet --customers customers.parquet --out crmseg-out --k 6")
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	log, progress, err := lf.setup(stderr)
	if err != nil {
		return err
	}
	stop, err := f.profile()
	if err != nil {
		return err
	}
	defer stop()
	res, err := engine.Run(ctx, cfg, runOptions(log, progress, *reset))
	if err != nil {
		return err
	}
	printSegments(stdout, res)
	if res.Model != nil {
		printKSelection(stdout, res.Model.Training.KSelection, res.Model.Training.K, res.Model.Training.KReason)
	}
	return res.HistoryErr // published, but not recorded: exit 4
}

// runOptions are the engine.Options of the commands that run the pipeline.
func runOptions(log *slog.Logger, progress func(string, int) engine.Progress, reset bool) engine.Options {
	return engine.Options{Logger: log, Version: version(), Progress: progress, ResetSegments: reset, ExitCode: exitCode}
}

// resetSegmentsFlag registers --reset-segments (engine.Options.ResetSegments).
func resetSegmentsFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("reset-segments", false, "number the segments afresh, above the highest ID the output root ever gave: "+
		"needed when latest and the published runs of the run history are lost")
}

// cmdTrain fits the segmentation on the configured inputs (matching its
// segments to the output root's latest model, if any) and writes the model
// file, without publishing tables.
func cmdTrain(ctx context.Context, args []string, stdout, stderr io.Writer, lf *logFlags) error {
	f := newRunFlags("train", stderr, lf, trainFlagNames)
	modelOut := f.fs.String("model-out", "", "where to write the model file (JSON)")
	reset := resetSegmentsFlag(f.fs)
	cli.Examples(f.fs, "crmseg train --config crmseg.yaml --model-out model.json",
		"crmseg run --config crmseg.yaml --model model.json")
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	if *modelOut == "" {
		return &cli.UsageError{Msg: "train needs --model-out"}
	}
	if st, err := os.Stat(filepath.Dir(*modelOut)); err != nil || !st.IsDir() {
		// Found before the training, not after it.
		return &cli.UsageError{Msg: fmt.Sprintf("--model-out: expected a file in an existing directory, found %s, whose directory %s does not exist",
			*modelOut, filepath.Dir(*modelOut))}
	}
	if cfg.Segmentation.Model != "" {
		return &cli.UsageError{Msg: "train fits a model: --model (or segmentation.model) does not apply"}
	}
	log, progress, err := lf.setup(stderr)
	if err != nil {
		return err
	}
	stop, err := f.profile()
	if err != nil {
		return err
	}
	defer stop()
	opts := runOptions(log, progress, *reset)
	opts.TrainOnly = true
	res, err := engine.Run(ctx, cfg, opts)
	if err != nil {
		return err
	}
	if err := res.Model.Write(*modelOut); err != nil {
		return err
	}
	m := res.Model
	fmt.Fprintf(stdout, "model: %d segments on %d customers, %d features; written to %s\n", len(m.Segments), m.Training.Rows, len(m.Scaler.Features), *modelOut)
	for _, s := range m.Segments {
		fmt.Fprintf(stdout, "  %3d  %-44s %8d  %5.1f%%\n", s.ID, s.Name, s.Size, 100*s.Share)
	}
	if res.Manifest.Quality.Segmentation.Source == "retrained" {
		for _, c := range m.Changes {
			if c.Change != "kept" {
				fmt.Fprintf(stdout, "  segment %d %s\n", c.ID, describeChange(c))
			}
		}
	}
	printKSelection(stdout, m.Training.KSelection, m.Training.K, m.Training.KReason)
	return nil
}

// describeChange says what happened to a segment at a retraining.
func describeChange(c segment.SegmentChange) string {
	switch {
	case c.Change == "new" && c.From > 0:
		return fmt.Sprintf("is new, split from segment %d", c.From)
	case c.Change == "retired" && c.Into > 0:
		return fmt.Sprintf("is retired, merged into segment %d", c.Into)
	}
	return "is " + c.Change
}

// printKSelection prints the figures per k tried, when more than one was.
func printKSelection(w io.Writer, rows []segment.KRow, chosen int, reason string) {
	if len(rows) < 2 {
		return
	}
	fmt.Fprintf(w, "\nchoosing k (silhouette and Calinski-Harabasz: higher is better; Davies-Bouldin: lower):\n")
	fmt.Fprintf(w, "  %3s %14s %11s %18s %15s %10s %15s\n", "k", "inertia", "silhouette", "Calinski-Harabasz", "Davies-Bouldin", "stability", "smallest share")
	for _, r := range rows {
		mark := " "
		if r.K == chosen {
			mark = "*"
		}
		fmt.Fprintf(w, "%s %3d %14.1f %11.3f %18.1f %15.3f %10.3f %14.1f%%\n", mark, r.K, r.Inertia, r.Silhouette, r.CalinskiHarabasz, r.DaviesBouldin, r.Stability, 100*r.SmallestShare)
	}
	if reason != "" {
		fmt.Fprintf(w, "  %s\n", reason)
	}
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer, lf *logFlags) error {
	f := newRunFlags("validate", stderr, lf, validateFlagNames)
	cli.Examples(f.fs, "crmseg validate --config crmseg.yaml", "crmseg validate --transactions tx.csv --customers customers.csv")
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	log, progress, err := lf.setup(stderr)
	if err != nil {
		return err
	}
	v, err := engine.Validate(ctx, cfg, engine.Options{Logger: log, Version: version(), Progress: progress})
	if v != nil {
		printValidation(stdout, v)
	}
	return err
}

// printValidation prints the data-quality summary of validate.
func printValidation(w io.Writer, v *engine.Validation) {
	fmt.Fprintln(w, "inputs:")
	for _, in := range v.Inputs {
		fmt.Fprintf(w, "  %-12s %-7s %10d rows  %s\n", in.Table, in.Format, in.Rows, in.Path)
	}
	// The reject share is of the rows in the window: rows after an explicit
	// as_of are neither accepted nor rejected.
	window := v.TransactionsRead - v.TransactionsAfterAsOf
	rejected := window - v.TransactionsAccepted
	share := 0.0
	if window > 0 {
		share = float64(rejected) / float64(window)
	}
	fmt.Fprintf(w, "transactions: %d read, %d accepted, %d rejected (%.2f%%; at most %.2f%% allowed)\n",
		v.TransactionsRead, v.TransactionsAccepted, rejected, 100*share, 100*v.MaxShare)
	if v.TransactionsAfterAsOf > 0 || v.CustomersAfterAsOf > 0 {
		fmt.Fprintf(w, "outside the window (after as_of %s, not rejected): %d transaction rows; %d customers, not yet customers then\n",
			v.AsOf, v.TransactionsAfterAsOf, v.CustomersAfterAsOf)
	}
	printCounts(w, "rejected rows by reason (first example):", 33, v.Rejects)
	printCounts(w, "values set to null, the customers kept (first example):", 44, v.ValuesSetToNull)
	if v.SeparatedBlock != nil {
		fmt.Fprintf(w, "warning: %s (wider than %d days; not rejected)\n", v.SeparatedBlock, v.SeparatedBlock.BlockGapDays)
	}
	fmt.Fprintf(w, "accepted lines from %s to %s; as_of %s; %d returns\n", v.FirstTS, v.LastTS, v.AsOf, v.Returns)
	for _, c := range v.Windows {
		fmt.Fprintf(w, "window %-12s %s to %s: the data covers %d of %d days (%.1f%%)\n",
			c.Window, c.Start, c.End, c.CoveredDays, c.Days, 100*c.Coverage)
	}
	if len(v.MetricsLeftOut) > 0 {
		fmt.Fprintln(w, "metrics a run leaves out:")
		for _, l := range v.MetricsLeftOut {
			fmt.Fprintf(w, "  %-26s %s\n", l.Metric, l.Reason)
		}
	}
	fmt.Fprintf(w, "customers: %d (%d with an order); orphan transaction rows (unknown customer): %d\n",
		v.Customers, v.CustomersWithOrders, v.Orphans)
	for _, warning := range v.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
}

// printSegments prints the short table of segments and where the outputs are.
func printSegments(w io.Writer, res *engine.Result) {
	m := res.Manifest
	segments := "segments"
	if m.Quality.Segmentation.K == 1 {
		segments = "segment"
	}
	fmt.Fprintf(w, "run %s  as of %s  %d customers  %d %s\n\n", res.RunID, m.AsOf,
		m.Quality.Segmentation.Customers, m.Quality.Segmentation.K, segments)
	width := len("segment")
	for _, s := range res.Segments {
		width = max(width, utf8.RuneCountInString(s.Name))
	}
	fmt.Fprintf(w, "%-3s %-*s %-17s %9s %13s %10s %7s %14s %14s\n", "id", width, "segment", "objective",
		"customers", "revenue 12m", "hist. LTV", "retain", "baseline rev", "target rev")
	for _, s := range res.Segments {
		// A figure left out or undefined (NaN) prints as "–": retention
		// without a customer active the year before, revenue of a window
		// the data does not cover, no revenue target.
		retain := "–"
		if !math.IsNaN(s.Retention12m) {
			retain = fmt.Sprintf("%.1f%%", 100*s.Retention12m)
		}
		fmt.Fprintf(w, "%-3d %s %-17s %9d %s %s %s %s %s\n", s.ID, pad(s.Name, -width), s.Objective,
			s.Customers, pad(figure(s.Revenue12m, 0), 13), pad(figure(s.HistoricalLTV, 2), 10), pad(retain, 7),
			pad(figure(s.RevenueBaseline, 0), 14), pad(figure(s.RevenueTarget, 0), 14))
	}
	if bt := m.Backtest; bt != nil {
		switch {
		case bt.Error != "" && len(bt.Compared) > 0:
			fmt.Fprintf(w, "\nbacktest (%s holdout, models fitted to %s): no figures from %s, the model in use\n", bt.Holdout, bt.CalibrationEnd, bt.Model)
		case bt.Error != "":
			fmt.Fprintf(w, "\nbacktest (%s holdout): %s\n", bt.Holdout, bt.Error)
		default:
			fmt.Fprintf(w, "\nbacktest over the %s to %s, models fitted to %s on its %d customers: predicted %.0f purchases and %.0f revenue, actual %d and %.0f (%s, %s)\n",
				bt.Holdout, bt.HoldoutEnd, bt.CalibrationEnd, bt.Customers, bt.PredictedPurchases, bt.PredictedRevenue,
				bt.ActualPurchases, bt.ActualRevenue, percent(relDiff(bt.PredictedPurchases, float64(bt.ActualPurchases))),
				percent(relDiff(bt.PredictedRevenue, bt.ActualRevenue)))
		}
		if ch := m.ModelChoice; ch != nil {
			fmt.Fprintf(w, "value.model auto: %s, %s\n", ch.Model, ch.Reason)
		}
		// Each purchase model's figures, the one in use first.
		for _, c := range bt.Compared {
			if c.Error != "" {
				fmt.Fprintf(w, "  %-10s not used: %s\n", c.Model, c.Error)
				continue
			}
			fmt.Fprintf(w, "  %-10s predicted %s purchases and %s revenue (%s, %s)\n", c.Model,
				figure(float64(c.PredictedPurchases), 0), figure(float64(c.PredictedRevenue), 0),
				percent(100*float64(c.PurchasesError)), percent(100*float64(c.RevenueError)))
		}
	}
	if sc := m.Scorecard; sc != nil {
		fmt.Fprintf(w, "\nscorecard against plan %d (horizon %s to %s, day %d): %d ahead, %d on track, %d at risk, %d behind (segment_scorecard)\n",
			sc.PlanID, sc.HorizonStart, sc.HorizonEnd, sc.DaysElapsed, sc.Ahead, sc.OnTrack, sc.AtRisk, sc.Behind)
		if sc.UnassignedCustomers > 0 {
			fmt.Fprintf(w, "  %d customers new since the plan's run left out: the plan's model cannot assign them (see the log)\n", sc.UnassignedCustomers)
		}
	}
	if res.Latest == "" { // an experiment: latest is not moved
		fmt.Fprintf(w, "\noutputs: %s\nreport:  %s\n", res.Dir, filepath.Join(res.Dir, engine.ReportFile))
		return
	}
	fmt.Fprintf(w, "\noutputs: %s (latest: %s)\nreport:  %s\n", res.Dir, res.Latest, filepath.Join(res.Dir, engine.ReportFile))
}

// figure formats a summary figure with its decimals, "–" when it is left out
// or undefined (NaN or infinite).
func figure(x float64, decimals int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%.*f", decimals, x)
}

// pad pads s with spaces to width characters (runes, so that "–" and
// accented names line up): on the left for a positive width, on the right
// for a negative one.
func pad(s string, width int) string {
	n := utf8.RuneCountInString(s)
	if width < 0 {
		return s + strings.Repeat(" ", max(-width-n, 0))
	}
	return strings.Repeat(" ", max(width-n, 0)) + s
}

// percent formats a signed percentage, "–" when undefined (nothing actual
// to compare with).
func percent(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%+.1f%%", x)
}

// relDiff is how far predicted is from actual, in percent of actual.
func relDiff(predicted, actual float64) float64 {
	if actual == 0 {
		return math.NaN()
	}
	return 100 * (predicted/actual - 1)
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, lf *logFlags) error {
	fs := cli.NewFlagSet("crmseg", "demo", stderr)
	lf.register(fs, true)
	out := fs.String("out", "demo-out", "directory for the demo data and outputs")
	n := fs.Int("customers", 20000, "customers to generate")
	seed := fs.Uint64("seed", 1, "random seed of the generator and the run")
	k := fs.Int("k", 0, "number of segments; 0 chooses k from 3 to 8 and prints the figures per k")
	cli.Examples(fs, "crmseg demo --out /tmp/crmseg-demo", "crmseg demo --customers 5000 --k 5")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	log, progress, err := lf.setup(stderr)
	if err != nil {
		return err
	}
	dataDir := out2(*out, "data")
	start := time.Now()
	sum, err := generate(ctx, *n, *seed, dataDir, progress)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %d customers, %d order lines in %s (%.1fs)\n", sum.Customers, sum.Lines, dataDir, time.Since(start).Seconds())
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{
		Customers:    config.InputSpec{Path: out2(dataDir, "customers.parquet")},
		Transactions: config.InputSpec{Path: out2(dataDir, "transactions.parquet")},
		Products:     config.InputSpec{Path: out2(dataDir, "products.parquet")},
	}
	cfg.Output = out2(*out, "out")
	cfg.Seed = *seed
	if *k > 0 {
		cfg.Segmentation.K = *k
	} else {
		cfg.Segmentation.ChooseK = &config.ChooseK{Min: 3, Max: 8, MinSize: 0.03, Bootstraps: 5}
	}
	cfg.Value.BacktestHoldout = "26w"
	start = time.Now()
	res, err := engine.Run(ctx, cfg, runOptions(log, progress, false))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pipeline finished in %.1fs\n\n", time.Since(start).Seconds())
	printSegments(stdout, res)
	printKSelection(stdout, res.Model.Training.KSelection, res.Model.Training.K, res.Model.Training.KReason)
	return res.HistoryErr // published, but not recorded: exit 4
}

// printCounts prints counts per table and reason under a heading, each with
// its first example, the reason padded to width; nothing when there are
// none.
func printCounts(w io.Writer, heading string, width int, counts []manifest.RejectCount) {
	if len(counts) == 0 {
		return
	}
	fmt.Fprintln(w, heading)
	for _, r := range counts {
		fmt.Fprintf(w, "  %-12s %-*s %10d", r.Table, width, r.Reason, r.Rows)
		if r.Example != nil {
			fmt.Fprintf(w, "  %s", r.Example)
		}
		fmt.Fprintln(w)
	}
}
