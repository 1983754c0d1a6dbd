package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/segment"
)

// withoutExperiments is a snapshot of the output root less the experiments
// and the history, which an experiment is allowed to change.
func withoutExperiments(t *testing.T, root string) map[string]string {
	t.Helper()
	m := snapshot(t, root)
	for k := range m {
		if k == store.ExperimentsDir || strings.HasPrefix(k, store.ExperimentsDir+string(filepath.Separator)) || strings.HasPrefix(k, store.LockFile) {
			delete(m, k)
		}
	}
	return m
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %s was %s, is %q", what, k, v, after[k])
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s: %s (%s) appeared", what, k, v)
		}
	}
}

// An experiment with the configuration of a run, on that run's inputs,
// reproduces its tables byte for byte (the run continuing another, whose
// segment IDs it matched): every Parquet file but the customer delta,
// which an experiment does not write. The output root outside experiments/
// is untouched (latest, the runs and their deltas), the experiment is in
// the history as one, and the next nightly run continues latest's run, not
// the experiment.
func TestExperimentReproducesRun(t *testing.T) {
	ctx := context.Background()
	data := generatedData(t, 3000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	if _, err := Run(ctx, cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	base, err := Run(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if base.Manifest.PreviousRunID == "" {
		t.Fatal("the second run continues no run")
	}
	before := withoutExperiments(t, out)

	exp, err := RunExperiment(ctx, cfg, Experiment{Name: "same"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(out, "experiments", "same"); exp.Dir != want {
		t.Errorf("experiment written to %s, want %s", exp.Dir, want)
	}
	if e := exp.Manifest.Experiment; e == nil || e.BaseRunID != base.RunID || exp.Manifest.PreviousRunID != base.Manifest.PreviousRunID {
		t.Errorf("experiment manifest: %+v, previous run %s; want base %s, previous %s", e, exp.Manifest.PreviousRunID, base.RunID, base.Manifest.PreviousRunID)
	}
	for _, tbl := range outputTables {
		got, err := os.ReadFile(filepath.Join(exp.Dir, tbl.name+".parquet"))
		if tbl.name == deltaTable {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the experiment wrote the customer delta (%v)", err)
			}
			continue
		}
		want, err2 := os.ReadFile(filepath.Join(base.Dir, tbl.name+".parquet"))
		if err := errors.Join(err, err2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s.parquet of the experiment differs from its base run's", tbl.name)
		}
	}
	sameSnapshot(t, "output root after the experiment", before, withoutExperiments(t, out))

	runs, err := store.List(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	last := runs[len(runs)-1]
	if last.Kind != "experiment" || last.ExperimentName != "same" || last.BaseRunID != base.RunID || last.Directory != "experiments/same" ||
		last.DeltaNew != nil || last.K == nil {
		t.Errorf("the experiment recorded as %+v", last)
	}
	if runs[0].Kind != "run" {
		t.Errorf("a run recorded as kind %q", runs[0].Kind)
	}
	prev, err := store.FindPrevious(ctx, out, false, slog.New(slog.DiscardHandler))
	if err != nil || prev.Dir != base.Dir {
		t.Errorf("the next run would continue %s (%v), want the latest run %s", prev.Dir, err, base.Dir)
	}
	if r, err := store.ResolveRun(out, "same"); err != nil || r.Kind != store.KindExperiment || r.Dir != exp.Dir {
		t.Errorf("ResolveRun(same) = %+v, %v", r, err)
	}
	var nf *store.RunRefError
	if _, err := store.ResolveRun(out, "other"); !errors.As(err, &nf) {
		t.Errorf("ResolveRun of an unknown name: %v, want a *store.RunRefError", err)
	}

	// The same name again is refused, and writes nothing; --replace
	// replaces it.
	var xe *store.ExperimentError
	if _, err := RunExperiment(ctx, cfg, Experiment{Name: "same"}, Options{}); !errors.As(err, &xe) {
		t.Errorf("an experiment name in use: %v, want a *store.ExperimentError", err)
	}
	for _, name := range []string{"", "../x", "latest", base.RunID, ".hidden"} {
		if _, err := RunExperiment(ctx, cfg, Experiment{Name: name}, Options{}); !errors.As(err, &xe) {
			t.Errorf("experiment name %q: %v, want a *store.ExperimentError", name, err)
		}
	}
	sameSnapshot(t, "output root after refused experiments", before, withoutExperiments(t, out))
}

// A changed input file is refused with both hashes before anything is
// written; so is a variant naming other inputs.
func TestExperimentRefusesChangedInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out, tx := filepath.Join(dir, "out"), filepath.Join(dir, "tx.parquet")
	writeOrders(t, tx, append(group("A", 10, 10), group("B", 10, 100)...))
	cfg := orderConfig(tx, out)
	base, err := Run(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out)

	other := filepath.Join(dir, "other.parquet")
	writeOrders(t, other, group("A", 10, 10))
	variant := orderConfig(other, out)
	var xe *store.ExperimentError
	if _, err := RunExperiment(ctx, variant, Experiment{Name: "other-inputs"}, Options{}); !errors.As(err, &xe) || !strings.Contains(err.Error(), "inputs.transactions.path") {
		t.Errorf("a variant with other inputs: %v, want a *store.ExperimentError naming inputs.transactions.path", err)
	}

	oldHash := base.Manifest.Inputs[0].SHA256
	writeOrders(t, tx, append(group("A", 10, 10), group("B", 10, 120)...))
	newHash, err := hashFile(tx)
	if err != nil {
		t.Fatal(err)
	}
	variant = cfg
	variant.Inputs = config.Inputs{} // the base run's
	_, err = RunExperiment(ctx, variant, Experiment{Name: "changed"}, Options{})
	var ie *InputError
	if !errors.As(err, &ie) || ie.File != tx || !strings.Contains(err.Error(), oldHash) || !strings.Contains(err.Error(), newHash) {
		t.Errorf("a changed input: %v, want an *InputError naming %s, %s and %s", err, tx, oldHash, newHash)
	}
	if runs, err := store.List(ctx, out); err != nil || len(runs) != 1 {
		t.Errorf("the history after a refused experiment: %+v, %v; want the run alone", runs, err)
	}
	after := snapshot(t, out)
	for k := range after {
		if strings.HasPrefix(k, store.ExperimentsDir+string(filepath.Separator)) && !strings.HasPrefix(filepath.Base(k), ".lock-") {
			t.Errorf("a refused experiment left %s", k)
		}
	}
	delete(after, store.ExperimentsDir)
	for k := range after {
		if strings.HasPrefix(filepath.Base(k), ".lock-") {
			delete(after, k)
		}
	}
	sameSnapshot(t, "output root after a refused experiment", before, after)
}

// Segments are matched to the previous run's model only in the same
// feature space: a run on other features gets new IDs (above those given)
// and its log names the differing features.
func TestMatchingOnlyInSameFeatureSpace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out, tx := filepath.Join(dir, "out"), filepath.Join(dir, "tx.parquet")
	writeOrders(t, tx, append(group("A", 10, 10), group("B", 10, 100)...))
	cfg := orderConfig(tx, out)
	first, err := Run(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	opts := Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}

	same, err := Run(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if q := same.Manifest.Quality.Segmentation; q.Source != "retrained" || segmentIDs(same.Model) != segmentIDs(first.Model) {
		t.Errorf("same features: source %s, IDs %s; want retrained, the first run's %s", q.Source, segmentIDs(same.Model), segmentIDs(first.Model))
	}
	if strings.Contains(logs.String(), "feature space differs") {
		t.Errorf("same features, yet the log says the feature space differs:\n%s", logs.String())
	}

	cfg.Segmentation.Features = []segment.FeatureSpec{{Name: "avg_order_value", Method: "none", Weight: 2}}
	logs.Reset()
	other, err := Run(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if q := other.Manifest.Quality.Segmentation; q.Source != "trained" || segmentIDs(other.Model) != "3 4" {
		t.Errorf("other features: source %s, IDs %s; want trained, new IDs 3 4", q.Source, segmentIDs(other.Model))
	}
	if !strings.Contains(logs.String(), "feature space differs") || !strings.Contains(logs.String(), "feature avg_order_value: transform none, method none, weight 2, previously transform none, method none, weight 1") {
		t.Errorf("the log does not say which features differ:\n%s", logs.String())
	}
}

// segmentIDs are a model's segment IDs, in order.
func segmentIDs(m *segment.Model) string {
	var ids []string
	for _, s := range m.Segments {
		ids = append(ids, strconv.Itoa(s.ID))
	}
	return strings.Join(ids, " ")
}

// A variant may give the base run's as_of: the one the run's config gave,
// or, when it gave none, the date the run took from its data (the
// manifest's). Another date is refused, naming the run's.
func TestExperimentConfigAsOf(t *testing.T) {
	base := &manifest.Manifest{RunID: "20260701T020000Z-abcdef", AsOf: "2026-06-30", StartedAt: "2026-07-01T02:00:00Z"}
	for _, c := range []struct {
		runAsOf, variantAsOf string
		refused              bool
	}{
		{"", "", false},
		{"", "2026-06-30", false},
		{"2026-06-30", "2026-06-30", false},
		{"", "2026-03-31", true},
		{"2026-06-30", "2026-03-31", true},
	} {
		base.Config.AsOf = c.runAsOf
		got, err := experimentConfig(config.Config{AsOf: c.variantAsOf}, base)
		var ee *store.ExperimentError
		switch {
		case c.refused && (!errors.As(err, &ee) || !strings.Contains(err.Error(), "as_of: the variant gives "+c.variantAsOf+", the run's as_of was 2026-06-30")):
			t.Errorf("run as_of %q, variant %q: want refused naming the run's as_of, got %v", c.runAsOf, c.variantAsOf, err)
		case !c.refused && err != nil:
			t.Errorf("run as_of %q, variant %q: refused: %v", c.runAsOf, c.variantAsOf, err)
		case !c.refused && (got.AsOf != c.runAsOf || got.Today != "2026-07-01"):
			t.Errorf("run as_of %q, variant %q: the experiment runs with as_of %q, today %q; want the run's", c.runAsOf, c.variantAsOf, got.AsOf, got.Today)
		}
	}
}

// signalWriter closes seen the first time a write holds want.
type signalWriter struct {
	want string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// An experiment that finds the output root's lock held (the nightly run,
// another experiment) waits for it instead of giving up its work, and
// writes its directory once the holder is done.
func TestExperimentWaitsForTheRoot(t *testing.T) {
	defer func(prev time.Duration) { lockPoll = prev }(lockPoll)
	lockPoll = 20 * time.Millisecond
	ctx := context.Background()
	data := generatedData(t, 1000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	if _, err := Run(ctx, cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	held, _, err := store.Acquire(out, store.LockHolder{PID: 1, Host: "nightly"})
	if err != nil {
		t.Fatal(err)
	}
	w := &signalWriter{want: "the experiment waits for it", seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := RunExperiment(ctx, cfg, Experiment{Name: "waits"}, Options{Logger: slog.New(slog.NewTextHandler(w, nil))})
		done <- err
	}()
	select {
	case <-w.seen:
	case err := <-done:
		held.Release()
		t.Fatalf("the experiment ended while the root was locked: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, store.ExperimentsDir, "waits")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the experiment's directory exists while another process holds the root (%v)", err)
	}
	held.Release()
	if err := <-done; err != nil {
		t.Fatalf("the experiment, once the root was free: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, store.ExperimentsDir, "waits", "manifest.json")); err != nil {
		t.Errorf("the experiment's directory after the wait: %v", err)
	}
}
