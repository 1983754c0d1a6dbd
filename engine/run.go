package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/scoring"
	"github.com/crmseg/crmseg/segment"
)

// Options are the run's collaborators: where it logs, its clock, its
// version, the exit codes it records.
type Options struct {
	Logger    *slog.Logger     // nil discards
	Now       func() time.Time // nil means time.Now; used only for the run ID and start time
	Version   string           // crmseg's version, for the manifest
	Allocator memory.Allocator // Arrow allocator; nil means memory.DefaultAllocator
	// TrainOnly stops the run once the segments are fitted: the Result
	// carries the model and nothing is published.
	TrainOnly bool
	// Progress, when set, is called as each long step starts (the Step*
	// constants) with its total units, 0 when not known; the run reports
	// to the Progress it returns. nil shows nothing.
	Progress func(step string, total int) Progress
	// ResetSegments lets a run start its segment IDs afresh when neither
	// latest nor any run the history lists as published is left to take
	// them from (the run refuses otherwise), or even when one is: the new
	// IDs start above the highest the output root ever gave.
	ResetSegments bool
	// ExitCode is the code the command exits with for a run's error,
	// recorded with a failed run in the run history (runs.exit_code) and
	// the metrics file (crmseg_last_run_exit_code); a run that succeeded
	// records 0. nil records 1 for every failure. The metrics file's
	// status label does not depend on it (runStatus).
	ExitCode func(err error) int

	failAt string // tests: fail the run at this checkpoint
	// valueLimits: tests of hand-made inputs smaller than the value models
	// need lower the limits (zero: scoring's defaults).
	valueLimits scoring.DataLimits
	// horizonInGo: tests compute the economics horizon's predictions in
	// Go at 12 months too, where a run reads predicted_clv_12m.
	horizonInGo bool
}

// withDefaults fills the collaborators left nil: a logger that discards,
// time.Now, Arrow's default allocator.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	return o
}

// errInjected is the failure tests inject at a checkpoint.
var errInjected = errors.New("injected failure")

// Result is what a successful run produced.
type Result struct {
	RunID    string
	Dir      string // the run's directory
	Latest   string // the output root's latest link
	Manifest *manifest.Manifest
	Segments []SegmentReport
	Model    *segment.Model // the segmentation model of the run
	// HistoryErr is why the run, published, could not be recorded in the
	// output root's run history (a *RunError around a *store.HistoryError);
	// nil when it was.
	HistoryErr error
}

// SegmentReport is the short summary of one segment printed after a run. A
// figure the run leaves out or that is undefined for the segment is NaN:
// Revenue12m when the last 12 months are left out, Retention12m without a
// customer active the year before, the revenue baseline, band and target
// when the segment has no revenue target.
type SegmentReport struct {
	ID                              int
	Name                            string
	Objective                       string
	Customers                       int64
	Revenue12m                      float64
	HistoricalLTV                   float64
	Retention12m                    float64
	RevenueBaseline, RevenueTarget  float64
	RevenueBaselineLow, RevenueHigh float64
}

// run is what is run-wide in one pipeline run: the configuration, the
// collaborators, the DuckDB session, the manifest the stages record into,
// and the timing of the stages. What one stage makes for the next is not
// kept here: pipeline passes it on.
type run struct {
	cfg     config.Config
	opts    Options
	log     *slog.Logger
	s       *session
	man     *manifest.Manifest
	started time.Time
	stage   time.Time
	rssHow  string    // how the current stage's peak memory is measured (StagePeakRSS*)
	mem     *memWatch // the current stage's memory samples, at debug level
	// baseID is the run ID store.NewRunID gives; man.RunID is baseID or
	// baseID-N, the first no run of the output root has used.
	baseID string
	// exp is set when the run is an experiment (RunExperiment).
	exp *experimentRun
}

// Run executes the whole pipeline: check and load the inputs, validate rows,
// build features, segment, score, set targets, measure the plan of record
// whose horizon holds as_of (the scorecard) and publish the tables
// atomically under cfg.Output. Nothing is written to the output root before
// the inputs have passed their schema checks, and a failed run leaves every
// earlier run and the latest link as they were.
//
// One run at a time owns an output root: Run takes its lock (see
// lockOutput) before writing there and fails at once with a
// *store.LockedError when another process holds it. Holding the lock, it
// removes what killed runs left behind and, once the new run is published,
// prunes old runs down to cfg.KeepRuns. A failed run is recorded in the
// run history (see finish). With cfg.MetricsFile set, a run (not a
// TrainOnly one) with a valid configuration writes its outcome there,
// failed or not, unless another run holds the output root: that one owns
// the file. A root that cannot be created or locked is such a failure.
//
// The run ID is made unique in the output root before the first log line
// (store.UniqueRunID); the run refuses an output root whose latest is not a
// link before its work, and one whose previous run is lost once it holds
// the lock (store.FindPrevious).
//
// Run logs its progress and the warnings it does not return, but not the
// error it returns: that is a *RunError, carrying the run's ID, for the
// caller to report. So is Result.HistoryErr.
func Run(ctx context.Context, cfg config.Config, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	if err := checkConfig(&cfg); err != nil {
		return nil, &RunError{Err: err}
	}
	start := time.Now()
	r := &run{cfg: cfg, opts: opts, started: opts.Now().UTC()}
	r.man = &manifest.Manifest{
		Status:    "succeeded",
		StartedAt: r.started.Format(time.RFC3339),
		Seed:      cfg.Seed,
		Config:    cfg,
		Versions:  map[string]string{"crmseg": opts.Version, "go": runtime.Version()},
	}
	r.baseID = store.NewRunID(r.started, cfg)
	r.man.RunID = store.UniqueRunID(ctx, cfg.Output, r.baseID)
	r.log = opts.Logger.With("run_id", r.man.RunID)
	r.log.Info("run started", "transactions", cfg.Inputs.Transactions.Path, "customers", cfg.Inputs.Customers.Path, "output", cfg.Output)

	// The lock execute takes is released when Run returns, after finish
	// has recorded a failure under it, and when the run panics: a
	// panicking run records nothing and writes no metrics.
	var lock *store.Lock
	defer func() { r.release(lock) }()
	res, err := r.execute(ctx, &lock)
	return r.finish(ctx, lock, res, err, time.Since(start))
}

// execute does the run's work, from the check of latest to the record of
// the published run, and sets *lock once it holds the output root. The
// run's DuckDB session is closed when it returns.
func (r *run) execute(ctx context.Context, lock **store.Lock) (*Result, error) {
	cfg := &r.cfg
	r.startStage()
	inputs, err := inspect(cfg)
	if err != nil {
		return nil, err
	}
	r.done("inspect")

	if *lock, err = r.lockOutput(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Output, "runs"), 0o755); err != nil {
		return nil, fmt.Errorf("output root: %w", err)
	}
	r.confirmRunID(ctx)
	prev, err := store.FindPrevious(ctx, cfg.Output, r.opts.ResetSegments, r.log)
	if err != nil {
		return nil, err
	}
	closeSession, err := r.startSession(ctx, cfg.Output)
	if err != nil {
		return nil, err
	}
	defer closeSession()

	res, err := r.pipeline(ctx, inputs, prev)
	if err != nil {
		return nil, err
	}
	if !r.opts.TrainOnly {
		// Published: the history write can no longer endanger the run.
		if err := r.recordSuccess(ctx); err != nil {
			res.HistoryErr = &RunError{RunID: r.man.RunID, Err: err}
		}
		r.prune(ctx)
	}
	return res, nil
}

// startSession opens the run's DuckDB session in a temporary directory
// under dir and records DuckDB's version; the function it returns closes
// it.
func (r *run) startSession(ctx context.Context, dir string) (func(), error) {
	s, closeSession, err := startSession(ctx, &r.cfg, dir, ".tmp-duckdb-", r.log)
	if err != nil {
		return nil, err
	}
	r.s = s
	if v, err := s.queryString(ctx, "SELECT version()"); err == nil {
		r.man.Versions["duckdb"] = v
	}
	return closeSession, nil
}

// finish ends a run that returned, with its result or its error, and
// returns them, the error as a *RunError. A run that succeeded logs that
// it finished. A failed one is recorded in the run history, under the lock
// it holds, or, when it failed before taking it, under the lock taken now
// if it is free (a run in progress keeps the history to itself; a root
// that does not exist or cannot be locked has no history to record in).
// Then, but for a TrainOnly run, the outcome goes to the metrics file,
// unless another run holds the output root. A run refused by the lock
// records nothing: the holder owns the history and the metrics file.
func (r *run) finish(ctx context.Context, lock *store.Lock, res *Result, err error, d time.Duration) (*Result, error) {
	if err == nil {
		r.log.Info("run finished", "dir", res.Dir, "seconds", d.Seconds())
		if !r.opts.TrainOnly {
			r.writeMetrics(nil, d)
		}
		return res, nil
	}
	runErr := &RunError{RunID: r.man.RunID, Err: err}
	r.man.Status = "failed" // the manifest the history keeps says so
	var le *store.LockedError
	if r.opts.TrainOnly || errors.As(err, &le) {
		return nil, runErr
	}
	if lock == nil {
		var held bool
		if lock, held = r.lockForRecord(); held {
			return nil, runErr
		}
		defer r.release(lock)
	}
	if lock != nil {
		r.recordFailure(ctx, err)
	}
	r.writeMetrics(err, d)
	return nil, runErr
}

// release releases the output root's lock, if the run took it.
func (r *run) release(lock *store.Lock) {
	if err := lock.Release(); err != nil {
		r.log.Warn("output root lock not released cleanly", "error", err)
	}
}

// checkpoint ends a stage and fails the run there when a test asks for it.
func (r *run) checkpoint(stage string) error {
	r.done(stage)
	return r.failpoint(stage)
}

func (r *run) failpoint(name string) error {
	if r.opts.failAt == name {
		return fmt.Errorf("%s: %w", name, errInjected)
	}
	return nil
}

// done ends a stage: its wall time and peak memory go into the manifest,
// with the run's peak so far, and the next stage starts.
func (r *run) done(stage string) {
	d := time.Since(r.stage)
	peak := stagePeakRSS(r.rssHow)
	r.man.Timings = append(r.man.Timings, manifest.Timing{Stage: stage, Seconds: math.Round(d.Seconds()*1000) / 1000, PeakRSSBytes: peak})
	r.man.PeakRSSBytes, r.man.StagePeakRSS = PeakRSS(), r.rssHow
	r.log.Info("stage done", "stage", stage, "seconds", d.Seconds(), "peak_rss_bytes", peak)
	if r.mem != nil {
		rss, goAt, goPeak, live := r.mem.end()
		duck := int64(-1)
		if r.s != nil {
			duck = r.s.duckdbMemory(context.Background())
		}
		r.log.Debug("stage memory", "stage", stage, "sampled_peak_rss_bytes", rss, "go_at_peak_bytes", goAt,
			"go_peak_bytes", goPeak, "go_live_heap_bytes", live, "duckdb_bytes_at_end", duck)
	}
	r.startStage()
}

// startStage starts timing a stage and measuring its peak memory.
func (r *run) startStage() {
	r.stage = time.Now()
	r.rssHow = startStagePeakRSS()
	if r.log.Enabled(context.Background(), slog.LevelDebug) {
		r.mem = startMemWatch()
	}
}

// pipeline runs the stages on the inspected inputs, continuing the run
// prev, and measures the plan of record of prev's plans that covers as_of:
// each stage takes what the earlier ones made and returns what it makes.
// Its DuckDB tables pass from stage to stage in the session.
func (r *run) pipeline(ctx context.Context, inputs map[string]*input, prev store.Previous) (*Result, error) {
	s := r.s

	// 1 ingest.
	if err := r.ingest(ctx, inputs); err != nil {
		return nil, err
	}
	if err := r.checkRejects(); err != nil {
		return nil, err
	}
	if err := r.checkpoint("ingest"); err != nil {
		return nil, err
	}

	// 2 features. What the data supplies is known from the inputs' columns
	// until the features are built, then from the accepted lines too.
	if err := r.buildStage(ctx, "features", supply{inputs: inputs}, nil); err != nil {
		return nil, stageError("features", err)
	}
	data, err := r.coverage(ctx, inputs)
	if err != nil {
		return nil, stageError("features", err)
	}
	numeric, err := r.features(data)
	if err != nil {
		return nil, err
	}
	fm, err := s.buildMatrix(ctx, numeric, r.sparseWeight)
	if err != nil {
		return nil, stageError("features", err)
	}
	// The Arrow batches the matrix was filled from are garbage: hand them
	// back before the segment stage works on the matrix.
	debug.FreeOSMemory()
	if err := r.checkpoint("features"); err != nil {
		return nil, err
	}

	// 3 segment. The feature matrix and the fit live in Go: while they do,
	// DuckDB drops the blocks it holds beyond a small budget (its tables
	// stay in the run database's file) and takes its limit back after.
	// First the plan of record's segments, for the scorecard: the customers
	// new since its run take its model's, on the features as they are,
	// before a training scales them in place.
	scope, err := r.planScope(ctx, r.plansOf(prev), fm)
	if err != nil {
		return nil, stageError("segment", err)
	}
	previous, err := r.previousSegments(ctx, prev.Dir)
	if err != nil {
		return nil, stageError("segment", err)
	}
	var seg *segmented
	var segErr error
	if err := s.goPhase(ctx, func() error {
		seg, segErr = r.segment(ctx, fm, prev, data)
		return nil
	}); err != nil {
		return nil, stageError("segment", err)
	}
	if segErr != nil {
		return nil, segErr
	}
	// The feature matrix (not used past this point) and the fit's scratch
	// space are garbage now: hand them back to the system before DuckDB
	// builds the marts, rather than let the heap hold them.
	debug.FreeOSMemory()
	if err := r.checkpoint("segment"); err != nil {
		return nil, err
	}
	if r.opts.TrainOnly {
		return &Result{RunID: r.man.RunID, Manifest: r.man, Model: seg.model}, nil
	}

	// 4 score: customer value in Go, per-segment metrics in SQL. Under
	// value.model: auto or value.spend_model: auto the backtest's fits come
	// first and choose the model the run fits; otherwise they follow, when
	// the run's own histories are garbage.
	model, spendModel := r.cfg.Value.Model, r.cfg.Value.SpendModel
	var cal *calibration
	if model == config.ModelAuto || spendModel == config.ModelAuto {
		if cal, err = r.calibrate(ctx); err != nil {
			return nil, stageError("score", err)
		}
		if model == config.ModelAuto {
			model = r.chooseModel(cal)
		}
		if spendModel == config.ModelAuto && r.man.SpendModelChoice != nil && r.man.SpendModelChoice.Model != "" {
			spendModel = r.man.SpendModelChoice.Model
		}
	}
	val, err := r.customerValue(ctx, model, spendModel)
	if err != nil {
		return nil, stageError("score", err)
	}
	if cal == nil {
		if cal, err = r.calibrate(ctx); err != nil {
			return nil, stageError("score", err)
		}
	}
	bands, err := r.backtest(ctx, cal, model, val.spend.name)
	if err != nil {
		return nil, stageError("score", err)
	}
	if err := r.horizonValue(ctx, val); err != nil {
		return nil, stageError("score", err)
	}
	// The fits' copies of the histories and the predictions are garbage
	// now: hand them back before DuckDB builds the marts.
	debug.FreeOSMemory()
	if err := r.buildStage(ctx, "score", data, nil); err != nil {
		return nil, stageError("score", err)
	}
	if err := r.drift(ctx, previous, data); err != nil {
		return nil, stageError("score", err)
	}
	if err := r.checkpoint("score"); err != nil {
		return nil, err
	}

	// 5 targets.
	reports, err := r.targets(ctx, seg, val, bands)
	if err != nil {
		return nil, stageError("targets", err)
	}
	// The forecasts' groups are garbage now: hand them back.
	debug.FreeOSMemory()
	if err := r.checkpoint("targets"); err != nil {
		return nil, err
	}

	// 6 scorecard.
	if err := r.scorecard(ctx, scope, val); err != nil {
		return nil, stageError("scorecard", err)
	}
	// The value models' histories (1 GB at 10M customers), the last
	// scorecard needed, are garbage now: hand them back before DuckDB
	// sorts and writes the tables.
	debug.FreeOSMemory()
	if err := r.checkpoint("scorecard"); err != nil {
		return nil, err
	}

	// 7 publish.
	res, err := r.publish(ctx, seg.model)
	if err != nil {
		return nil, stageError("publish", err)
	}
	res.Segments = reports
	res.Model = seg.model
	return res, nil
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
