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
// customer_segments table of the run this one continues, in dir (found
// once by store.FindPrevious: the output root's latest run, or the
// history's newest published run when latest is lost; "" when none), and
// previous_segments at its customer_id (as text), segment_id and
// segment_name. It
// returns the path of that table, "" without a previous run: both views
// are empty then.
func (r *run) previousSegments(ctx context.Context, dir string) (string, error) {
	previous := ""
	if dir != "" {
		path := filepath.Join(dir, "customer_segments.parquet")
		if _, err := os.Stat(path); err == nil {
			previous = path
			r.man.PreviousRunID = filepath.Base(dir)
		}
	}
	prev := "SELECT NULL::VARCHAR AS customer_id, NULL::INTEGER AS segment_id, NULL::VARCHAR AS segment_name WHERE false"
	if previous != "" {
		if err := r.s.exec(ctx, "CREATE OR REPLACE VIEW previous_published AS SELECT * FROM read_parquet("+sqlquote.Literal(previous)+")"); err != nil {
			return "", fmt.Errorf("previous run's %s: %w", previous, err)
		}
		prev = "SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST(segment_id AS INTEGER) AS segment_id, " +
			"CAST(segment_name AS VARCHAR) AS segment_name FROM previous_published"
	}
	return previous, r.s.exec(ctx, "CREATE OR REPLACE VIEW previous_segments AS "+prev)
}

// drift builds segment_drift: every segment of this run and every retired
// one, with its change, centroid shift and the customers that stayed,
// moved in and moved out since the previous run (the previous_segments
// view); records the share of customers whose segment changed; and builds
// the customer delta and the segment migration against the previous run's
// customer_segments file, previous ("" when none: see previousSegments).
func (r *run) drift(ctx context.Context, previous string, data supply) error {
	if err := r.buildStage(ctx, "drift", data, nil); err != nil {
		return err
	}
	totals, err := modelSQL("reads/drift_totals")
	if err != nil {
		return err
	}
	var compared, changed int64
	if err := r.s.conn.QueryRowContext(ctx, totals).Scan(&compared, &changed); err != nil {
		return err
	}
	q := &r.man.Quality.Segmentation
	q.Compared = compared
	if compared > 0 {
		q.ChangedShare = round(float64(changed)/float64(compared), 6)
	}
	r.log.Info("segment drift", "customers_compared", compared, "changed_share", q.ChangedShare)
	return r.delta(ctx, previous, data)
}

// previousCustomerSegments defines previous_customer_segments: the previous
// run's customer_segments (previous, "" when none) with this run's columns
// and types. A column the previous file lacks (a table written by an older
// version) is null, so it counts as changed; without a previous run the
// view is empty.
func (r *run) previousCustomerSegments(ctx context.Context, previous string) error {
	cols, err := r.columns(ctx, "SELECT * FROM customer_segments")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	if previous != "" {
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
	if previous != "" {
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
// previous run (previous, its customer_segments file) and counts the
// delta's rows into the manifest.
func (r *run) delta(ctx context.Context, previous string, data supply) error {
	if err := r.previousCustomerSegments(ctx, previous); err != nil {
		return err
	}
	if err := r.buildStage(ctx, "delta", data, nil); err != nil {
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
