package engine

import (
	"cmp"
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/scenario"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/durable"
	"github.com/crmseg/crmseg/internal/nullable"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// ScenarioOptions is a scenario to compute on a published run of an output
// root (crmseg scenario).
type ScenarioOptions struct {
	Root string
	// RunID is the run: its ID, or "" or "latest" for the run the output
	// root's latest link points at.
	RunID string
	// Name is the scenario's name, its directory's; "" names it after its
	// start time (UTC, 20260701T083000Z), with -2, -3, ... added when the
	// run has a scenario of that name already.
	Name    string
	Request scenario.Request
	// Logger, Now, Version and Allocator are as in Options.
	Logger    *slog.Logger
	Now       func() time.Time
	Version   string
	Allocator memory.Allocator
}

// ScenarioResult is a scenario computed, written under its run's directory
// and recorded in the run history.
type ScenarioResult struct {
	*scenario.Result
	RunID, AsOf, Name string
	// Dir is the scenario's directory; Files its files.
	Dir   string
	Files []manifest.File
	// PurchaseModel and PurchaseModelError, SpendModelError: the run's
	// value models, and why one was not used ("" when it was).
	PurchaseModel, PurchaseModelError, SpendModelError string
	// HistoryErr is why the scenario, written, could not be recorded in
	// the run history (a *ScenarioNotRecordedError); nil when it was.
	HistoryErr error
}

// scenarioFiles are the files of a run a scenario reads.
var scenarioFiles = []string{"manifest.json", "segments.parquet", "segment_targets.parquet", "customer_segments.parquet"}

// validScenarioName: a name that is a directory name anywhere, not hidden.
var validScenarioName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Scenario computes a scenario on a published run (scenario.Compute) and
// writes its scenario_results table (Parquet and CSV, as the run wrote its
// own) and scenario.json to runs/<run_id>/scenarios/<name>/ in the output
// root, first under a hidden name, renamed when whole; it then records it
// in the run history. The run's own files and manifest are only read.
//
// It holds the output root's lock throughout, as a run does (a
// *store.LockedError, nothing done, when another process holds it): no run
// prunes the scenario's run meanwhile, and the history has one writer.
// A request the run cannot carry out is a *scenario.Error and writes
// nothing. A scenario written but not recorded is returned with its
// HistoryErr set.
func Scenario(ctx context.Context, o ScenarioOptions) (*ScenarioResult, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.Name != "" && !validScenarioName.MatchString(o.Name) {
		return nil, &scenario.Error{What: "--name " + strconv.Quote(o.Name),
			Problem: "expected a name of letters, digits, '.', '_' and '-', at most 64, starting with a letter or a digit"}
	}
	if err := o.Request.Check(); err != nil {
		return nil, err
	}
	root := o.Root
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, &scenario.Error{What: "--out " + root, Problem: "expected an output root (the directory holding latest, runs/ and " +
			store.HistoryFile + "), found " + foundThere(err)}
	}
	started := o.Now().UTC()
	host, _ := os.Hostname()
	lock, _, err := store.Acquire(root, store.LockHolder{PID: os.Getpid(), Host: host, StartedAt: started.Format(time.RFC3339), Command: "scenario"})
	if err != nil {
		return nil, err
	}
	defer lock.Release()

	runID, err := scenarioRunID(root, o.RunID)
	if err != nil {
		return nil, err
	}
	runDir := filepath.Join(root, "runs", runID)
	for _, f := range scenarioFiles {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			return nil, &scenario.Error{What: "run " + runID, Problem: fmt.Sprintf("expected %s in the run's directory %s, found %s", f, runDir, foundThere(err))}
		}
	}
	man, err := store.ReadManifest(runDir)
	var me *store.ManifestError
	if errors.As(err, &me) {
		return nil, &scenario.Error{What: "run " + runID, Problem: fmt.Sprintf("expected the run's manifest.json, found a file that is not one: %v", me.Err)}
	}
	if err != nil {
		return nil, err
	}
	log := o.Logger.With("run_id", runID)
	cfg := man.Config
	s, closeSession, err := startSession(ctx, &cfg, "", "crmseg-scenario-*", log)
	if err != nil {
		return nil, err
	}
	defer closeSession()

	pub, err := readScenarioRun(ctx, s, runDir, man, o.Allocator)
	if err != nil {
		return nil, err
	}
	computed, err := scenario.Compute(pub, o.Request)
	if err != nil {
		return nil, err
	}
	res := &ScenarioResult{Result: computed, RunID: runID, AsOf: pub.AsOf, PurchaseModel: pub.PurchaseModel,
		PurchaseModelError: pub.PurchaseModelError, SpendModelError: pub.SpendModelError}
	log.Info("scenario computed", "changes", len(o.Request.Changes), "segments", len(computed.Applied))

	scenarios := filepath.Join(runDir, "scenarios")
	if res.Name, err = scenarioName(scenarios, o.Name, started, runID); err != nil {
		return nil, err
	}
	res.Dir = filepath.Join(scenarios, res.Name)
	r := &run{cfg: cfg, log: log, s: s} // writes the CSV as the run wrote its own (its csv_formulas)
	if err := r.writeScenario(ctx, res, o, started); err != nil {
		return nil, err
	}
	log.Info("scenario written", "dir", res.Dir)

	rec := store.ScenarioRecord{RunID: runID, Name: res.Name, Directory: filepath.Join("runs", runID, "scenarios", res.Name), Created: started,
		AsOf: pub.AsOf, Changes: computed.Changes(), Version: o.Version, FixedCost: math.NaN(), CostPerCustomer: math.NaN(),
		ProgrammeCost: math.NaN(), Margin: math.NaN(), IncrementalValue: math.NaN(), ROI: math.NaN(), PaybackMonths: math.NaN()}
	if p := computed.Programme; p != nil {
		rec.FixedCost, rec.CostPerCustomer, rec.Contacted, rec.ProgrammeCost = p.FixedCost, p.CostPerCustomer, p.Contacted, p.Cost
		rec.Margin, rec.IncrementalValue, rec.ROI, rec.PaybackMonths = p.Margin, p.IncrementalValue, p.ROI, p.PaybackMonths
	}
	if js, err := os.ReadFile(filepath.Join(res.Dir, "scenario.json")); err == nil {
		rec.JSON = string(js)
	}
	if err := store.RecordScenario(ctx, s.conn, root, rec); err != nil {
		res.HistoryErr = &ScenarioNotRecordedError{Dir: res.Dir, Err: err}
		return res, nil
	}
	log.Info("scenario recorded in the run history", "path", filepath.Join(root, store.HistoryFile))
	return res, nil
}

// foundThere says what a failed os.Stat found.
func foundThere(err error) string { return store.FoundThere(err) }

// scenarioRunID is the ID of the run a scenario is on: id, or the run the
// output root's latest link points at for "" and "latest".
func scenarioRunID(root, id string) (string, error) {
	if id != "" && id != "latest" {
		if id != filepath.Base(id) || strings.HasPrefix(id, ".") {
			return "", &scenario.Error{What: "run " + strconv.Quote(id), Problem: "expected a run ID (crmseg history lists them) or latest"}
		}
		if st, err := os.Stat(filepath.Join(root, "runs", id)); err != nil || !st.IsDir() {
			return "", &scenario.Error{What: "run " + id, Problem: fmt.Sprintf("expected the run's directory %s, found %s: the run failed, "+
				"or it was pruned (keep_runs keeps the newest runs); crmseg history lists the runs", filepath.Join(root, "runs", id), foundThere(err))}
		}
		return id, nil
	}
	latest := filepath.Join(root, "latest")
	target, err := os.Readlink(latest)
	if err != nil {
		return "", &scenario.Error{What: "run latest", Problem: fmt.Sprintf("expected %s, a link to the newest run, found %s: "+
			"give the run ID instead (crmseg history lists the runs)", latest, foundThere(err))}
	}
	if st, err := os.Stat(latest); err != nil || !st.IsDir() {
		return "", &scenario.Error{What: "run latest", Problem: fmt.Sprintf("expected %s to lead to a run directory, found it points at %s, "+
			"which is not there: give the run ID instead", latest, target)}
	}
	return filepath.Base(target), nil
}

// scenarioName is the name of a new scenario of the run whose scenarios
// directory is dir: name, which must be new, or the start time made
// unique.
func scenarioName(dir, name string, started time.Time, runID string) (string, error) {
	exists := func(n string) bool {
		_, err := os.Lstat(filepath.Join(dir, n))
		return err == nil
	}
	if name != "" {
		if exists(name) {
			return "", &scenario.Error{What: "--name " + name, Problem: fmt.Sprintf("expected a name run %s has no scenario of, found %s: "+
				"a scenario is never overwritten; choose another name", runID, filepath.Join(dir, name))}
		}
		return name, nil
	}
	base := started.Format("20060102T150405Z")
	name = base
	for i := 2; exists(name); i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	return name, nil
}

// readScenarioRun reads what a scenario needs of the run in dir, whose
// manifest is man: its segments, targets and customers, and its value
// models.
func readScenarioRun(ctx context.Context, s *session, dir string, man *manifest.Manifest, mem memory.Allocator) (*scenario.Run, error) {
	for view, file := range map[string]string{"run_customer_segments": "customer_segments", "run_segments": "segments",
		"run_segment_targets": "segment_targets"} {
		path := filepath.Join(dir, file+".parquet")
		if err := s.exec(ctx, "CREATE OR REPLACE VIEW "+sqlquote.Ident(view)+" AS SELECT * FROM read_parquet("+sqlquote.Literal(path)+")"); err != nil {
			return nil, fmt.Errorf("the run's %s: %w", path, err)
		}
	}
	// The purchase model is the manifest's model other than Gamma-Gamma
	// (value.model names it, unless it names a rule for choosing one).
	purchase := cmp.Or(man.Config.Value.Model, config.ModelBGNBD)
	for _, m := range man.Models {
		if m.Model != "gamma_gamma" {
			purchase = m.Model
			break
		}
	}
	pub := &scenario.Run{ID: man.RunID, AsOf: man.AsOf, PurchaseModel: purchase, MonthlyDiscountRate: man.Config.Value.MonthlyDiscountRate}
	pub.PurchaseModelError, pub.SpendModelError = modelUse(man, pub.PurchaseModel), modelUse(man, "gamma_gamma")
	if _, err := time.Parse(time.DateOnly, pub.AsOf); err != nil {
		return nil, &scenario.Error{What: "pub " + man.RunID, Problem: fmt.Sprintf("expected the run's as_of in its manifest, found %q", pub.AsOf)}
	}

	q, err := modelSQL("reads/scenario_segments")
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("scenario_segments: %w", err)
	}
	for rows.Next() {
		var sg scenario.Segment
		if err := rows.Scan(&sg.ID, &sg.Name, &sg.Customers); err != nil {
			rows.Close()
			return nil, err
		}
		pub.Segments = append(pub.Segments, sg)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}

	if q, err = modelSQL("reads/scenario_targets"); err != nil {
		return nil, err
	}
	rows, err = s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("scenario_targets: %w", err)
	}
	for rows.Next() {
		var t scenario.Target
		var base, low, high *float64
		if err := rows.Scan(&t.Segment, &t.Metric, &t.Unit, &t.Method, &base, &low, &high, &t.HorizonStart, &t.HorizonEnd); err != nil {
			rows.Close()
			return nil, err
		}
		orNaN := func(v *float64) float64 {
			if v == nil {
				return math.NaN()
			}
			return *v
		}
		t.Baseline, t.Low, t.High = orNaN(base), orNaN(low), orNaN(high)
		if high == nil && low != nil {
			t.High = math.Inf(1) // a band without an upper bound
		}
		pub.Targets = append(pub.Targets, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}

	if q, err = modelSQL("reads/scenario_customers"); err != nil {
		return nil, err
	}
	err = s.arrowQuery(ctx, q, func(rdr array.RecordReader) error {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			seg, ok1 := rec.Column(0).(*array.Int32)
			var flags [3]*array.Boolean
			ok2 := true
			for j := range flags {
				flags[j], _ = rec.Column(1 + j).(*array.Boolean)
				ok2 = ok2 && flags[j] != nil
			}
			cats, ok3 := rec.Column(4).(*array.Int64)
			var nums [7]*array.Float64
			ok4 := true
			for j := range nums {
				nums[j], _ = rec.Column(5 + j).(*array.Float64)
				ok4 = ok4 && nums[j] != nil
			}
			if !(ok1 && ok2 && ok3 && ok4) {
				return fmt.Errorf("scenario_customers: unexpected Arrow schema %s", rec.Schema())
			}
			num := func(j, i int) float64 {
				if nums[j].IsNull(i) {
					return math.NaN()
				}
				return nums[j].Value(i)
			}
			for i := range int(rec.NumRows()) {
				pub.Customers = append(pub.Customers, scenario.Customer{Segment: int(seg.Value(i)),
					Active12m: flags[0].Value(i), New12m: flags[1].Value(i), Buyer: flags[2].Value(i), Categories: int(cats.Value(i)),
					Revenue12m: num(0, i), Orders12m: num(1, i), PAlive: num(2, i), PPurchase: num(3, i), Purchases: num(4, i),
					Spend: num(5, i), CLV: num(6, i)})
			}
		}
		return nil
	}, pub.AsOf)
	if err != nil {
		return nil, fmt.Errorf("the run's customer_segments: %w", err)
	}
	return pub, nil
}

// modelUse says why the run did not use its value model called name: the
// error its manifest records, "did not converge", or that it has none; ""
// when it used it.
func modelUse(man *manifest.Manifest, name string) string {
	for _, m := range man.Models {
		if m.Model != name {
			continue
		}
		switch {
		case m.Error != "":
			return m.Error
		case !m.Converged:
			return "did not converge"
		}
		return ""
	}
	return "the run's manifest records no " + name + " model"
}

// writeScenario writes the scenario's scenario_results (Parquet and CSV)
// and scenario.json into res.Dir, through a hidden directory renamed into
// place when whole.
func (r *run) writeScenario(ctx context.Context, res *ScenarioResult, o ScenarioOptions, started time.Time) error {
	if err := r.s.createTable(ctx, "ddl/scenario_results"); err != nil {
		return err
	}
	var start, end any
	if t, err := time.Parse(time.DateOnly, res.HorizonStart); err == nil {
		start = t
	}
	if t, err := time.Parse(time.DateOnly, res.HorizonEnd); err == nil {
		end = t
	}
	var rows [][]driver.Value
	for _, x := range res.Rows {
		fig := func(v float64) driver.Value { return nullable.Value(round(v, 4)) }
		rows = append(rows, []driver.Value{int32(x.Segment), x.SegmentName, x.Metric, x.Unit, start, end,
			fig(x.Baseline), fig(x.BaselineLow), fig(x.BaselineHigh), fig(x.Scenario), fig(x.ScenarioLow), fig(x.ScenarioHigh),
			fig(x.Scenario - x.Baseline), nullable.String(x.Method), nullable.String(x.Changes)})
	}
	if err := r.s.appendRows("scenario_results", rows); err != nil {
		return err
	}

	scenarios := filepath.Dir(res.Dir)
	if err := os.MkdirAll(scenarios, 0o755); err != nil {
		return err
	}
	// Hidden directories left by a scenario killed while writing: the
	// lock says no other is writing.
	if entries, err := os.ReadDir(scenarios); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				os.RemoveAll(filepath.Join(scenarios, e.Name()))
			}
		}
	}
	tmp := filepath.Join(scenarios, ".tmp-"+res.Name)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	parquetPath := filepath.Join(tmp, "scenario_results.parquet")
	if err := r.s.exec(ctx, "COPY (SELECT * FROM scenario_results ORDER BY segment_id, metric) TO "+sqlquote.Literal(parquetPath)+
		" (FORMAT parquet, COMPRESSION zstd, PRESERVE_ORDER true)"); err != nil {
		return fmt.Errorf("writing scenario_results.parquet: %w", err)
	}
	if err := r.writeCSV(ctx, parquetPath, filepath.Join(tmp, "scenario_results.csv")); err != nil {
		return fmt.Errorf("writing scenario_results.csv: %w", err)
	}
	for _, name := range []string{"scenario_results.parquet", "scenario_results.csv"} {
		f, err := fileEntry(tmp, name)
		if err != nil {
			return err
		}
		res.Files = append(res.Files, f)
	}
	js, err := json.MarshalIndent(scenarioRecord(res, o, started), "", "  ")
	if err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(tmp, "scenario.json"), append(js, '\n')); err != nil {
		return err
	}
	if err := durable.SyncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, res.Dir); err != nil {
		return err
	}
	return durable.SyncDir(scenarios)
}

// scenarioJSON is a scenario's scenario.json.
type scenarioJSON struct {
	Scenario     string `json:"scenario"`
	RunID        string `json:"run_id"`
	AsOf         string `json:"as_of"`
	CreatedAt    string `json:"created_at"`
	HorizonStart string `json:"horizon_start"`
	HorizonEnd   string `json:"horizon_end"`
	Request      struct {
		Set             []string `json:"set"`
		Cost            float64  `json:"cost"`
		CostPerCustomer float64  `json:"cost_per_customer"`
		Margin          float64  `json:"margin"`
	} `json:"request"`
	ValueModels struct {
		PurchaseModel      string `json:"purchase_model"`
		PurchaseModelError string `json:"purchase_model_error,omitempty"`
		SpendModelError    string `json:"gamma_gamma_error,omitempty"`
	} `json:"value_models"`
	Segments  []scenarioSegmentJSON  `json:"segments"`
	Programme *scenarioProgrammeJSON `json:"programme"`
	Files     []manifest.File        `json:"files"`
	Version   string                 `json:"crmseg_version"`
}

// scenarioSegmentJSON is what the changes of one segment came to.
type scenarioSegmentJSON struct {
	SegmentID          int            `json:"segment_id"`
	SegmentName        string         `json:"segment_name"`
	Changes            []string       `json:"changes"`
	Contacted          int64          `json:"contacted_customers"`
	Retained           int64          `json:"retained_customers"`
	DropoutFactor      nullable.Float `json:"dropout_factor"`
	Converted          float64        `json:"converted_buyers"`
	NewCustomerRevenue nullable.Float `json:"new_customer_revenue"`
	NewCustomerOrders  nullable.Float `json:"new_customer_orders"`
}

// scenarioProgrammeJSON is the programme's cost and return.
type scenarioProgrammeJSON struct {
	FixedCost          float64        `json:"fixed_cost"`
	CostPerCustomer    float64        `json:"cost_per_customer"`
	Contacted          int64          `json:"contacted_customers"`
	Cost               float64        `json:"cost"`
	IncrementalRevenue float64        `json:"incremental_revenue"`
	Margin             float64        `json:"margin"`
	IncrementalValue   float64        `json:"incremental_value"`
	ROI                nullable.Float `json:"roi"`
	PaybackMonths      nullable.Float `json:"payback_months"`
	Monthly            []float64      `json:"monthly_incremental_value"`
}

func scenarioRecord(res *ScenarioResult, o ScenarioOptions, started time.Time) scenarioJSON {
	var j scenarioJSON
	j.Scenario, j.RunID, j.AsOf, j.CreatedAt = res.Name, res.RunID, res.AsOf, started.Format(time.RFC3339)
	j.HorizonStart, j.HorizonEnd, j.Version = res.HorizonStart, res.HorizonEnd, o.Version
	j.Request.Set = []string{}
	for _, c := range o.Request.Changes {
		if !slices.Contains(j.Request.Set, c.Set) {
			j.Request.Set = append(j.Request.Set, c.Set)
		}
	}
	j.Request.Cost, j.Request.CostPerCustomer, j.Request.Margin = o.Request.Cost, o.Request.CostPerCustomer, cmp.Or(o.Request.Margin, 1)
	j.ValueModels.PurchaseModel, j.ValueModels.PurchaseModelError, j.ValueModels.SpendModelError = res.PurchaseModel, res.PurchaseModelError, res.SpendModelError
	j.Segments = []scenarioSegmentJSON{}
	for _, a := range res.Applied {
		sj := scenarioSegmentJSON{SegmentID: a.Segment, SegmentName: a.Name, Contacted: a.Contacted, Retained: a.Retained,
			DropoutFactor: nullable.Float(a.DropoutFactor), Converted: a.Converted,
			NewCustomerRevenue: nullable.Float(a.NewCustomerRevenue), NewCustomerOrders: nullable.Float(a.NewCustomerOrders)}
		for _, c := range a.Changes {
			sj.Changes = append(sj.Changes, c.String())
		}
		j.Segments = append(j.Segments, sj)
	}
	if p := res.Programme; p != nil {
		j.Programme = &scenarioProgrammeJSON{FixedCost: p.FixedCost, CostPerCustomer: p.CostPerCustomer, Contacted: p.Contacted, Cost: p.Cost,
			IncrementalRevenue: round(p.IncrementalRevenue, 4), Margin: p.Margin, IncrementalValue: round(p.IncrementalValue, 4),
			ROI: nullable.Float(round(p.ROI, 6)), PaybackMonths: nullable.Float(round(p.PaybackMonths, 4))}
		for _, v := range p.Monthly {
			j.Programme.Monthly = append(j.Programme.Monthly, round(v, 4))
		}
	}
	j.Files = res.Files
	return j
}
