package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/durable"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/segment"
)

// Experiments: a variant configuration run on exactly the inputs of a
// published run, written under experiments/<name>/ of the output root with
// the same files as a run directory (the tables but the customer delta,
// model.json, manifest.json) and variant.yaml. An experiment never moves
// latest, is never a run another run continues, and is never pruned.
//
// An experiment computes without the output root's lock: it holds its own
// name's lock (experiments/.lock-<name>) and works in
// experiments/.work-<name>/, which the leftover removal of runs does not
// touch. It takes the root's lock only to resolve its base run and, at the
// end, to move its directory into place and record itself in the history.

// ExperimentsDir is the directory of the experiments under the output root.
const ExperimentsDir = "experiments"

// VariantFile is the variant configuration as given, kept in an
// experiment's directory.
const VariantFile = "variant.yaml"

var experimentName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckExperimentName refuses a name that is not safe as a directory
// name: 1 to 64 letters, digits, dots, underscores and hyphens, starting
// with a letter or digit. A run ID's shape is refused too, so that a name
// never reads as a run.
func CheckExperimentName(root, name string) error {
	switch {
	case name == "":
		return &ExperimentError{Root: root, Problem: "the experiment needs a name: crmseg experiment run NAME --config variant.yaml"}
	case !experimentName.MatchString(name):
		return &ExperimentError{Root: root, Problem: fmt.Sprintf("experiment name %q: expected 1 to 64 letters, digits, '.', '_' or '-', "+
			"starting with a letter or digit", name)}
	case name == "latest" || runIDPattern.MatchString(name):
		return &ExperimentError{Root: root, Problem: fmt.Sprintf("experiment name %q: expected a name that is not latest or a run ID", name)}
	}
	return nil
}

// ExperimentDirName is the directory of experiment name, relative to the
// output root.
func ExperimentDirName(name string) string { return filepath.Join(ExperimentsDir, name) }

// ReadManifest reads the manifest.json of a run or experiment directory:
// the file's error when it cannot be read, a *ManifestError when it is
// not a manifest.
func ReadManifest(dir string) (*manifest.Manifest, error) {
	path := filepath.Join(dir, "manifest.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m manifest.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &ManifestError{Path: path, Err: err}
	}
	return &m, nil
}

// AcquireExperiment takes the lock of experiment name in the output root
// root without waiting (as Acquire takes the root's): one process at a time
// computes an experiment of a name. Another holding it is a *LockedError.
func AcquireExperiment(root, name string, me LockHolder) (*Lock, error) {
	dir := filepath.Join(root, ExperimentsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output root: %w", err)
	}
	l, _, err := acquireFile(root, filepath.Join(dir, ".lock-"+name), me)
	return l, err
}

// ExperimentWork is an experiment being computed: experiments/.work-<name>/
// holds its DuckDB session (Scratch) and its tables (Dir) until Publish.
type ExperimentWork struct {
	Dir     string // the tables, moved to experiments/<name>/ by Publish
	Scratch string // the directory the experiment's DuckDB session goes in
	root    string
	name    string
	work    string
}

// NewExperimentWork makes the working directory of experiment name, first
// removing what a killed experiment of the name left there; the caller
// holds the name's lock (AcquireExperiment), so none of it is live.
func NewExperimentWork(root, name string) (*ExperimentWork, error) {
	work := filepath.Join(root, ExperimentsDir, ".work-"+name)
	if err := os.RemoveAll(work); err != nil {
		return nil, fmt.Errorf("output root: removing the leftovers of an unfinished experiment: %w", err)
	}
	w := &ExperimentWork{Dir: filepath.Join(work, "tables"), Scratch: work, root: root, name: name, work: work}
	if err := os.MkdirAll(w.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("output root: %w", err)
	}
	return w, nil
}

// Close removes the working directory (the tables, unless published).
func (w *ExperimentWork) Close() error { return os.RemoveAll(w.work) }

// ExperimentExists says whether experiment name is there already.
func ExperimentExists(root, name string) bool {
	_, err := os.Lstat(filepath.Join(root, ExperimentDirName(name)))
	return err == nil
}

// Publish writes the manifest into the tables' directory, last, makes it
// durable and renames it to experiments/<name>/. An experiment of the name
// there already is refused unless replace, which moves it aside first and
// removes it once the new one is in place. The caller holds the output
// root's lock. It returns the experiment's directory.
func (w *ExperimentWork) Publish(manifestJSON []byte, replace bool) (string, error) {
	if err := durable.WriteFile(filepath.Join(w.Dir, "manifest.json"), manifestJSON); err != nil {
		return "", err
	}
	if err := durable.SyncDir(w.Dir); err != nil {
		return "", err
	}
	final := filepath.Join(w.root, ExperimentDirName(w.name))
	old := filepath.Join(w.work, "replaced")
	if ExperimentExists(w.root, w.name) {
		if !replace {
			return "", &ExperimentError{Root: w.root, Name: w.name, Problem: fmt.Sprintf("%s exists: choose another name, or give --replace to replace it", final)}
		}
		if err := os.Rename(final, old); err != nil {
			return "", err
		}
	}
	if err := os.Rename(w.Dir, final); err != nil {
		if _, serr := os.Lstat(old); serr == nil {
			os.Rename(old, final)
		}
		return "", err
	}
	return final, durable.SyncDir(filepath.Join(w.root, ExperimentsDir))
}

// ExperimentInfo is one experiment as crmseg experiment list shows it.
type ExperimentInfo struct {
	Name      string   `json:"name"`
	RunID     string   `json:"run_id"` // the experiment's own ID in the run history
	BaseRunID string   `json:"base_run_id"`
	Created   string   `json:"created"` // RFC 3339, UTC
	AsOf      string   `json:"as_of"`
	K         int      `json:"k"`
	Features  []string `json:"features"` // the numeric features clustered on
	Status    string   `json:"status"`   // succeeded, or promoted
	// PromotedAt is when the experiment's settings were last made a
	// configuration's (crmseg experiment promote); empty when never.
	PromotedAt string `json:"promoted_at,omitempty"`
	Dir        string `json:"dir"`
}

// ListExperiments lists the experiments of the output root, by name, from
// their manifests; their promotions from the run history when it has
// them. An experiment directory whose manifest cannot be read is listed
// with the problem as its status.
func ListExperiments(ctx context.Context, root string) ([]ExperimentInfo, error) {
	entries, err := os.ReadDir(filepath.Join(root, ExperimentsDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	promoted := map[string]string{}
	if ps, err := Promotions(ctx, root); err == nil {
		for _, p := range ps {
			promoted[p.ExperimentName] = p.PromotedAt // oldest first: the last one stays
		}
	}
	var out []ExperimentInfo
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(root, ExperimentsDir, e.Name())
		info := ExperimentInfo{Name: e.Name(), Dir: dir}
		m, err := ReadManifest(dir)
		if err != nil {
			info.Status = "unreadable: " + err.Error()
			out = append(out, info)
			continue
		}
		info.RunID, info.Created, info.AsOf, info.Status = m.RunID, m.StartedAt, m.AsOf, m.Status
		if m.Experiment != nil {
			info.BaseRunID = m.Experiment.BaseRunID
		}
		info.K = m.Quality.Segmentation.K
		features := m.Config.Segmentation.Features
		if model, err := segment.ReadModel(filepath.Join(dir, "model.json")); err == nil {
			features = model.Scaler.Features // those the experiment clustered on
		}
		for _, f := range features {
			if !strings.Contains(f.Name, "=") { // the numeric features, not the sparse columns
				info.Features = append(info.Features, f.Name)
			}
		}
		if at, ok := promoted[info.Name]; ok {
			info.Status, info.PromotedAt = "promoted", at
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b ExperimentInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Promotion is an experiment's settings made the nightly configuration's
// (crmseg experiment promote), as the run history records it.
type Promotion struct {
	PromotedAt      string `json:"promoted_at"` // RFC 3339, UTC
	ExperimentName  string `json:"experiment_name"`
	ExperimentRunID string `json:"experiment_run_id"`
	BaseRunID       string `json:"base_run_id,omitempty"`
	ConfigPath      string `json:"config_path"`
	PreviousConfig  string `json:"previous_config"` // the copy of the file as it was
	ModelPath       string `json:"model_path,omitempty"`
	PreviousModel   string `json:"previous_model,omitempty"`
	Diff            string `json:"diff"`
	Version         string `json:"crmseg_version,omitempty"`
}

// RecordPromotion records p, made at at (p.PromotedAt is not read), in the
// run history of the output root root, migrating an older file forward
// first. The caller holds the root's lock. Its error is a *HistoryError.
func RecordPromotion(ctx context.Context, root string, p Promotion, at time.Time) error {
	path := filepath.Join(root, HistoryFile)
	err := withScratchConn(ctx, func(conn *sql.Conn) error {
		return writeHistory(ctx, conn, path, "record promotions", func(tx *sql.Tx) error {
			return insertPromotion(ctx, tx, p, at)
		})
	})
	if err != nil {
		var he *HistoryError
		if !errors.As(err, &he) {
			he = &HistoryError{Path: path, Op: "record the promotion", Err: err}
		}
		return he
	}
	return nil
}

// insertPromotion inserts the promotion's row into the attached history.
func insertPromotion(ctx context.Context, tx *sql.Tx, p Promotion, at time.Time) error {
	orNull := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return insertRow(ctx, tx, "promotions", []column{{"promoted_at", historyTimestamp(at)},
		{"experiment_name", p.ExperimentName}, {"experiment_run_id", p.ExperimentRunID}, {"base_run_id", orNull(p.BaseRunID)},
		{"config_path", p.ConfigPath}, {"previous_config", p.PreviousConfig}, {"model_path", orNull(p.ModelPath)},
		{"previous_model", orNull(p.PreviousModel)}, {"diff", p.Diff}, {"crmseg_version", orNull(p.Version)}})
}

// Promotions returns the promotions the output root's history records,
// oldest first; none in a history from before experiments.
func Promotions(ctx context.Context, root string) ([]Promotion, error) {
	var out []Promotion
	err := readHistory(ctx, root, func(conn *sql.Conn, v int) error {
		if v < experimentSchemaVersion {
			return nil
		}
		return queryEach(ctx, conn, "SELECT strftime(promoted_at, '%Y-%m-%dT%H:%M:%SZ'), experiment_name, experiment_run_id, coalesce(base_run_id, ''), "+
			"config_path, previous_config, coalesce(model_path, ''), coalesce(previous_model, ''), diff, coalesce(crmseg_version, '') FROM "+
			sqlquote.Ident(historyAlias)+".promotions ORDER BY promoted_at, experiment_name", func(rows *sql.Rows) error {
			var p Promotion
			err := rows.Scan(&p.PromotedAt, &p.ExperimentName, &p.ExperimentRunID, &p.BaseRunID, &p.ConfigPath, &p.PreviousConfig,
				&p.ModelPath, &p.PreviousModel, &p.Diff, &p.Version)
			out = append(out, p)
			return err
		})
	})
	return out, err
}

// ExperimentPrevious is what an experiment on the published run base (its
// manifest, its directory baseDir) continues: what base continued, so that
// an experiment with base's configuration reproduces base's tables. That
// is base's previous run, whose model gives the segment IDs (matched only
// within the same feature space) and whose customers the migration and
// drift compare with, and the highest segment ID given before base
// (manifest.Manifest.SegmentIDFloor; for a run whose manifest predates it,
// its previous model's last ID). When base's previous run is gone
// (pruned), the experiment continues from base itself, logged. The active
// plans of record are the history's now.
func ExperimentPrevious(ctx context.Context, root string, base *manifest.Manifest, baseDir string, log *slog.Logger) (Previous, error) {
	var p Previous
	_, _, p.Plans, p.PlansErr = historyPublished(ctx, root)
	p.IDFloor = base.SegmentIDFloor
	if base.PreviousRunID == "" {
		return p, nil // base was a first run: so is the experiment
	}
	dir, m, problem := readPreviousRun(filepath.Join(root, "runs", base.PreviousRunID))
	switch {
	case dir == "":
		log.Warn("the base run's previous run is gone: the experiment continues from the base run itself, its segment IDs matched to "+
			"the base run's model and its migration and drift compared with the base run's customers", "base_run_id", base.RunID,
			"previous_run_id", base.PreviousRunID, "problem", cmp.Or(problem, "its directory is gone"))
		if dir, m, problem = readPreviousRun(baseDir); dir == "" {
			return p, &OutputRootError{Root: root, Problem: "the base run " + base.RunID + " cannot be continued: " + problem,
				Fix: "run the experiment on another run (--from RUN_ID)"}
		}
		p.IDFloor = max(p.IDFloor, m.NextID-1)
	case base.SegmentIDFloor == 0:
		p.IDFloor = m.NextID - 1
	}
	if m.NextID <= p.IDFloor {
		m.NextID = p.IDFloor + 1
	}
	p.Dir, p.Model = dir, m
	return p, nil
}
