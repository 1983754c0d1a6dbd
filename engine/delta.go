package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// previousSegments points the view previous_published at the
// customer_segments table of the run this one continues (r.prev.Dir,
// found once by findPrevious: the output root's latest run, or the history's
// newest published run when latest is lost), and previous_segments at its
// customer_id (as text) and segment_id. Without a previous run both are
// empty.
func (r *run) previousSegments(ctx context.Context) error {
	r.previous = ""
	if r.prev.Dir != "" {
		path := filepath.Join(r.prev.Dir, "customer_segments.parquet")
		if _, err := os.Stat(path); err == nil {
			r.previous = path
			r.man.PreviousRunID = filepath.Base(r.prev.Dir)
		}
	}
	prev := "SELECT NULL::VARCHAR AS customer_id, NULL::INTEGER AS segment_id WHERE false"
	if r.previous != "" {
		if err := r.s.exec(ctx, "CREATE OR REPLACE VIEW previous_published AS SELECT * FROM read_parquet("+sqlquote.Literal(r.previous)+")"); err != nil {
			return fmt.Errorf("previous run's %s: %w", r.previous, err)
		}
		prev = "SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST(segment_id AS INTEGER) AS segment_id FROM previous_published"
	}
	return r.s.exec(ctx, "CREATE OR REPLACE VIEW previous_segments AS "+prev)
}

// previousCustomerSegments defines previous_customer_segments: the previous
// run's customer_segments with this run's columns and types. A column the
// previous file lacks (a table written by an older version) is null, so it
// counts as changed; without a previous run the view is empty.
func (r *run) previousCustomerSegments(ctx context.Context) error {
	cols, err := r.columns(ctx, "SELECT * FROM customer_segments")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	if r.previous != "" {
		prev, err := r.columns(ctx, "SELECT * FROM previous_published")
		if err != nil {
			return err
		}
		for _, c := range prev {
			have[c.name] = true
		}
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		id := sqlquote.Ident(c.name)
		if have[c.name] {
			fmt.Fprintf(&b, "TRY_CAST(%s AS %s) AS %s", id, c.typ, id)
		} else {
			fmt.Fprintf(&b, "CAST(NULL AS %s) AS %s", c.typ, id)
		}
	}
	if r.previous != "" {
		b.WriteString(" FROM previous_published")
	} else {
		b.WriteString(" WHERE false")
	}
	return r.s.exec(ctx, "CREATE OR REPLACE VIEW previous_customer_segments AS "+b.String())
}

type column struct{ name, typ string }

// columns describes the columns of a query, in order.
func (r *run) columns(ctx context.Context, query string) ([]column, error) {
	rows, err := r.s.conn.QueryContext(ctx, "SELECT column_name, column_type FROM (DESCRIBE "+query+")")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// delta builds customer_segments_delta and segment_migration against the
// previous run and counts the delta's rows into the manifest.
func (r *run) delta(ctx context.Context) error {
	if err := r.previousCustomerSegments(ctx); err != nil {
		return err
	}
	if err := r.buildStage(ctx, "delta", nil); err != nil {
		return err
	}
	rows, err := r.s.conn.QueryContext(ctx, "SELECT change, count(*) FROM customer_segments_delta GROUP BY change")
	if err != nil {
		return err
	}
	defer rows.Close()
	d := &r.man.Quality.Delta
	*d = manifest.DeltaCounts{}
	for rows.Next() {
		var change string
		var n int64
		if err := rows.Scan(&change, &n); err != nil {
			return err
		}
		switch change {
		case "new":
			d.New = n
		case "changed":
			d.Changed = n
		case "exit":
			d.Exit = n
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	r.log.Info("customer delta", "previous_run_id", r.man.PreviousRunID, "new", d.New, "changed", d.Changed, "exit", d.Exit)
	return nil
}

// previousAssignment reads, for hysteresis, the segment the previous run
// gave each customer of this run (intermediate/previous_assignment), and
// calls yield with the customer's row (cust_idx - 1) and segment ID.
func (r *run) previousAssignment(ctx context.Context) func(yield func(row, segmentID int)) error {
	return func(yield func(row, segmentID int)) error {
		q, err := modelSQL("intermediate/previous_assignment")
		if err != nil {
			return err
		}
		return r.s.arrowQuery(ctx, q, func(rdr array.RecordReader) error {
			for rdr.Next() {
				rec := rdr.RecordBatch()
				idx, ok1 := rec.Column(0).(*array.Int64)
				prev, ok2 := rec.Column(1).(*array.Int64)
				if !ok1 || !ok2 {
					return errors.New("previous_assignment: unexpected Arrow types")
				}
				for j := range idx.Len() {
					if !prev.IsNull(j) {
						yield(int(idx.Value(j))-1, int(prev.Value(j)))
					}
				}
			}
			return nil
		})
	}
}
