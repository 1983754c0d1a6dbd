package store

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/durable"
)

// statuses are the values of the status label, in the order written.
var statuses = []string{"success", "failure", "rejected", "config_error"}

// Outcome is what the metrics file reports about a finished run.
type Outcome struct {
	Manifest *manifest.Manifest
	Version  string // crmseg's
	// Status is the run's outcome as the status label gives it: success,
	// failure, rejected or config_error; ExitCode the code the command
	// exits with.
	Status   string
	ExitCode int
	Ended    time.Time
	Duration time.Duration
}

// WriteMetrics writes the outcome of a run of the output root root to the
// metrics file at path, atomically (durable.WriteFile: a synced temporary
// file in the same directory, whose name the textfile collector skips as
// it does not end in .prom, renamed over the file). The counters and the
// last success carry over from the file's previous content; without one,
// the last success is when root's latest link last changed.
func WriteMetrics(path, root string, o Outcome) error {
	var latestChanged time.Time
	if st, err := os.Lstat(filepath.Join(root, "latest")); err == nil {
		latestChanged = st.ModTime()
	}
	return durable.WriteFile(path, []byte(metricsText(o, readMetricSamples(path), latestChanged)))
}

// metricsText renders a run's outcome in the Prometheus text exposition
// format, as node_exporter's textfile collector reads it: one # HELP and one
// # TYPE line per metric family, then its samples, no timestamps.
//
// previous is the metrics file's content before this run, for the counters
// and the last success carried from run to run; latestChanged is when the
// output root's latest link last changed: the last success when previous
// does not say.
func metricsText(o Outcome, previous map[string]float64, latestChanged time.Time) string {
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	sample := func(name string, v float64, labels ...string) {
		b.WriteString(name)
		if len(labels) > 0 {
			b.WriteByte('{')
			for i := 0; i < len(labels); i += 2 {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%s=\"%s\"", labels[i], escapeLabel(labels[i+1]))
			}
			b.WriteByte('}')
		}
		b.WriteByte(' ')
		b.WriteString(formatValue(v))
		b.WriteByte('\n')
	}
	status := o.Status
	man := o.Manifest

	family("crmseg_last_run_status", "gauge", "Outcome of the last run: 1 for its status, 0 for the others.")
	for _, s := range statuses {
		v := 0.0
		if s == status {
			v = 1
		}
		sample("crmseg_last_run_status", v, "status", s)
	}
	family("crmseg_last_run_exit_code", "gauge", "Exit code of the last run: 0 success, 1 failure, 2 usage or configuration error, 3 input data rejected.")
	sample("crmseg_last_run_exit_code", float64(o.ExitCode))
	family("crmseg_last_run_info", "gauge", "The last run's ID and crmseg version, as labels; always 1.")
	sample("crmseg_last_run_info", 1, "run_id", man.RunID, "version", o.Version)
	family("crmseg_last_run_timestamp_seconds", "gauge", "When the last run ended, in seconds since the Unix epoch.")
	sample("crmseg_last_run_timestamp_seconds", float64(o.Ended.Unix()))
	family("crmseg_last_run_duration_seconds", "gauge", "Wall time of the last run, in seconds.")
	sample("crmseg_last_run_duration_seconds", math.Round(o.Duration.Seconds()*1000)/1000)

	lastSuccess, known := previous["crmseg_last_success_timestamp_seconds"]
	if !known && !latestChanged.IsZero() {
		lastSuccess, known = float64(latestChanged.Unix()), true
	}
	if status == "success" {
		lastSuccess, known = float64(o.Ended.Unix()), true
	}
	if known {
		family("crmseg_last_success_timestamp_seconds", "gauge", "When a run last succeeded and switched latest, in seconds since the Unix epoch.")
		sample("crmseg_last_success_timestamp_seconds", lastSuccess)
	}

	family("crmseg_runs_total", "counter", "Runs finished with this metrics file, by status (carried over from the file's previous content).")
	for _, s := range statuses {
		v := previous[`crmseg_runs_total{status="`+s+`"}`]
		if s == status {
			v++
		}
		sample("crmseg_runs_total", v, "status", s)
	}

	if len(man.Timings) > 0 {
		family("crmseg_last_run_stage_duration_seconds", "gauge", "Wall time of each stage the last run finished, in seconds.")
		for _, t := range man.Timings {
			sample("crmseg_last_run_stage_duration_seconds", t.Seconds, "stage", t.Stage)
		}
	}
	if man.PeakRSSBytes > 0 {
		family("crmseg_last_run_peak_rss_bytes", "gauge", "Peak resident memory of the last run's process up to its last finished stage, in bytes.")
		sample("crmseg_last_run_peak_rss_bytes", float64(man.PeakRSSBytes))
	}

	// Rows per input table: read from the files, rejected per reason, and
	// accepted (read less rejected).
	read := map[string]int64{}
	var tables []string
	for _, in := range man.Inputs {
		if _, ok := read[in.Table]; !ok {
			tables = append(tables, in.Table)
		}
		read[in.Table] += in.Rows
	}
	if len(tables) > 0 && man.Quality.TransactionsRead > 0 {
		read["transactions"] = man.Quality.TransactionsRead
	}
	rejected := map[string]int64{}
	for _, rc := range man.Quality.Rejects {
		rejected[rc.Table] += rc.Rows
	}
	if len(tables) > 0 {
		family("crmseg_last_run_rows_read", "gauge", "Input rows the last run read, per table.")
		for _, t := range tables {
			sample("crmseg_last_run_rows_read", float64(read[t]), "table", t)
		}
		family("crmseg_last_run_rows_accepted", "gauge", "Input rows the last run accepted (read less rejected), per table.")
		for _, t := range tables {
			sample("crmseg_last_run_rows_accepted", float64(read[t]-rejected[t]), "table", t)
		}
	}
	if len(man.Quality.Rejects) > 0 {
		rejects := slices.Clone(man.Quality.Rejects)
		slices.SortFunc(rejects, func(a, b manifest.RejectCount) int {
			return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Reason, b.Reason))
		})
		family("crmseg_last_run_rows_rejected", "gauge", "Input rows the last run rejected, per table and reason.")
		for _, rc := range rejects {
			sample("crmseg_last_run_rows_rejected", float64(rc.Rows), "table", rc.Table, "reason", rc.Reason)
		}
	}
	if sq := man.Quality.Segmentation; sq.K > 0 {
		family("crmseg_last_run_customers", "gauge", "Customers the last run segmented.")
		sample("crmseg_last_run_customers", float64(sq.Customers))
		family("crmseg_last_run_segments", "gauge", "Segments of the last run.")
		sample("crmseg_last_run_segments", float64(sq.K))
	}
	return b.String()
}

// formatValue writes whole numbers without an exponent.
func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// escapeLabel escapes a label value: backslash, double quote and newline.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// readMetricSamples reads the samples of a metrics file this package wrote,
// keyed by the name with its labels as written; a missing file gives none.
func readMetricSamples(path string) map[string]float64 {
	out := map[string]float64{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}
