package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Manifest describes one run: what went in, with which settings, what came
// out, and how well it went. It is written as manifest.json in the run's
// directory.
type Manifest struct {
	RunID string `json:"run_id"`
	// PreviousRunID is the run the delta and migration compare with (the
	// output root's latest when this run segmented); empty for a first run.
	PreviousRunID string           `json:"previous_run_id,omitempty"`
	Status        string           `json:"status"`
	AsOf          string           `json:"as_of"`
	StartedAt     string           `json:"started_at"`
	Seed          uint64           `json:"seed"`
	Inputs        []ManifestInput  `json:"inputs"`
	Outputs       []ManifestOutput `json:"outputs"`
	Model         *ManifestFile    `json:"model,omitempty"` // the segmentation model, model.json
	Models        []ModelRecord    `json:"models"`          // the customer-value models
	Backtest      *Backtest        `json:"backtest,omitempty"`
	Quality       Quality          `json:"quality"`
	// Windows say how much of each metric window the data covers;
	// MetricsLeftOut the metrics not published, and why.
	Windows        []WindowCoverage  `json:"windows"`
	MetricsLeftOut []MetricLeftOut   `json:"metrics_left_out"`
	Timings        []Timing          `json:"timings"`
	Versions       map[string]string `json:"versions"`
	Config         Config            `json:"config"`

	// PeakRSSBytes is the process's peak resident memory in bytes from its
	// start to the end of the run's last stage (getrusage's maxrss, kept
	// across the per-stage resets); 0 where it is not measured. It is at
	// least every stage's PeakRSSBytes.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// StagePeakRSS says what each timing's PeakRSSBytes is: "stage", the
	// stage's own peak (Linux, VmHWM reset at the stage's start); or
	// "run_so_far", the process's peak up to the stage's end, where VmHWM
	// cannot be reset; or "not_measured".
	StagePeakRSS string `json:"stage_peak_rss"`
}

// ManifestInput is one input file as read.
type ManifestInput struct {
	Table  string `json:"table"`
	Path   string `json:"path"`
	Format string `json:"format"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ManifestOutput is one output table and its files.
type ManifestOutput struct {
	Table string         `json:"table"`
	Rows  int64          `json:"rows"`
	Files []ManifestFile `json:"files"`
}

// ManifestFile is one written file, relative to the run's directory.
type ManifestFile struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Quality holds the run's data-quality and model-quality figures.
type Quality struct {
	TransactionsRead     int64               `json:"transactions_read"`
	TransactionsAccepted int64               `json:"transactions_accepted"`
	Rejects              []RejectCount       `json:"rejects"`
	Segmentation         SegmentationQuality `json:"segmentation"`
	Delta                DeltaCounts         `json:"delta"`
}

// DeltaCounts are the rows of customer_segments_delta by change.
type DeltaCounts struct {
	New     int64 `json:"new"`
	Changed int64 `json:"changed"`
	Exit    int64 `json:"exit"`
}

// RejectCount is the number of rows of a table rejected for one reason.
type RejectCount struct {
	Table  string `json:"table"`
	Reason string `json:"reason"`
	Rows   int64  `json:"rows"`
}

// SegmentationQuality records the k-means fit.
type SegmentationQuality struct {
	K          int     `json:"k"`
	Customers  int     `json:"customers"`
	Features   int     `json:"features"`
	Inertia    float64 `json:"inertia"`
	Iterations int     `json:"iterations"`
	Converged  bool    `json:"converged"`
	Restarts   int     `json:"restarts"`
	Algorithm  string  `json:"algorithm"`
	// Source says where the segments came from: trained (first training),
	// retrained (matched to the previous run's model) or model (assigned
	// with a given model file, no training).
	Source     string    `json:"source"`
	Silhouette nullFloat `json:"silhouette"` // null when undefined (one segment)
	// ChangedShare is the share of the customers present in both this and
	// the previous run whose segment changed; Compared is their number
	// (0 when there is no previous run).
	ChangedShare float64 `json:"changed_share"`
	Compared     int64   `json:"compared"`
	// HysteresisKept counts the customers segmentation.hysteresis kept in
	// their previous segment although another centroid was nearer.
	HysteresisKept int64 `json:"hysteresis_kept"`
	// WarmStart reports whether the fit kept the start from the previous
	// run's centroids (segmentation.warm_start).
	WarmStart bool `json:"warm_start"`
	// SampleRows is the number of customers the restarts ran on before the
	// best was finished on all of them (segmentation.sample_size); 0 when
	// the segments were assigned with a model.
	SampleRows int `json:"sample_rows"`
}

// Timing is the wall time and peak resident memory of one stage.
type Timing struct {
	Stage   string  `json:"stage"`
	Seconds float64 `json:"seconds"`
	// PeakRSSBytes is the stage's peak resident memory in bytes, as
	// Manifest.StagePeakRSS says; 0 (left out) where not measured, and in
	// runs recorded before the history kept it.
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
}

// outputTables are the published tables, each with the key it is ordered by.
var outputTables = []struct{ name, orderBy string }{
	{"customer_segments", "customer_id"},
	{"segments", "segment_id"},
	{"segment_metrics", "segment_id, metric, dimension"},
	{"segment_targets", "segment_id, metric"},
	{"rejects", "source_table, source_file, source_row"},
	{"k_selection", "k"},
	{"segment_drift", "segment_id"},
	{"customer_segments_delta", "customer_id"},
	{"segment_migration", "from_segment_id NULLS FIRST, to_segment_id NULLS LAST"},
	{"models", "model, parameter"},
	{"model_backtest", "grouping, group_value"},
	{"cohort_retention", "segment_id, cohort_month, months_since"},
	{"category_pairs", "segment_id, pair_rank"},
}

// newRunID names a run by its start time (UTC, to the second) and a short
// hash of its configuration, so that runs sort by time and two configs
// started in the same second do not collide.
func newRunID(t time.Time, cfg Config) string {
	b, _ := json.Marshal(cfg)
	h := sha256.Sum256(b)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(h[:3])
}

// publish writes every output table as Parquet and CSV into a hidden
// directory under runs/, with the manifest last, renames it into place and
// then switches the latest link to it with an atomic rename. Until that last
// rename, readers of latest see the previous run, whole.
func (r *run) publish(ctx context.Context) (*Result, error) {
	root := r.cfg.Output
	runs := filepath.Join(root, "runs")
	id := r.man.RunID
	final := filepath.Join(runs, id)
	for i := 2; ; i++ {
		if _, err := os.Lstat(final); errors.Is(err, os.ErrNotExist) {
			break
		}
		id = fmt.Sprintf("%s-%d", r.man.RunID, i)
		final = filepath.Join(runs, id)
	}
	r.man.RunID = id
	tmp := filepath.Join(runs, ".tmp-"+id)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(tmp)
		}
	}()

	p := r.progress(StepWrite, len(outputTables))
	defer p.Done()
	for _, t := range outputTables {
		out := ManifestOutput{Table: t.name}
		n, err := r.s.queryInt(ctx, "SELECT count(*) FROM "+quoteIdent(t.name))
		if err != nil {
			return nil, err
		}
		out.Rows = n
		// The table is sorted once, into the Parquet file; the CSV copy
		// reads that file back, in its order, rather than sorting again.
		parquetPath := filepath.Join(tmp, t.name+".parquet")
		for _, f := range []struct{ ext, opts, from string }{
			{"parquet", "FORMAT parquet, COMPRESSION zstd", fmt.Sprintf("SELECT * FROM %s ORDER BY %s", quoteIdent(t.name), t.orderBy)},
			{"csv", "FORMAT csv, HEADER true, DELIMITER ','", "SELECT * FROM read_parquet(" + quoteLiteral(parquetPath) + ")"},
		} {
			name := t.name + "." + f.ext
			path := filepath.Join(tmp, name)
			q := fmt.Sprintf("COPY (%s) TO %s (%s)", f.from, quoteLiteral(path), f.opts)
			if err := r.s.exec(ctx, q); err != nil {
				return nil, fmt.Errorf("writing %s: %w", name, err)
			}
			mf, err := fileEntry(tmp, name)
			if err != nil {
				return nil, err
			}
			out.Files = append(out.Files, mf)
		}
		r.man.Outputs = append(r.man.Outputs, out)
		if err := r.failpoint("publish:" + t.name); err != nil {
			return nil, err
		}
		p.Add(1)
	}
	p.Done()
	r.done("publish")

	if r.model != nil {
		if err := r.model.Write(filepath.Join(tmp, "model.json")); err != nil {
			return nil, err
		}
		mf, err := fileEntry(tmp, "model.json")
		if err != nil {
			return nil, err
		}
		r.man.Model = &mf
	}
	b, err := json.MarshalIndent(r.man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(tmp, "manifest.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	if err := fsyncPath(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	committed = true
	// Until latest points at it, the run is not published: a failure
	// removes it again.
	switched := false
	defer func() {
		if !switched {
			os.RemoveAll(final)
		}
	}()
	if err := fsyncPath(runs); err != nil {
		return nil, err
	}
	if err := r.failpoint("publish:renamed"); err != nil {
		return nil, err
	}
	latest := filepath.Join(root, "latest")
	link := filepath.Join(root, ".latest-"+id)
	os.Remove(link)
	if err := os.Symlink(filepath.Join("runs", id), link); err != nil {
		return nil, err
	}
	if err := os.Rename(link, latest); err != nil {
		os.Remove(link)
		return nil, err
	}
	switched = true
	if err := fsyncPath(root); err != nil {
		// latest points at the run already: it is published, and saying
		// otherwise would be wrong. The switch may not survive a crash.
		r.log.Warn("latest switched but not synced to disk", "path", root, "error", err)
	}
	r.log.Info("published", "dir", final, "latest", latest)
	return &Result{RunID: id, Dir: final, Latest: latest, Manifest: r.man}, nil
}

func fileEntry(dir, name string) (ManifestFile, error) {
	p := filepath.Join(dir, name)
	if err := fsyncPath(p); err != nil {
		return ManifestFile{}, err
	}
	h, err := hashFile(p)
	if err != nil {
		return ManifestFile{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return ManifestFile{}, err
	}
	return ManifestFile{Path: name, Bytes: st.Size(), SHA256: h}, nil
}

func writeFileSync(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fsyncPath makes a file, or a directory's entries (renames, new files), durable.
func fsyncPath(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// nullFloat is a figure written as JSON null when it is NaN or infinite.
type nullFloat float64

func (f nullFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func (f *nullFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = nullFloat(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}
