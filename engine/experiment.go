package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"time"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/segment"
)

// Experiment names an experiment and the published run it runs on.
type Experiment struct {
	// Name is the experiment's directory name under experiments/
	// (store.CheckExperimentName).
	Name string
	// Base is the published run whose inputs it reads: latest or a run
	// ID; empty means latest.
	Base string
	// Replace lets an experiment replace one of the same name; without
	// it, a name in use is refused.
	Replace bool
	// Variant is the variant configuration file, kept beside the tables as
	// variant.yaml; empty when the configuration was not read from a file.
	Variant string
}

// experimentRun is what a run that is an experiment keeps: its name, its
// base run and its working directory.
type experimentRun struct {
	name    string
	replace bool
	variant string
	base    *manifest.Manifest
	work    *store.ExperimentWork
}

// RunExperiment runs the variant configuration cfg on exactly the inputs of
// a published run of the output root cfg.Output (exp.Base) and writes the
// result under experiments/<exp.Name>/: the same tables as a run directory
// but the customer delta, model.json, variant.yaml and manifest.json,
// whose experiment names the base run. It never moves latest, writes no
// customer delta, prunes nothing and is never the run a later run
// continues. It is recorded in the run history as an experiment.
//
// The experiment takes the base run's inputs section as the base run had
// it (paths, formats, columns): a variant that gives inputs of its own
// that differ is refused (a *store.ExperimentError), as is an as_of or
// today other than the base run's, whose run date the experiment takes so
// that the window is the same. Every input file's SHA-256 is checked
// against the base run's manifest before it is read, and again as the
// run reads it: a changed or missing file is an *InputError naming the
// file and both hashes, and nothing is written. It continues what the
// base run continued (store.ExperimentPrevious), so that the base run's
// configuration reproduces its tables byte for byte.
//
// It holds the experiment name's lock throughout (another process
// computing the same name is a *store.LockedError), and the output root's
// lock only while it resolves the base run and while it moves its
// directory into place and records itself: a nightly run can start while
// an experiment computes. Its error is a *RunError.
func RunExperiment(ctx context.Context, cfg config.Config, exp Experiment, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	root := cfg.Output
	if root == "" {
		return nil, &RunError{Err: &config.ConfigError{Problems: []string{"output: the output root of the run to experiment on is needed (--out or output:)"}}}
	}
	if err := store.CheckExperimentName(root, exp.Name); err != nil {
		return nil, &RunError{Err: err}
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, &RunError{Err: &store.RunRefError{Ref: cmp.Or(exp.Base, "latest"), Problem: fmt.Sprintf("expected the output root %s, found none", root)}}
	}
	start := time.Now()
	r := &run{opts: opts, started: opts.Now().UTC(), exp: &experimentRun{name: exp.Name, replace: exp.Replace, variant: exp.Variant}}
	r.man = &manifest.Manifest{
		Status: "succeeded", StartedAt: r.started.Format(time.RFC3339),
		Versions:   map[string]string{"crmseg": opts.Version, "go": runtime.Version()},
		Experiment: &manifest.Experiment{Name: exp.Name, Variant: exp.Variant},
	}
	r.log = opts.Logger.With("experiment", exp.Name)
	nameLock, err := store.AcquireExperiment(root, exp.Name, r.lockHolder())
	if err != nil {
		return nil, &RunError{Err: err}
	}
	defer r.release(nameLock)
	if store.ExperimentExists(root, exp.Name) && !exp.Replace {
		return nil, &RunError{Err: &store.ExperimentError{Root: root, Name: exp.Name,
			Problem: fmt.Sprintf("%s exists: choose another name, or give --replace to replace it", filepath.Join(root, store.ExperimentDirName(exp.Name)))}}
	}
	base, baseDir, prev, err := r.resolveBase(ctx, root, cmp.Or(exp.Base, "latest"))
	if err != nil {
		return nil, &RunError{Err: err}
	}
	r.exp.base = base
	if cfg, err = experimentConfig(cfg, base); err != nil {
		return nil, &RunError{Err: err}
	}
	if err := cfg.Validate(); err != nil {
		return nil, &RunError{Err: err}
	}
	r.cfg = cfg
	r.man.Seed, r.man.Config, r.man.Experiment.BaseRunID = cfg.Seed, cfg, base.RunID
	r.baseID = store.NewRunID(r.started, cfg)
	r.man.RunID = store.UniqueRunID(ctx, root, r.baseID)
	r.log = opts.Logger.With("run_id", r.man.RunID, "experiment", exp.Name)
	previous := ""
	if prev.Dir != "" {
		previous = filepath.Base(prev.Dir)
	}
	// Refused before it starts: a changed input leaves no trace, not even
	// a failed experiment in the history.
	if err := checkInputs(base, nil); err != nil {
		return nil, &RunError{RunID: r.man.RunID, Err: err}
	}
	r.log.Info("experiment started", "base_run_id", base.RunID, "base_dir", baseDir, "previous_run_id", previous)

	res, err := r.executeExperiment(ctx, prev)
	return r.finish(ctx, nil, res, err, time.Since(start))
}

// resolveBase finds the published run ref under the output root's lock,
// reads its manifest and what it continued (store.ExperimentPrevious).
func (r *run) resolveBase(ctx context.Context, root, ref string) (*manifest.Manifest, string, store.Previous, error) {
	lock, err := r.waitForLock(ctx, func() (*store.Lock, error) {
		lock, _, err := store.Acquire(root, r.lockHolder())
		return lock, err
	})
	if err != nil {
		return nil, "", store.Previous{}, err
	}
	defer r.release(lock)
	res, err := store.ResolveRun(root, ref)
	if err != nil {
		return nil, "", store.Previous{}, err
	}
	if res.Kind != store.KindRun {
		return nil, "", store.Previous{}, &store.ExperimentError{Root: root, Name: r.exp.name,
			Problem: fmt.Sprintf("--from %s is an experiment: an experiment runs on the inputs of a published run (latest or a run ID)", ref)}
	}
	base, err := store.ReadManifest(res.Dir)
	if err != nil {
		return nil, "", store.Previous{}, &store.RunRefError{Ref: ref, Problem: fmt.Sprintf("expected a readable manifest.json in %s, found %v", res.Dir, err)}
	}
	prev, err := store.ExperimentPrevious(ctx, root, base, res.Dir, r.log)
	return base, res.Dir, prev, err
}

// experimentConfig is the variant cfg as the experiment on the run base
// runs it: with base's inputs and window (its as_of, and its run date as
// today), without a metrics file. A variant that gives other inputs, or
// another as_of or today, is refused: the experiment would not be on
// base's data.
func experimentConfig(cfg config.Config, base *manifest.Manifest) (config.Config, error) {
	refuse := func(problem string) error {
		return &store.ExperimentError{Root: cfg.Output, Problem: problem + ": an experiment runs on exactly the inputs and window of its base run " +
			base.RunID + "; leave the key out of the variant, or make it the run's"}
	}
	if !reflect.DeepEqual(cfg.Inputs, config.Inputs{}) {
		for _, d := range inputDiffs(cfg.Inputs, base.Config.Inputs) {
			return cfg, refuse(d)
		}
	}
	today := base.Config.Today
	if today == "" && len(base.StartedAt) >= 10 {
		today = base.StartedAt[:10] // the run's date, UTC
	}
	switch {
	case cfg.AsOf != "" && cfg.AsOf != base.Config.AsOf && cfg.AsOf != base.AsOf:
		// The run's as_of is the one it gave, or, without one, the date
		// it took from its data (the manifest's): the variant may name it.
		return cfg, refuse(fmt.Sprintf("as_of: the variant gives %s, the run's as_of was %s", cfg.AsOf, base.AsOf))
	case cfg.Today != "" && cfg.Today != today:
		return cfg, refuse(fmt.Sprintf("today: the variant gives %s, the run's date was %s", cfg.Today, today))
	}
	cfg.Inputs, cfg.AsOf, cfg.Today, cfg.MetricsFile = base.Config.Inputs, base.Config.AsOf, today, ""
	return cfg, nil
}

// inputDiffs lists how the variant's inputs differ from the base run's:
// a path (compared as absolute paths), or any other key of an input.
func inputDiffs(variant, base config.Inputs) []string {
	var out []string
	for _, in := range []struct {
		table   string
		variant config.InputSpec
		base    config.InputSpec
	}{
		{"customers", variant.Customers, base.Customers}, {"transactions", variant.Transactions, base.Transactions},
		{"products", variant.Products, base.Products}, {"campaigns", variant.Campaigns, base.Campaigns},
	} {
		v, b := in.variant, in.base
		if abs(v.Path) != abs(b.Path) {
			out = append(out, fmt.Sprintf("inputs.%s.path: the variant gives %q, the run read %q", in.table, v.Path, b.Path))
			continue
		}
		v.Path, b.Path = "", ""
		if !reflect.DeepEqual(v, b) {
			out = append(out, fmt.Sprintf("inputs.%s: the variant reads the file otherwise than the run did (format, columns or attributes)", in.table))
		}
	}
	return out
}

func abs(path string) string {
	if path == "" {
		return ""
	}
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}

// checkInputs checks each input file the base run read against its
// SHA-256 in the base run's manifest: a changed or missing file is an
// *InputError with both hashes.
func checkInputs(base *manifest.Manifest, inputs []manifest.Input) error {
	var errs []error
	for _, in := range base.Inputs {
		if inputs != nil {
			// As the run read them: the same files, the same hashes.
			i := indexInput(inputs, in)
			if i < 0 {
				errs = append(errs, &InputError{File: in.Path, Table: in.Table, Expected: "the input file run " + base.RunID + " read",
					Found: "the experiment did not read it"})
				continue
			}
			if inputs[i].SHA256 != in.SHA256 {
				errs = append(errs, changedInput(base, in, inputs[i].SHA256))
			}
			continue
		}
		h, err := hashFile(in.Path)
		if err != nil {
			errs = append(errs, &InputError{File: in.Path, Table: in.Table,
				Expected: fmt.Sprintf("the file run %s read, SHA-256 %s", base.RunID, in.SHA256), Err: err})
			continue
		}
		if h != in.SHA256 {
			errs = append(errs, changedInput(base, in, h))
		}
	}
	for _, in := range inputs {
		if indexInput(base.Inputs, in) < 0 {
			errs = append(errs, &InputError{File: in.Path, Table: in.Table, Expected: "only the input files run " + base.RunID + " read",
				Found: "a file it did not read (added since)"})
		}
	}
	return errors.Join(errs...)
}

func indexInput(inputs []manifest.Input, in manifest.Input) int {
	for i, x := range inputs {
		if x.Table == in.Table && abs(x.Path) == abs(in.Path) {
			return i
		}
	}
	return -1
}

func changedInput(base *manifest.Manifest, in manifest.Input, found string) error {
	return &InputError{File: in.Path, Table: in.Table,
		Expected: fmt.Sprintf("SHA-256 %s, as run %s read it", in.SHA256, base.RunID),
		Found:    fmt.Sprintf("SHA-256 %s: the file changed since, and an experiment runs on exactly the inputs of its base run", found)}
}

// executeExperiment does the experiment's work: the pipeline in the experiment's working directory, continuing prev, without
// the output root's lock; publishExperiment takes it at the end.
func (r *run) executeExperiment(ctx context.Context, prev store.Previous) (*Result, error) {
	r.startStage()
	inputs, err := inspectInputs(&r.cfg)
	if err != nil {
		return nil, err
	}
	r.done("inspect")
	work, err := store.NewExperimentWork(r.cfg.Output, r.exp.name)
	if err != nil {
		return nil, err
	}
	defer work.Close()
	r.exp.work = work
	closeSession, err := r.startSession(ctx, work.Scratch)
	if err != nil {
		return nil, err
	}
	defer closeSession()
	return r.pipeline(ctx, inputs, prev)
}

// lockPoll is how often an experiment tries again for the output root's
// lock another process holds.
var lockPoll = 2 * time.Second

// waitForLock takes the output root's lock with acquire for one of an
// experiment's two short steps, waiting while another process holds it (the
// nightly run, another experiment) instead of giving up the experiment's
// work: the lock is held only for those steps, so the wait is for the
// holder's end. The log says whom it waits for; ctx (Ctrl-C) ends the wait.
func (r *run) waitForLock(ctx context.Context, acquire func() (*store.Lock, error)) (*store.Lock, error) {
	waiting := false
	for {
		lock, err := acquire()
		var le *store.LockedError
		if !errors.As(err, &le) {
			return lock, err
		}
		if !waiting {
			r.log.Info("output root in use: the experiment waits for it", "holder", le.Who(), "lock_file", le.Path)
			waiting = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the output root: %w (%w)", ctx.Err(), err)
		case <-time.After(lockPoll):
		}
	}
}

// publishExperiment writes the experiment's tables, model and variant into
// its working directory and then, holding the output root's lock, moves
// them to experiments/<name>/ and records the experiment in the run
// history. Unlike a run, nothing else in the output root changes.
func (r *run) publishExperiment(ctx context.Context, model *segment.Model) (*Result, error) {
	if err := checkInputs(r.exp.base, r.man.Inputs); err != nil {
		return nil, err
	}
	if r.man.AsOf != r.exp.base.AsOf {
		r.log.Warn("the experiment's as_of differs from its base run's: its rejects settings accept other rows", "as_of", r.man.AsOf,
			"base_as_of", r.exp.base.AsOf)
	}
	r.man.Quality.Delta = manifest.DeltaCounts{} // no delta is written
	work := r.exp.work
	if err := r.writeOutputs(ctx, work.Dir, model); err != nil {
		return nil, err
	}
	if r.exp.variant != "" {
		b, err := os.ReadFile(r.exp.variant)
		if err != nil {
			return nil, fmt.Errorf("variant configuration: %w", err)
		}
		if err := os.WriteFile(filepath.Join(work.Dir, store.VariantFile), b, 0o644); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(r.man, "", "  ")
	if err != nil {
		return nil, err
	}
	lock, err := r.waitForLock(ctx, r.lockOutput)
	if err != nil {
		return nil, err
	}
	defer r.release(lock)
	dir, err := work.Publish(append(b, '\n'), r.exp.replace)
	if err != nil {
		return nil, err
	}
	r.log.Info("experiment written", "dir", dir)
	res := &Result{RunID: r.man.RunID, Dir: dir, Manifest: r.man, Model: model}
	if err := r.recordSuccess(ctx); err != nil {
		res.HistoryErr = &RunError{RunID: r.man.RunID, Err: err}
	}
	return res, nil
}
