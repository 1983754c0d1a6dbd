package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/crmseg/crmseg/datasets/featuretable"
	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/internal/cli"
	"github.com/crmseg/crmseg/internal/durable"
	"github.com/crmseg/crmseg/segment"
)

// clusterReport is what cluster prints with --json and writes to
// summary.json.
type clusterReport struct {
	Features     string    `json:"features"`
	Rows         int       `json:"rows"`
	SkippedRows  int       `json:"skipped_rows"` // left out under --skip-bad-rows
	BadCells     int       `json:"bad_cells"`    // in those rows
	Columns      []string  `json:"columns"`
	K            int       `json:"k"`
	NInit        int       `json:"n_init"`
	MaxIter      int       `json:"max_iter"`
	Tol          float64   `json:"tol"`
	Seed         uint64    `json:"seed"`
	Algorithm    string    `json:"algorithm"`
	Scale        string    `json:"scale"`
	Inertia      float64   `json:"inertia"`
	Iterations   int       `json:"iterations"`
	Converged    bool      `json:"converged"`
	Restart      int       `json:"restart"`
	SampleRows   int       `json:"sample_rows"`
	Inertias     []float64 `json:"inertias"`
	Sizes        []int     `json:"sizes"`
	ReadSeconds  float64   `json:"read_seconds"`
	FitSeconds   float64   `json:"fit_seconds"`
	Threads      int       `json:"threads"`
	PeakRSSBytes int64     `json:"peak_rss_bytes,omitempty"`
	MatrixBytes  int64     `json:"matrix_bytes"`
}

func cmdCluster(ctx context.Context, args []string, stdout, stderr io.Writer, lf *logFlags) error {
	fs := cli.NewFlagSet("crmseg", "cluster", stderr)
	lf.register(fs, false)
	features := fs.String("features", "", "table of features: .parquet or .csv (gzip too)")
	idCol := fs.String("id-column", "", "the identifier column")
	columns := fs.String("columns", "", "the feature columns, comma-separated (default: every column but the identifier)")
	skipBad := fs.Bool("skip-bad-rows", false, "leave out the rows with an empty, non-numeric, NaN or infinite feature value, and count them (default: such a value is an error)")
	k := fs.Int("k", 8, "number of clusters")
	nInit := fs.Int("n-init", 10, "restarts; the lowest inertia wins")
	maxIter := fs.Int("max-iter", 300, "iterations per restart")
	tol := fs.Float64("tol", 1e-4, "stop when the centroids move less than tol × the mean feature variance")
	seed := fs.Uint64("seed", 0, "random seed")
	algorithm := fs.String("algorithm", "hamerly", "hamerly (exact, fast), lloyd (exact) or minibatch (approximate, for very large inputs)")
	batch := fs.Int("batch-size", 1024, "rows per mini-batch step")
	sample := fs.Int("sample-size", 0, "rows the restarts run on before the best is finished on all rows; 0 = max(50000, 2000 × k), -1 = all rows")
	scale := fs.String("scale", "none", "scale every feature first: none, standard (z-score) or robust (median/IQR)")
	threads := fs.Int("threads", 0, "threads; 0 = all cores (the result does not depend on it)")
	out := fs.String("out", "", "output directory: assignments.parquet, centroids.csv, summary.json")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	cli.Examples(fs, "crmseg cluster --features features.parquet --id-column customer_id --k 5 --scale standard --out clusters",
		"crmseg cluster --features customers.csv --id-column customer_id --columns recency_days,orders,net_revenue --skip-bad-rows --out clusters")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	switch {
	case *features == "":
		return &cli.UsageError{Msg: "cluster needs --features"}
	case *idCol == "":
		return &cli.UsageError{Msg: "cluster needs --id-column"}
	case *out == "":
		return &cli.UsageError{Msg: "cluster needs --out"}
	case *k < 1:
		return &cli.UsageError{Msg: fmt.Sprintf("--k: expected at least 1, found %d", *k)}
	case *nInit < 1 || *maxIter < 1 || *batch < 1:
		return &cli.UsageError{Msg: "--n-init, --max-iter and --batch-size must be at least 1"}
	case !(*tol >= 0):
		return &cli.UsageError{Msg: fmt.Sprintf("--tol: expected a number >= 0, found %v", *tol)}
	}
	switch segment.Algorithm(*algorithm) {
	case segment.Lloyd, segment.Hamerly, segment.MiniBatch:
	default:
		return &cli.UsageError{Msg: fmt.Sprintf("--algorithm: expected hamerly, lloyd or minibatch, found %q", *algorithm)}
	}
	method := segment.Method(*scale)
	switch method {
	case segment.MethodNone, segment.MethodStandard, segment.MethodRobust:
	default:
		return &cli.UsageError{Msg: fmt.Sprintf("--scale: expected none, standard or robust, found %q", *scale)}
	}

	opts := featuretable.Options{SkipBadRows: *skipBad}
	if *columns != "" {
		for _, c := range strings.Split(*columns, ",") {
			if c = strings.TrimSpace(c); c == "" {
				return &cli.UsageError{Msg: fmt.Sprintf("--columns: expected column names separated by commas, found %q", *columns)}
			}
			if slices.Contains(opts.Columns, c) {
				return &cli.UsageError{Msg: fmt.Sprintf("--columns: expected each column once, found %q twice in %q", c, *columns)}
			}
			if c == *idCol {
				return &cli.UsageError{Msg: fmt.Sprintf("--columns: expected feature columns, found the identifier column %q (--id-column)", c)}
			}
			opts.Columns = append(opts.Columns, c)
		}
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}

	start := time.Now()
	t, err := featuretable.ReadWith(*features, *idCol, opts)
	var bad *featuretable.BadCellsError
	if errors.As(err, &bad) {
		return &featuretable.InputError{Path: *features, Err: fmt.Errorf("%w\n(fix them, or leave their rows out with --skip-bad-rows)", bad)}
	}
	if err != nil {
		return err // a *featuretable.InputError: exit 3
	}
	if sk := t.Skipped; sk.Rows > 0 {
		log.Warn("rows with a bad feature value left out", "file", *features, "rows", sk.Rows, "values", sk.Cells, "first", sk.First[0].String())
	}
	if t.N < *k {
		return &featuretable.InputError{Path: *features, Err: fmt.Errorf("%s: %d rows, fewer than --k %d", *features, t.N, *k)}
	}
	read := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	x := mat.NewDense(t.N, t.D, t.X)
	var scaler *segment.Scaler
	if method != segment.MethodNone {
		specs := make([]segment.FeatureSpec, t.D)
		for j, c := range t.Columns {
			specs[j] = segment.FeatureSpec{Name: c, Method: method}
		}
		if scaler, err = segment.FitScaler(x, specs, nil); err != nil {
			return err
		}
		scaler.Transform(x, x)
	}
	km := segment.KMeans{K: *k, NInit: *nInit, MaxIter: *maxIter, Tol: *tol, Seed: *seed, Threads: *threads,
		Algorithm: segment.Algorithm(*algorithm), BatchSize: *batch, SampleSize: *sample}
	fitStart := time.Now()
	res, err := km.Fit(x, nil)
	if err != nil {
		return err
	}
	fit := time.Since(fitStart)
	// The fit's scratch space is garbage now; collect it and keep the heap
	// close to what is live while the assignments are written, so that
	// writing does not raise the peak memory the fit set.
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	runtime.GC()

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := featuretable.WriteAssignments(filepath.Join(*out, "assignments.parquet"), t, res.Labels, res.Distances); err != nil {
		return err
	}
	centroids := res.Centroids
	if scaler != nil {
		centroids = &mat.Dense{}
		scaler.InverseTransform(centroids, res.Centroids)
	}
	if err := writeCentroids(filepath.Join(*out, "centroids.csv"), t.Columns, centroids, res.Sizes); err != nil {
		return err
	}
	threadsUsed := *threads
	if threadsUsed <= 0 {
		threadsUsed = runtime.GOMAXPROCS(0)
	}
	rep := clusterReport{
		Features: *features, Rows: t.N, SkippedRows: t.Skipped.Rows, BadCells: t.Skipped.Cells, Columns: t.Columns, K: *k, NInit: *nInit, MaxIter: *maxIter, Tol: *tol, Seed: *seed,
		Algorithm: *algorithm, Scale: *scale, Inertia: res.Inertia, Iterations: res.Iterations, Converged: res.Converged,
		Restart: res.Restart, SampleRows: res.SampleRows, Inertias: res.Inertias, Sizes: res.Sizes, ReadSeconds: read.Seconds(), FitSeconds: fit.Seconds(),
		Threads: threadsUsed, PeakRSSBytes: engine.PeakRSS(), MatrixBytes: int64(8 * t.N * t.D),
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(*out, "summary.json"), append(js, '\n')); err != nil {
		return err
	}
	if *asJSON {
		line, _ := json.Marshal(rep)
		fmt.Fprintln(stdout, string(line))
		return nil
	}
	fmt.Fprintf(stdout, "%d rows × %d features from %s: k %d, inertia %.6g, %d iterations (restart %d of %d, converged %v)\n",
		t.N, t.D, *features, *k, res.Inertia, res.Iterations, res.Restart+1, *nInit, res.Converged)
	if sk := t.Skipped; sk.Rows > 0 {
		fmt.Fprintf(stdout, "left out %d rows with %d bad feature values (--skip-bad-rows), the first:\n", sk.Rows, sk.Cells)
		for _, c := range sk.First {
			fmt.Fprintf(stdout, "  %s\n", c)
		}
	}
	fmt.Fprintf(stdout, "read %.2fs, fit %.2fs; cluster sizes %v; outputs in %s\n", read.Seconds(), fit.Seconds(), res.Sizes, *out)
	return nil
}

// writeCentroids writes one row per cluster: its index, size and centroid.
func writeCentroids(path string, columns []string, c *mat.Dense, sizes []int) error {
	var b strings.Builder
	b.WriteString("cluster,size")
	for _, name := range columns {
		b.WriteByte(',')
		b.WriteString(csvField(name))
	}
	b.WriteByte('\n')
	k, d := c.Dims()
	for i := range k {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(',')
		b.WriteString(strconv.Itoa(sizes[i]))
		for j := range d {
			b.WriteByte(',')
			b.WriteString(strconv.FormatFloat(c.At(i, j), 'g', -1, 64))
		}
		b.WriteByte('\n')
	}
	return durable.WriteFile(path, []byte(b.String()))
}

func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\r\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}
