package engine

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/durable"
)

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
func newRunID(t time.Time, cfg config.Config) string {
	b, _ := json.Marshal(cfg)
	h := sha256.Sum256(b)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(h[:3])
}

// uniqueRunID returns base, or base-2, base-3, ...: the first ID no run of
// the output root has used, by its directory under runs/ (published, or
// being built) or its record in the run history. Two runs of one config
// started in the same second (one after the other: the lock keeps them
// apart) thus get distinct IDs before the first logs a line.
func uniqueRunID(ctx context.Context, root, base string) string {
	used := historyRunIDs(ctx, root, base)
	for i := 1; ; i++ {
		id := base
		if i > 1 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		if used[id] {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, "runs", id)); err == nil {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, "runs", ".tmp-"+id)); err == nil {
			continue
		}
		return id
	}
}

// confirmRunID checks, once the run holds the output root, that no run
// took its ID meanwhile (one of the same config that started in the same
// second and finished before this one took the lock). If one did, the run
// takes the next free ID from here on and its log says so.
func (r *run) confirmRunID(ctx context.Context) {
	id := uniqueRunID(ctx, r.cfg.Output, r.baseID)
	if id == r.man.RunID {
		return
	}
	r.log.Warn("run ID taken meanwhile by a run that started in the same second: this run goes on as new_run_id", "new_run_id", id)
	r.man.RunID = id
	r.log = r.opts.Logger.With("run_id", id)
}

// checkLatest refuses an output root whose latest is not a symbolic link
// (a directory or file put there by hand, or a copy that followed the
// link): publishing renames a new link over it, which cannot replace a
// directory, so the run would do all its work and then fail.
func checkLatest(root string) error {
	path := filepath.Join(root, "latest")
	st, err := os.Lstat(path)
	if err != nil || st.Mode()&os.ModeSymlink != 0 {
		return nil
	}
	what := "a regular file"
	if st.IsDir() {
		what = "a directory"
	}
	return &OutputRootError{Root: root,
		Problem: fmt.Sprintf("%s is %s, not the symbolic link to runs/<run_id> that each run replaces", path, what),
		Fix: fmt.Sprintf("move it out of the way (mv %s %s.moved) and run again: the run continues from the newest published run of the run history; "+
			"or point latest at the run to continue from (ln -sfn runs/RUN_ID %s)", path, path, path)}
}

// publish writes every output table as Parquet and CSV into a hidden
// directory under runs/, with the manifest last, renames it into place and
// then switches the latest link to it with an atomic rename. Until that last
// rename, readers of latest see the previous run, whole.
func (r *run) publish(ctx context.Context) (*Result, error) {
	root := r.cfg.Output
	runs := filepath.Join(root, "runs")
	// The run's ID is unique in the output root (uniqueRunID, confirmRunID
	// under the lock): the directory is free.
	id := r.man.RunID
	final := filepath.Join(runs, id)
	if _, err := os.Lstat(final); !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("run directory %s exists already (%v)", final, err)
	}
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
		out := manifest.Output{Table: t.name}
		n, err := r.s.queryInt(ctx, "SELECT count(*) FROM "+quoteIdent(t.name))
		if err != nil {
			return nil, err
		}
		out.Rows = n
		// The table is sorted once, into the Parquet file; the CSV copy
		// reads that file back, in its order, rather than sorting again.
		parquetPath := filepath.Join(tmp, t.name+".parquet")
		for _, ext := range []string{"parquet", "csv"} {
			name := t.name + "." + ext
			path := filepath.Join(tmp, name)
			var err error
			if ext == "parquet" {
				err = r.s.exec(ctx, fmt.Sprintf("COPY (SELECT * FROM %s ORDER BY %s) TO %s (FORMAT parquet, COMPRESSION zstd, PRESERVE_ORDER true)",
					quoteIdent(t.name), t.orderBy, quoteLiteral(path)))
			} else {
				err = r.writeCSV(ctx, parquetPath, path)
			}
			if err != nil {
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
	if err := durable.WriteFile(filepath.Join(tmp, "manifest.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	if err := durable.SyncDir(tmp); err != nil {
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
	if err := durable.SyncDir(runs); err != nil {
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
	if err := durable.SyncDir(root); err != nil {
		// latest points at the run already: it is published, and saying
		// otherwise would be wrong. The switch may not survive a crash.
		r.log.Warn("latest switched but not synced to disk", "path", root, "error", err)
	}
	r.log.Info("published", "dir", final, "latest", latest)
	return &Result{RunID: id, Dir: final, Latest: latest, Manifest: r.man}, nil
}

// writeCSV writes the CSV copy of the Parquet file at parquetPath to path,
// in the file's row order. PRESERVE_ORDER is spelled out: without it, a
// projection over the file (csvSelect's escaping) let DuckDB write the rows
// of a few hundred thousand in a different order from one run to the next,
// whatever preserve_insertion_order said.
func (r *run) writeCSV(ctx context.Context, parquetPath, path string) error {
	from, err := r.csvSelect(ctx, parquetPath)
	if err != nil {
		return err
	}
	return r.s.exec(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT csv, HEADER true, DELIMITER ',', PRESERVE_ORDER true)", from, quoteLiteral(path)))
}

// csvSelect is the query the CSV copy of a table is written from: its
// Parquet file read back, in its order, with every text cell a spreadsheet
// would take for a formula escaped by a leading single quote, unless
// csv_formulas is keep (OWASP's advice for CSV exports). A cell is escaped
// when it starts with =, +, -, @, a tab or a carriage return and is not a
// plain number (-12.5 stays as it is); only VARCHAR columns are touched, so
// numbers, dates and the Parquet file stay exact. The first character is
// tested by its code point (=, +, -, @, tab, CR): ord() reads it in place,
// where left() makes a string of it for every cell. A first query finds
// the text columns with such a cell at all, and only those are rewritten:
// DuckDB writes an order-preserving copy of a plain projection on every
// thread, but one with the escaping on a single thread (1,000,000 rows:
// about 1 s more).
func (r *run) csvSelect(ctx context.Context, parquetPath string) (string, error) {
	from := " FROM read_parquet(" + quoteLiteral(parquetPath) + ")"
	if r.cfg.CSVFormulas == "keep" {
		return "SELECT *" + from, nil
	}
	rows, err := r.s.conn.QueryContext(ctx, "SELECT column_name, column_type FROM (DESCRIBE SELECT *"+from+")")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var cols []string
	var text []int // the VARCHAR columns, by index in cols
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return "", err
		}
		if typ == "VARCHAR" {
			text = append(text, len(cols))
		}
		cols = append(cols, quoteIdent(name))
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	rows.Close()
	if len(text) == 0 {
		return "SELECT *" + from, nil
	}
	const starts = "ord(%[1]s) IN (61, 43, 45, 64, 9, 13)"
	found := make([]string, len(text))
	flags := make([]sql.NullBool, len(text))
	dest := make([]any, len(text))
	for i, c := range text {
		found[i] = fmt.Sprintf("bool_or("+starts+")", cols[c])
		dest[i] = &flags[i]
	}
	if err := r.s.conn.QueryRowContext(ctx, "SELECT "+strings.Join(found, ", ")+from).Scan(dest...); err != nil {
		return "", err
	}
	for i, c := range text {
		if flags[i].Bool {
			cols[c] = fmt.Sprintf("CASE WHEN "+starts+` AND NOT regexp_full_match(%[1]s, '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?') THEN '''' || %[1]s ELSE %[1]s END AS %[1]s`, cols[c])
		}
	}
	return "SELECT " + strings.Join(cols, ", ") + from, nil
}

func fileEntry(dir, name string) (manifest.File, error) {
	p := filepath.Join(dir, name)
	if err := durable.SyncDir(p); err != nil {
		return manifest.File{}, err
	}
	h, err := hashFile(p)
	if err != nil {
		return manifest.File{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return manifest.File{}, err
	}
	return manifest.File{Path: name, Bytes: st.Size(), SHA256: h}, nil
}
