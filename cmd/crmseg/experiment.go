package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/cli"
	"github.com/crmseg/crmseg/internal/durable"
)

const experimentUsage = `Usage of crmseg experiment (docs/operations.md, "Experiments"):
  crmseg experiment run NAME --config variant.yaml [--from RUN_ID|latest] [--out DIR] [--replace]
        run the variant on exactly the inputs of a published run (latest's by default), into OUTPUT/experiments/NAME/
  crmseg experiment list (--out DIR | --config FILE) [--json]
        the experiments: name, base run, created, k, features, status
  crmseg experiment promote NAME --config NIGHTLY.yaml [--out DIR]
        write the experiment's settings into the nightly configuration (the old file kept beside it)
Run 'crmseg experiment run -h' (list, promote) for the flags.

Example:
  crmseg experiment run k4 --config k4.yaml --out crmseg-out
  crmseg experiment promote k4 --config crmseg.yaml
`

// cmdExperiment runs, lists or promotes experiments.
func cmdExperiment(ctx context.Context, args []string, stdout, stderr io.Writer, lf *logFlags, now func() time.Time) error {
	if len(args) == 0 {
		return &cli.UsageError{Msg: "experiment needs a subcommand: run, list or promote"}
	}
	switch args[0] {
	case "run":
		return cmdExperimentRun(ctx, args[1:], stdout, stderr, lf)
	case "list":
		return cmdExperimentList(ctx, args[1:], stdout, stderr)
	case "promote":
		return cmdExperimentPromote(ctx, args[1:], stdout, stderr, now)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, experimentUsage)
		return flag.ErrHelp
	}
	return &cli.UsageError{Msg: fmt.Sprintf("experiment: unknown subcommand %q (expected run, list or promote)", args[0])}
}

// experimentName is the one NAME argument of experiment run and promote.
func experimentName(command string, names []string) (string, error) {
	if len(names) != 1 {
		return "", &cli.UsageError{Msg: fmt.Sprintf("experiment %s needs one NAME, found %d arguments (%s)", command, len(names), strings.Join(names, " "))}
	}
	return names[0], nil
}

func cmdExperimentRun(ctx context.Context, args []string, stdout, stderr io.Writer, lf *logFlags) error {
	fs := cli.NewFlagSet("crmseg", "experiment run", stderr)
	lf.register(fs, true)
	configFile := fs.String("config", "", "the variant configuration (YAML); its inputs, as_of and today, if given, must be the base run's")
	from := fs.String("from", "latest", "the published run whose inputs the experiment reads: latest or a run ID")
	out := fs.String("out", "", "output root (default: the variant's output)")
	replace := fs.Bool("replace", false, "replace an experiment of the same name")
	cli.Examples(fs, "crmseg experiment run k4 --config k4.yaml --out crmseg-out", "crmseg experiment run k4-may --config k4.yaml --from 20260601T020000Z-3f9a1c --out crmseg-out")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	name, err := experimentName("run", names)
	if err != nil {
		return err
	}
	if *configFile == "" {
		return &cli.UsageError{Msg: "experiment run needs --config (the variant configuration)"}
	}
	cfg, err := config.LoadConfig(*configFile)
	if err != nil {
		return err
	}
	if *out != "" {
		cfg.Output = *out
	}
	log, progress, err := lf.setup(stderr)
	if err != nil {
		return err
	}
	res, err := engine.RunExperiment(ctx, cfg, engine.Experiment{Name: name, Base: *from, Replace: *replace, Variant: *configFile},
		runOptions(log, progress, false))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "experiment %s on run %s written to %s\n", name, res.Manifest.Experiment.BaseRunID, res.Dir)
	printSegments(stdout, res)
	if res.Model != nil {
		printKSelection(stdout, res.Model.Training.KSelection, res.Model.Training.K, res.Model.Training.KReason)
	}
	return res.HistoryErr
}

func cmdExperimentList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("crmseg", "experiment list", stderr)
	out := fs.String("out", "", "output root")
	configFile := fs.String("config", "", "take the output root from this config file")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	cli.Examples(fs, "crmseg experiment list --out crmseg-out")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	root, err := outputRoot("experiment list", *out, *configFile)
	if err != nil {
		return err
	}
	list, err := store.ListExperiments(ctx, root)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, struct {
			Experiments []store.ExperimentInfo `json:"experiments"`
		}{list})
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no experiments")
		return nil
	}
	fmt.Fprintf(stdout, "%-24s %-26s %-20s %3s  %-10s  %s\n", "name", "base run", "created", "k", "status", "features")
	for _, e := range list {
		fmt.Fprintf(stdout, "%-24s %-26s %-20s %3d  %-10s  %s\n", e.Name, e.BaseRunID, e.Created, e.K, e.Status, strings.Join(e.Features, ", "))
	}
	return nil
}

// cmdExperimentPromote makes an experiment's settings the nightly
// configuration's: it prints the diff, keeps the file as it was beside it
// (NIGHTLY.yaml.prev-TIMESTAMP), writes the new one atomically and records
// the promotion in the run history. Where the nightly configuration
// assigns with a model file and the experiment trained a model, the
// experiment's model.json is copied into that file, the old one kept the
// same way.
func cmdExperimentPromote(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) error {
	fs := cli.NewFlagSet("crmseg", "experiment promote", stderr)
	configFile := fs.String("config", "", "the nightly configuration file the experiment's settings are written into")
	out := fs.String("out", "", "output root holding the experiment (default: the nightly configuration's output)")
	cli.Examples(fs, "crmseg experiment promote k4 --config crmseg.yaml")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	name, err := experimentName("promote", names)
	if err != nil {
		return err
	}
	if *configFile == "" {
		return &cli.UsageError{Msg: "experiment promote needs --config (the nightly configuration file)"}
	}
	nightly, err := config.LoadConfig(*configFile)
	if err != nil {
		return err
	}
	root := nightly.Output
	if *out != "" {
		root = *out
	}
	exp, err := store.ResolveRun(root, name)
	if err != nil {
		return err
	}
	if exp.Kind != store.KindExperiment {
		return &store.ExperimentError{Root: root, Name: name, Problem: fmt.Sprintf("expected the name of an experiment under experiments/, found the %s %s", exp.Kind, exp.Dir)}
	}
	m, err := store.ReadManifest(exp.Dir)
	if err != nil {
		return err
	}
	variant, err := os.ReadFile(filepath.Join(exp.Dir, store.VariantFile))
	if err != nil || m.Experiment == nil {
		return &store.ExperimentError{Root: root, Name: name, Problem: fmt.Sprintf("%s has no variant configuration to promote (%v)", exp.Dir, err)}
	}
	old, err := os.ReadFile(*configFile)
	if err != nil {
		return err
	}
	// The nightly assigns with a model file and the experiment trained
	// one: the file takes the experiment's model.
	keepModel := nightly.Segmentation.Model != "" && m.Config.Segmentation.Model == ""
	updated, err := config.Promote(old, variant, filepath.Dir(m.Experiment.Variant), keepModel)
	if err != nil {
		return &store.ExperimentError{Root: root, Name: name, Problem: fmt.Sprintf("%s: %v", *configFile, err)}
	}
	if err := samePromotedSettings(root, name, *configFile, updated, m.Config, keepModel); err != nil {
		return err
	}
	diff := lineDiff(string(old), string(updated), *configFile)
	if diff == "" && !keepModel {
		fmt.Fprintf(stdout, "%s has the settings of experiment %s already: nothing to change\n", *configFile, name)
		return nil
	}

	// Written and recorded under the output root's lock: a run starting
	// now reads the file before or after, whole.
	host, _ := os.Hostname()
	at := now().UTC()
	lock, _, err := store.Acquire(root, store.LockHolder{PID: os.Getpid(), Host: host, StartedAt: at.Format(time.RFC3339), Command: "experiment promote " + name})
	if err != nil {
		return err
	}
	defer lock.Release()
	stamp := at.Format("20060102T150405Z")
	p := store.Promotion{ExperimentName: name, ExperimentRunID: m.RunID, BaseRunID: m.Experiment.BaseRunID, ConfigPath: *configFile,
		PreviousConfig: *configFile + ".prev-" + stamp, Diff: diff, Version: version()}
	if err := durable.WriteFile(p.PreviousConfig, old); err != nil {
		return err
	}
	if keepModel {
		p.ModelPath = nightly.Segmentation.Model
		if prev, err := os.ReadFile(p.ModelPath); err == nil {
			p.PreviousModel = p.ModelPath + ".prev-" + stamp
			if err := durable.WriteFile(p.PreviousModel, prev); err != nil {
				return err
			}
		}
		model, err := os.ReadFile(filepath.Join(exp.Dir, "model.json"))
		if err != nil {
			return fmt.Errorf("experiment %s's model: %w", name, err)
		}
		if err := durable.WriteFile(p.ModelPath, model); err != nil {
			return err
		}
	}
	if err := durable.WriteFile(*configFile, updated); err != nil {
		return err
	}
	fmt.Fprint(stdout, diff)
	fmt.Fprintf(stdout, "experiment %s promoted: %s has its settings; the previous file is kept as %s\n", name, *configFile, p.PreviousConfig)
	if keepModel {
		fmt.Fprintf(stdout, "its model is copied into %s", p.ModelPath)
		if p.PreviousModel != "" {
			fmt.Fprintf(stdout, " (the previous model kept as %s)", p.PreviousModel)
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "the next crmseg run --config %s runs with them\n", *configFile)
	return store.RecordPromotion(ctx, root, p, at)
}

// samePromotedSettings checks that the promoted configuration, read as a
// run reads it, has the experiment's settings (config.SettingsKeys): a
// difference would mean the nightly run is not the experiment.
func samePromotedSettings(root, name, file string, updated []byte, want config.Config, keepModel bool) error {
	got := config.DefaultConfig()
	if err := config.DecodeConfig(updated, &got); err != nil {
		return err
	}
	settings := func(c config.Config) map[string]any {
		seg := c.Segmentation
		if keepModel {
			seg.Model, seg.ChooseK = "", nil
		}
		return map[string]any{"seed": c.Seed, "segmentation": seg, "targets": c.Targets, "rejects": c.Rejects, "value": c.Value, "economics": c.Economics}
	}
	g, w := settings(got), settings(want)
	for _, key := range config.SettingsKeys {
		gb, _ := json.Marshal(g[key])
		wb, _ := json.Marshal(w[key])
		if !bytes.Equal(gb, wb) && !reflect.DeepEqual(g[key], w[key]) {
			return &store.ExperimentError{Root: root, Name: name, Problem: fmt.Sprintf("%s with the experiment's settings would not run them: "+
				"%s is %s, the experiment ran with %s; nothing was written", file, key, gb, wb)}
		}
	}
	return nil
}

// lineDiff is a readable diff of two texts by line, as diff -u prints it
// (three lines of context, @@ hunks); "" when they are the same.
func lineDiff(a, b, name string) string {
	x, y := splitLines(a), splitLines(b)
	// The longest common subsequence, by dynamic programming: the files
	// are configuration files of a few hundred lines at most.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte // ' ', '-' or '+'
		line string
		i, j int // the line's numbers in a and b before it
	}
	var ops []op
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, op{' ', x[i], i, j})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', x[i], i, j}) // deletions first, as diff prints them
			i++
		default:
			ops = append(ops, op{'+', y[j], i, j})
			j++
		}
	}
	const context = 3
	var changes []int
	for k, o := range ops {
		if o.kind != ' ' {
			changes = append(changes, k)
		}
	}
	var out strings.Builder
	if len(changes) > 0 {
		fmt.Fprintf(&out, "--- %s\n+++ %s (promoted)\n", name, name)
	}
	for c := 0; c < len(changes); c++ {
		// A hunk: changes no more than 2*context unchanged lines apart.
		first, last := changes[c], changes[c]
		for c+1 < len(changes) && changes[c+1]-last <= 2*context+1 {
			c++
			last = changes[c]
		}
		start, end := max(0, first-context), min(len(ops), last+context+1)
		na, nb := 0, 0
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", ops[start].i+1, na, ops[start].j+1, nb)
		for _, o := range ops[start:end] {
			fmt.Fprintf(&out, "%c%s\n", o.kind, o.line)
		}
	}
	return out.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// experimentKind is how history names a run's kind in its list.
func experimentKind(r store.HistoryRun) string {
	if r.Kind != "experiment" {
		return ""
	}
	return fmt.Sprintf("experiment %s on %s", r.ExperimentName, r.BaseRunID)
}
