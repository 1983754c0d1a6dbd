package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
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
	"github.com/crmseg/crmseg/engine/segmentation"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/scoring"
	"github.com/crmseg/crmseg/segment"
)

// Options are the run's collaborators: where it logs, its clock, its version.
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

	failAt string // tests: fail the run at this checkpoint
	// valueLimits: tests of hand-made inputs smaller than the value models
	// need lower the limits (zero: scoring's defaults).
	valueLimits scoring.DataLimits
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
	// output root's run history (a *HistoryError); nil when it was.
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

// run carries the state of one pipeline run between stages.
type run struct {
	cfg     config.Config
	opts    Options
	log     *slog.Logger
	s       *session
	inputs  map[string]*input
	man     *manifest.Manifest
	started time.Time
	stage   time.Time
	rssHow  string         // how the current stage's peak memory is measured (StagePeakRSS*)
	model   *segment.Model // the run's segmentation model
	value   *valueFit      // the customer-value models and their histories
	// prev is the run this one continues (store.FindPrevious), found once
	// the run holds the output root. previous is its
	// customer_segments.parquet, from the segment stage on.
	prev     store.Previous
	previous string
	// filled says which optional columns the accepted lines fill; nil
	// until the features are built (see coverage).
	filled *dataFilled
	// baseID is the run ID newRunID gives; man.RunID is baseID or
	// baseID-N, the first no run of the output root has used.
	baseID string
}

// Run executes the whole pipeline: check and load the inputs, validate rows,
// build features, segment, score, set targets and publish the tables
// atomically under cfg.Output. Nothing is written to the output root before
// the inputs have passed their schema checks, and a failed run leaves every
// earlier run and the latest link as they were.
//
// One run at a time owns an output root: Run takes its lock (see
// lockOutput) before writing there and returns a *LockedError at once when
// another process holds it. Holding the lock, it removes what killed runs
// left behind and, once the new run is published, prunes old runs down to
// cfg.KeepRuns. With cfg.MetricsFile set, a run (not a TrainOnly one) with
// a valid configuration writes its outcome there, failed or not, unless
// another run holds the output root: that one owns the file. A root that
// cannot be created or locked is such a failure.
//
// The run ID is made unique in the output root before the first log line
// (uniqueRunID); the run refuses an output root whose latest is not a link
// before its work, and one whose previous run is lost once it holds the
// lock (findPrevious).
func Run(ctx context.Context, cfg config.Config, opts Options) (res *Result, err error) {
	opts = opts.withDefaults()
	if err := cfg.Validate(); err != nil {
		opts.Logger.Error("run failed", "error", err, "exit_code", ExitCode(err))
		return nil, err
	}
	if cfg.MetricsFile != "" {
		if st, err := os.Stat(filepath.Dir(cfg.MetricsFile)); err != nil || !st.IsDir() {
			err := &config.ConfigError{Problems: []string{fmt.Sprintf("metrics_file: directory %s does not exist", filepath.Dir(cfg.MetricsFile))}}
			opts.Logger.Error("run failed", "error", err, "exit_code", ExitCode(err))
			return nil, err
		}
	}
	clock := time.Now()
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

	var lock *store.Lock
	defer func() {
		if err := lock.Release(); err != nil {
			r.log.Warn("output root lock not released cleanly", "error", err)
		}
	}()
	defer func() {
		var le *store.LockedError
		switch {
		case errors.As(err, &le):
			// The holder's run owns the history and the metrics file.
			r.log.Error("output root locked", "error", err, "exit_code", ExitCode(err))
			return
		case err != nil:
			r.log.Error("run failed", "error", err, "exit_code", ExitCode(err))
		case res != nil:
			r.log.Info("run finished", "dir", res.Dir, "seconds", time.Since(clock).Seconds())
		}
		if opts.TrainOnly || (err == nil && res == nil) { // res nil: panicking
			return
		}
		if err != nil && lock == nil {
			// Failed before taking the lock: record the failure in the
			// history only if the lock is free now, and in the metrics
			// file unless another run holds it: a run in progress keeps
			// both to itself. A root that cannot be created or locked has
			// no history to record in, but the metrics file still hears.
			var held bool
			if lock, held = r.lockForRecord(); held {
				return
			}
		}
		if err != nil && lock != nil {
			r.recordFailure(ctx, err)
		}
		if cfg.MetricsFile != "" {
			r.writeMetrics(err, time.Since(clock))
		}
	}()

	if err := store.CheckLatest(cfg.Output); err != nil {
		return nil, err
	}
	r.startStage()
	inputs, err := inspectInputs(&cfg)
	if err != nil {
		return nil, err
	}
	r.inputs = inputs
	r.done("inspect")

	if lock, err = r.lockOutput(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Output, "runs"), 0o755); err != nil {
		return nil, fmt.Errorf("output root: %w", err)
	}
	r.confirmRunID(ctx)
	if r.prev, err = store.FindPrevious(ctx, cfg.Output, opts.ResetSegments, r.log); err != nil {
		return nil, err
	}
	s, closeSession, err := startSession(ctx, &cfg, cfg.Output, ".tmp-duckdb-", r.log)
	if err != nil {
		return nil, err
	}
	defer closeSession()
	r.s = s
	if v, err := s.queryString(ctx, "SELECT version()"); err == nil {
		r.man.Versions["duckdb"] = v
	}

	if res, err = r.pipeline(ctx); err != nil {
		return nil, err
	}
	if !opts.TrainOnly {
		// Published: the history write can no longer endanger the run.
		res.HistoryErr = r.recordSuccess(ctx)
		r.prune()
	}
	return res, nil
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
	r.startStage()
}

// startStage starts timing a stage and measuring its peak memory.
func (r *run) startStage() {
	r.stage = time.Now()
	r.rssHow = startStagePeakRSS()
}

func (r *run) pipeline(ctx context.Context) (*Result, error) {
	s := r.s

	// 1 ingest.
	if err := r.ingest(ctx); err != nil {
		return nil, err
	}
	if err := r.checkRejects(); err != nil {
		return nil, err
	}
	if err := r.checkpoint("ingest"); err != nil {
		return nil, err
	}

	// 2 features.
	if err := r.buildStage(ctx, "features", nil); err != nil {
		return nil, stageError("features", err)
	}
	if err := r.coverage(ctx); err != nil {
		return nil, stageError("features", err)
	}
	numeric, err := r.features()
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
	var segs []segmentation.Segment
	var segErr error
	if err := s.goPhase(ctx, func() error {
		segs, segErr = r.segment(ctx, fm)
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
		return &Result{RunID: r.man.RunID, Manifest: r.man, Model: r.model}, nil
	}

	// 4 score: customer value in Go, per-segment metrics in SQL.
	if err := r.customerValue(ctx); err != nil {
		return nil, stageError("score", err)
	}
	if err := r.backtest(ctx); err != nil {
		return nil, stageError("score", err)
	}
	// The fits' copies of the histories and the predictions are garbage
	// now: hand them back before DuckDB builds the marts.
	debug.FreeOSMemory()
	if err := r.buildStage(ctx, "score", nil); err != nil {
		return nil, stageError("score", err)
	}
	if err := r.drift(ctx); err != nil {
		return nil, stageError("score", err)
	}
	if err := r.checkpoint("score"); err != nil {
		return nil, err
	}

	// 5 targets.
	reports, err := r.targets(ctx, segs, numeric)
	if err != nil {
		return nil, stageError("targets", err)
	}
	if err := r.checkpoint("targets"); err != nil {
		return nil, err
	}

	// 6 publish.
	res, err := r.publish(ctx)
	if err != nil {
		return nil, stageError("publish", err)
	}
	res.Segments = reports
	res.Model = r.model
	return res, nil
}

// ingest loads the mapped columns of every input, types and checks every
// row and counts the rejects.
func (r *run) ingest(ctx context.Context) error {
	s, cfg := r.s, &r.cfg
	hashes := make(chan error, 1)
	go func() { hashes <- r.hashInputs() }()
	loads := 0
	for _, in := range r.inputs {
		if in != nil {
			loads++
		}
	}
	p := r.progress(StepLoad, loads+1+stageModels("ingest"))
	defer p.Done()
	for _, name := range []string{"transactions", "customers", "products"} {
		if in := r.inputs[name]; in != nil {
			if err := s.loadSource(ctx, in); err != nil {
				return err
			}
			p.Add(1)
		}
	}
	// The run's window comes first: which customers exist on as_of depends
	// on it.
	if m, ok := registeredModel("staging/params"); !ok {
		return stageError("ingest", errors.New("SQL model staging/params is not registered"))
	} else if err := r.buildModel(ctx, m); err != nil {
		return stageError("ingest", err)
	}
	p.Add(1)
	switch {
	case r.inputs["customers"] == nil:
		if err := s.viewAs(ctx, "staging/src_customers_from_transactions", "src_customers"); err != nil {
			return stageError("ingest", err)
		}
		if err := s.loadAttributes(ctx, &input{}); err != nil {
			return err
		}
	case cfg.Rejects.UnknownCustomers == "keep":
		// Customers of the transactions missing from the customers file
		// join them, without demographics.
		if err := s.exec(ctx, "ALTER VIEW src_customers RENAME TO src_customers_file"); err != nil {
			if err := s.exec(ctx, "ALTER TABLE src_customers RENAME TO src_customers_file"); err != nil {
				return stageError("ingest", err)
			}
		}
		if err := s.viewAs(ctx, "staging/src_customers_from_transactions", "src_customers_tx"); err != nil {
			return stageError("ingest", err)
		}
		if err := s.viewAs(ctx, "staging/src_customers_with_unknown", "src_customers"); err != nil {
			return stageError("ingest", err)
		}
	}
	if r.inputs["products"] == nil {
		if err := s.modelAs(ctx, "staging/src_products_empty", "src_products"); err != nil {
			return stageError("ingest", err)
		}
	}
	if err := s.inputFilesTable(ctx, r.inputs); err != nil {
		return stageError("ingest", err)
	}
	if err := r.buildStage(ctx, "ingest", func() { p.Add(1) }); err != nil {
		return stageError("ingest", err)
	}
	if err := <-hashes; err != nil {
		return err
	}
	if err := r.recordInputs(ctx); err != nil {
		return stageError("ingest", err)
	}
	// The observation window ends at as_of; every later stage reads it from
	// here. It is unknown only when no row has a customer and an amount,
	// which the reject checks then report.
	if day, err := s.queryString(ctx, "SELECT strftime(as_of, '%Y-%m-%d') FROM params"); err == nil {
		r.man.AsOf = day
	}
	if w := r.asOfWarning(); w != "" {
		r.log.Warn(w, "as_of", r.cfg.AsOf, "today", r.today())
	}
	return r.countRejects(ctx)
}

// asOfWarning is the warning for an explicit as_of after the run's date,
// "" when there is none. Such an as_of is honoured (a test, a run whose
// today is set): its windows reach past the data, which coverage then
// reports, and their metrics are left out.
func (r *run) asOfWarning() string {
	if r.cfg.AsOf == "" || r.cfg.AsOf <= r.today() {
		return ""
	}
	return fmt.Sprintf("as_of %s is after the run's date %s: the windows after the data's last order are not covered", r.cfg.AsOf, r.today())
}

func (r *run) hashInputs() error {
	for _, name := range []string{"customers", "transactions", "products"} {
		in := r.inputs[name]
		if in == nil {
			continue
		}
		for _, f := range in.files {
			h, err := hashFile(f.path)
			if err != nil {
				return &InputError{File: f.path, Table: name, Expected: "a readable file", Found: err.Error()}
			}
			f.sha256 = h
		}
	}
	return nil
}

// recordInputs puts every input file into the manifest with its row count:
// from the Parquet footer, or counted after loading a text file.
func (r *run) recordInputs(ctx context.Context) error {
	for _, name := range []string{"customers", "transactions", "products"} {
		in := r.inputs[name]
		if in == nil {
			continue
		}
		counts := map[string]int64{}
		if in.format != "parquet" {
			rows, err := r.s.conn.QueryContext(ctx, "SELECT source_file, count(*) FROM "+sqlquote.Ident("src_"+name)+" GROUP BY source_file")
			if err != nil {
				return err
			}
			for rows.Next() {
				var f string
				var n int64
				if err := rows.Scan(&f, &n); err != nil {
					rows.Close()
					return err
				}
				counts[f] = n
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		for _, f := range in.files {
			if f.rows < 0 {
				f.rows = counts[f.path]
			}
			r.man.Inputs = append(r.man.Inputs, manifest.Input{Table: name, Path: f.path, Format: in.format, Rows: f.rows, Bytes: f.bytes, SHA256: f.sha256})
		}
	}
	return nil
}

// countRejects counts the rejected rows per reason, each with an example,
// and what lies outside the window of an explicit as_of into the manifest.
func (r *run) countRejects(ctx context.Context) error {
	q := &r.man.Quality
	var err error
	if q.Rejects, err = r.readReasonCounts(ctx, "reads/reject_counts"); err != nil {
		return err
	}
	read, err := r.s.queryInt(ctx, "SELECT count(*) FROM stg_transactions")
	if err != nil {
		return err
	}
	outside, err := modelSQL("reads/outside_window")
	if err != nil {
		return err
	}
	if err := r.s.conn.QueryRowContext(ctx, outside).Scan(&q.TransactionsAfterAsOf, &q.CustomersAfterAsOf); err != nil {
		return stageError("ingest", err)
	}
	var rejected, later int64
	for _, rc := range q.Rejects {
		r.log.Info("rows rejected", "table", rc.Table, "reason", rc.Reason, "rows", rc.Rows, "example", rc.Example.String())
		if rc.Table == "transactions" {
			rejected += rc.Rows
		}
		if rc.Reason == "timestamp in the future" || rc.Reason == "timestamp far outside the data" {
			later += rc.Rows
		}
	}
	// Customers known only from the transactions and seen only after as_of
	// are left out too; counting them takes a pass over the transactions,
	// so only when there can be any.
	if derived := r.inputs["customers"] == nil || r.cfg.Rejects.UnknownCustomers == "keep"; derived && later+q.TransactionsAfterAsOf > 0 {
		only, err := modelSQL("reads/customers_only_after_as_of")
		if err != nil {
			return err
		}
		n, err := r.s.queryInt(ctx, only)
		if err != nil {
			return stageError("ingest", err)
		}
		q.CustomersAfterAsOf += n
	}
	if q.TransactionsAfterAsOf > 0 || q.CustomersAfterAsOf > 0 {
		r.log.Info("outside the window of as_of", "as_of", r.man.AsOf,
			"transactions_after_as_of", q.TransactionsAfterAsOf, "customers_after_as_of", q.CustomersAfterAsOf)
	}
	q.TransactionsRead, q.TransactionsAccepted = read, read-rejected-q.TransactionsAfterAsOf
	return r.countValueProblems(ctx)
}

// readReasonCounts reads a model that counts rows per table and reason,
// each with its first row as an example (reads/reject_counts,
// reads/value_problems: the same columns).
func (r *run) readReasonCounts(ctx context.Context, model string) ([]manifest.RejectCount, error) {
	q, err := modelSQL(model)
	if err != nil {
		return nil, err
	}
	rows, err := r.s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, stageError("ingest", err)
	}
	defer rows.Close()
	var counts []manifest.RejectCount
	for rows.Next() {
		var rc manifest.RejectCount
		var file, column, value sql.NullString
		var row sql.NullInt64
		if err := rows.Scan(&rc.Table, &rc.Reason, &rc.Rows, &file, &row, &column, &value); err != nil {
			return nil, err
		}
		rc.Example = &manifest.RejectExample{File: file.String, Row: row.Int64, Column: column.String, Value: value.String}
		counts = append(counts, rc)
	}
	return counts, rows.Err()
}

// countValueProblems reads the customers' values set to null and the block
// of transaction days separated from the rest into the manifest, and logs
// them as warnings.
func (r *run) countValueProblems(ctx context.Context) error {
	q := &r.man.Quality
	var err error
	if q.ValuesSetToNull, err = r.readReasonCounts(ctx, "reads/value_problems"); err != nil {
		return err
	}
	for _, rc := range q.ValuesSetToNull {
		r.log.Warn("values set to null, customers kept", "table", rc.Table, "column", rc.Example.Column, "reason", rc.Reason,
			"rows", rc.Rows, "example", rc.Example.String())
	}
	separated, err := modelSQL("reads/separated_block")
	if err != nil {
		return err
	}
	var b manifest.SeparatedBlock
	switch err := r.s.conn.QueryRowContext(ctx, separated).Scan(&b.Rows, &b.Of, &b.GapDays, &b.From, &b.To, &b.BlockGapDays); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return stageError("ingest", err)
	default:
		q.SeparatedBlock = &b
		r.log.Warn("transaction days in a separated block", "rows", b.Rows, "of", b.Of, "gap_days", b.GapDays,
			"from", b.From, "to", b.To, "warning", b.String())
	}
	return nil
}

// checkRejects aborts when no transaction row is usable or the share of
// rejected rows exceeds the configured maximum. The share is of the rows
// in the run's window: rows after an explicit as_of are not bad data.
func (r *run) checkRejects() error {
	q := &r.man.Quality
	read := q.TransactionsRead - q.TransactionsAfterAsOf
	rejected := read - q.TransactionsAccepted
	reasons := map[string]int64{}
	for _, rc := range q.Rejects {
		if rc.Table == "transactions" {
			reasons[rc.Reason] = rc.Rows
		}
	}
	if q.TransactionsAccepted == 0 {
		msg := fmt.Sprintf("%s: no usable transaction rows (%d read, %d rejected)", r.cfg.Inputs.Transactions.Path, q.TransactionsRead, rejected)
		if q.TransactionsAfterAsOf > 0 {
			msg += fmt.Sprintf("; %d rows are dated after as_of %s", q.TransactionsAfterAsOf, r.man.AsOf)
		}
		return &RejectedError{Rejected: rejected, Read: read, Reasons: reasons, Msg: msg}
	}
	if float64(rejected) > r.cfg.Rejects.MaxShare*float64(read) {
		return &RejectedError{Rejected: rejected, Read: read, MaxShare: r.cfg.Rejects.MaxShare, Reasons: reasons}
	}
	return nil
}

// features returns the numeric clustering features: the configured ones,
// each checked against the inputs, or the defaults the inputs can supply.
func (r *run) features() ([]segment.FeatureSpec, error) {
	explicit := len(r.cfg.Segmentation.Features) > 0
	specs := r.cfg.Segmentation.Features
	if !explicit {
		specs = config.DefaultFeatures
	}
	var out []segment.FeatureSpec
	var problems []string
	for _, f := range specs {
		if need := config.CustomerFeatures[f.Name]; need != "" && !r.hasColumn(need) && explicit {
			problems = append(problems, fmt.Sprintf("segmentation.features: %s needs input column %s, which the inputs do not have", f.Name, need))
			continue
		}
		if need := config.CustomerFeatures[f.Name]; need != "" && !explicit && !r.hasData(need) {
			r.log.Info("default feature left out", "feature", f.Name, "missing_column", need, "reason", r.missingData(need))
			continue
		}
		out = append(out, f)
	}
	if len(problems) > 0 {
		return nil, &config.ConfigError{Problems: problems}
	}
	return out, nil
}

// hasColumn reports whether any input supplies a logical column.
func (r *run) hasColumn(col string) bool {
	switch col {
	case "category":
		return r.inputs["transactions"].has("category") || r.inputs["products"].has("category")
	case "cost", "channel":
		return r.inputs["transactions"].has(col)
	}
	return r.inputs["customers"].has(col)
}

// sparseWeight is the clustering weight of a sparse feature dimension.
func (r *run) sparseWeight(dimension string) float64 {
	sg := r.cfg.Segmentation
	switch dimension {
	case "category":
		return sg.CategoryMixWeight
	case "channel":
		return sg.ChannelMixWeight
	}
	for _, d := range sg.Demographics {
		if d == dimension {
			return sg.DemographicWeight
		}
	}
	return 0
}

// readSummaries reads segment_summary into the figures the target rules use,
// the metrics the run leaves out set to NaN (unknown).
func (r *run) readSummaries(ctx context.Context) (map[int]scoring.SegmentSummary, error) {
	q, err := modelSQL("reads/target_summaries")
	if err != nil {
		return nil, err
	}
	rows, err := r.s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]scoring.SegmentSummary{}
	for rows.Next() {
		var id int
		var s scoring.SegmentSummary
		if err := rows.Scan(&id, &s.Customers, &s.Revenue12m, &s.RevenueSD12m, &s.Orders12m, &s.OrdersSD12m,
			&s.Active12m, &s.ActivePrev12m, &s.Retention12m, &s.HistoricalLTV, &s.MultiCategoryShare,
			&s.DigitalShare, &s.NewCustomers12m); err != nil {
			return nil, err
		}
		out[id] = r.withoutLeftOut(s)
	}
	return out, rows.Err()
}

// targets chooses each segment's objective, projects the baselines, and
// writes the segments and segment_targets tables.
func (r *run) targets(ctx context.Context, segs []segmentation.Segment, numeric []segment.FeatureSpec) ([]SegmentReport, error) {
	sums, err := r.readSummaries(ctx)
	if err != nil {
		return nil, err
	}
	pop := sums[0]
	asOfDate, err := time.Parse(time.DateOnly, r.man.AsOf)
	if err != nil {
		return nil, fmt.Errorf("as_of: %w", err)
	}
	horizonStart := asOfDate.AddDate(0, 0, 1)
	horizonEnd := horizonStart.AddDate(1, 0, -1)

	s := r.s
	if err := s.createTable(ctx, "ddl/segments"); err != nil {
		return nil, err
	}
	// The centroid columns follow the clustering features, which come from
	// the configuration.
	for _, f := range numeric {
		if err := s.exec(ctx, "ALTER TABLE segments ADD COLUMN "+sqlquote.Ident("centroid_"+f.Name)+" DOUBLE"); err != nil {
			return nil, err
		}
	}
	if err := s.createTable(ctx, "ddl/segment_targets"); err != nil {
		return nil, err
	}
	var forecasts map[int]segmentForecast
	var conversions map[int]scoring.Conversions
	if r.usesModelBaselines() {
		if forecasts, conversions, err = r.segmentForecasts(ctx); err != nil {
			return nil, err
		}
	}
	var segRows, tgtRows [][]driver.Value
	var reports []SegmentReport
	for _, sg := range segs {
		sum := sums[sg.ID]
		obj, reason := scoring.ChooseObjective(sum, pop)
		source := "rule"
		if o, ok := r.cfg.Targets.Objectives[sg.ID]; ok {
			obj, reason, source = scoring.Objective(o), "set in config", "config"
		}
		row := []driver.Value{int32(sg.ID), sg.Name, int64(sg.Customers), sg.Share, round(sum.HistoricalLTV, 4), string(obj), source, reason, sg.Traits}
		for _, c := range sg.Centroid {
			row = append(row, round(c, 6))
		}
		segRows = append(segRows, row)
		nan := math.NaN()
		rep := SegmentReport{ID: sg.ID, Name: sg.Name, Objective: string(obj), Customers: int64(sum.Customers),
			Revenue12m: sum.Revenue12m, HistoricalLTV: sum.HistoricalLTV, Retention12m: sum.Retention12m,
			RevenueBaseline: nan, RevenueTarget: nan, RevenueBaselineLow: nan, RevenueHigh: nan}
		targets := scoring.ProjectLastYear(sum, obj, r.cfg.Targets.Uplift)
		if f, ok := forecasts[sg.ID]; ok {
			targets = scoring.FromForecast(targets, f.Forecast, conversions[sg.ID], f.modelError)
		}
		for _, t := range targets {
			tgtRows = append(tgtRows, []driver.Value{int32(sg.ID), sg.Name, t.Metric, t.Unit, horizonStart, horizonEnd,
				nullable.Value(round(t.Baseline, 4)), nullable.Value(round(t.Low, 4)), nullable.Value(round(t.High, 4)),
				nullable.Value(round(t.Target, 4)), t.Uplift, string(t.Objective), r.targetMethod(t.Method)})
			if t.Metric == scoring.MetricRevenue {
				rep.RevenueBaseline, rep.RevenueTarget = t.Baseline, t.Target
				rep.RevenueBaselineLow, rep.RevenueHigh = t.Low, t.High
			}
		}
		reports = append(reports, rep)
	}
	if err := s.appendRows("segments", segRows); err != nil {
		return nil, err
	}
	if err := s.appendRows("segment_targets", tgtRows); err != nil {
		return nil, err
	}
	return reports, nil
}

// targetMethod names the purchase model in use in a model-based target's
// method: scoring's bg_nbd and bg_nbd_gamma_gamma become mbg_nbd and
// mbg_nbd_gamma_gamma under value.model: mbg_nbd.
func (r *run) targetMethod(m string) string {
	if r.cfg.Value.Model == config.ModelMBGNBD && (m == scoring.MethodPurchaseModel || m == scoring.MethodValueModel) {
		return "m" + m
	}
	return m
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// queryString returns a single string.
func (s *session) queryString(ctx context.Context, query string, args ...any) (string, error) {
	var v *string
	if err := s.conn.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
		return "", err
	}
	if v == nil {
		return "", errors.New("no value")
	}
	return *v, nil
}
