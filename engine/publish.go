package engine

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/internal/durable"
	"github.com/crmseg/crmseg/internal/sqlquote"
	"github.com/crmseg/crmseg/segment"
)

// deltaTable is the customer delta for the CRM: a run publishes it, an
// experiment does not.
const deltaTable = "customer_segments_delta"

// outputTables are the published tables, each with the key it is ordered by.
var outputTables = []struct{ name, orderBy string }{
	{"customer_segments", "customer_id"},
	{"customer_features", "customer_id"},
	{"segments", "segment_id"},
	{"segment_metrics", "segment_id, metric, dimension"},
	{"segment_targets", "segment_id, metric"},
	{"rejects", "source_table, source_file, source_row"},
	{"k_selection", "k"},
	{"segment_drift", "segment_id"},
	{deltaTable, "customer_id"},
	{"segment_migration", "from_segment_id NULLS FIRST, to_segment_id NULLS LAST"},
	{"models", "model, parameter"},
	{"model_backtest", "grouping, group_value"},
	{"cohort_retention", "segment_id, cohort_month, months_since"},
	{"category_pairs", "segment_id, pair_rank"},
	{"rfm_segments", "rfm_segment_position"},
	{"acquisition_value", "grouping, segment_id, acquisition_channel, cohort_month NULLS FIRST"},
	{"segment_scorecard", "segment_id, metric"},
}

// publishedFrom names the relation an output table is written from where
// it is not the table's own name: customer_features is the clustered
// matrix (createFeatureMatrixView), not the model of that name the
// features are read from. Such a relation is a view, computed (joined,
// pivoted and sorted) as it is written, with DuckDB's memory_limit lowered
// to computedViewMemory for the while: DuckDB lets go of the blocks it
// cached for the tables before it, and the computation spills what does
// not fit rather than holding the whole matrix several times over.
var publishedFrom = map[string]string{"customer_features": featureMatrixRelation}

// confirmRunID checks, once the run holds the output root, that no run
// took its ID meanwhile (one of the same config that started in the same
// second and finished before this one took the lock). If one did, the run
// takes the next free ID from here on and its log says so.
func (r *run) confirmRunID(ctx context.Context) {
	id := store.UniqueRunID(ctx, r.cfg.Output, r.baseID)
	if id == r.man.RunID {
		return
	}
	r.log.Warn("run ID taken meanwhile by a run that started in the same second: this run goes on as new_run_id", "new_run_id", id)
	r.man.RunID = id
	r.log = r.opts.Logger.With("run_id", id)
}

// publish writes every output table as Parquet and CSV into a hidden
// directory under runs/, with the run's model and the manifest last,
// renames it into place and then switches the latest link to it with an
// atomic rename. Until that last rename, readers of latest see the previous
// run, whole.
func (r *run) publish(ctx context.Context, model *segment.Model) (*Result, error) {
	if r.exp != nil {
		return r.publishExperiment(ctx, model)
	}
	pending, err := store.NewPending(r.cfg.Output, r.man.RunID)
	if err != nil {
		return nil, err
	}
	defer pending.Abort()
	if err := r.writeOutputs(ctx, pending.Dir, model); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r.man, "", "  ")
	if err != nil {
		return nil, err
	}
	final, latest, err := pending.Publish(append(b, '\n'), func() error { return r.failpoint("publish:renamed") }, r.log)
	if err != nil {
		return nil, err
	}
	r.log.Info("published", "dir", final, "latest", latest)
	return &Result{RunID: r.man.RunID, Dir: final, Latest: latest, Manifest: r.man}, nil
}

// writeOutputs writes every output table as Parquet and CSV into tmp, with
// the run's model, each recorded in the manifest; an experiment leaves out
// the customer delta, which is for the CRM.
func (r *run) writeOutputs(ctx context.Context, tmp string, model *segment.Model) error {
	p := r.progress(StepWrite, len(outputTables))
	defer p.Done()
	for _, t := range outputTables {
		if r.exp != nil && t.name == deltaTable {
			p.Add(1)
			continue
		}
		out := manifest.Output{Table: t.name}
		from, computed := publishedFrom[t.name]
		restore := func() error { return nil }
		if computed {
			var err error
			if restore, err = r.s.lowerMemoryLimit(ctx, r.s.computedViewMemory()); err != nil {
				return err
			}
		}
		from = cmp.Or(from, t.name)
		// The table is sorted once, into the Parquet file; the CSV copy
		// reads that file back, in its order, rather than sorting again,
		// and its rows are counted from the file's footer, rather than
		// computing a view a second time.
		parquetPath := filepath.Join(tmp, t.name+".parquet")
		for _, ext := range []string{"parquet", "csv"} {
			name := t.name + "." + ext
			path := filepath.Join(tmp, name)
			var err error
			if ext == "parquet" {
				err = r.s.exec(ctx, fmt.Sprintf("COPY (SELECT * FROM %s ORDER BY %s) TO %s (FORMAT parquet, COMPRESSION zstd, PRESERVE_ORDER true)",
					sqlquote.Ident(from), t.orderBy, sqlquote.Literal(path)))
				err = errors.Join(err, restore())
			} else {
				err = r.writeCSV(ctx, parquetPath, path)
			}
			if err != nil {
				return fmt.Errorf("writing %s: %w", name, err)
			}
			if ext == "parquet" {
				if out.Rows, err = r.s.queryInt(ctx, "SELECT count(*) FROM read_parquet("+sqlquote.Literal(path)+")"); err != nil {
					return err
				}
			}
			mf, err := fileEntry(tmp, name)
			if err != nil {
				return err
			}
			out.Files = append(out.Files, mf)
		}
		r.man.Outputs = append(r.man.Outputs, out)
		if err := r.failpoint("publish:" + t.name); err != nil {
			return err
		}
		p.Add(1)
	}
	p.Done()
	r.done("publish")

	if model != nil {
		if err := model.Write(filepath.Join(tmp, "model.json")); err != nil {
			return err
		}
		mf, err := fileEntry(tmp, "model.json")
		if err != nil {
			return err
		}
		r.man.Model = &mf
	}
	if err := r.writeReport(ctx, tmp); err != nil {
		return err
	}
	r.done("report")
	return nil
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
	return r.s.exec(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT csv, HEADER true, DELIMITER ',', PRESERVE_ORDER true)", from, sqlquote.Literal(path)))
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
	from := " FROM read_parquet(" + sqlquote.Literal(parquetPath) + ")"
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
		cols = append(cols, sqlquote.Ident(name))
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
