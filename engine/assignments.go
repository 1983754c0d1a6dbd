package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/crmseg/crmseg/datasets"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/engine/segmentation"
)

// givenSegments are the segments of a segmentation.assignments file, as
// the run's customers meet them.
type givenSegments struct {
	segmentOf []int32        // each customer's segment ID by row, 0 when the file does not hold them
	names     map[int]string // the file's names of its segments
	quality   manifest.AssignmentsQuality
}

// readAssignments reads the segmentation.assignments file, inspected with
// the inputs, into src_segment_assignments and checks its rows: every
// problem (a row without customer_id, a segment_id that is no whole
// number of 1 or more, a customer given twice, a segment named two ways)
// is an *InputError naming the file, the row (the rows of a CSV file
// counted from 1 after the header), the column, what was expected and what
// was found. A file none of whose customers is the run's is one too. The
// file's customers the run does not have are left out, and the run's the
// file does not hold form the segment Unassigned (segmentation.Given):
// both are logged and counted in the manifest. n is the run's customers.
func (r *run) readAssignments(ctx context.Context, in *input, n int) (*givenSegments, error) {
	s := r.s
	parts := make([]string, len(in.files))
	for i, f := range in.files {
		parts[i] = in.projection(i, f)
	}
	if err := s.exec(ctx, "CREATE OR REPLACE TABLE src_segment_assignments AS "+strings.Join(parts, " UNION ALL ")); err != nil {
		return nil, readError(in, "a readable "+in.format+" file", err)
	}
	if err := r.assignmentProblems(ctx, in); err != nil {
		return nil, err
	}

	g := &givenSegments{names: map[int]string{}, quality: manifest.AssignmentsQuality{File: in.spec.Path}}
	q, err := modelSQL("reads/assignment_summary")
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int
		var name sql.NullString
		var customers, notInRun int64
		if err := rows.Scan(&id, &name, &customers, &notInRun); err != nil {
			rows.Close()
			return nil, err
		}
		if name.Valid {
			g.names[id] = name.String
		}
		g.quality.FileCustomers += customers
		g.quality.NotInRun += notInRun
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if g.quality.NotInRun == g.quality.FileCustomers {
		return nil, &InputError{File: in.spec.Path, Table: datasets.SegmentAssignments.Name, Column: "customer_id",
			Expected: "the run's customers (customer_id as the customers and transactions give it)",
			Found:    fmt.Sprintf("none of its %d customers among the run's %d", g.quality.FileCustomers, n)}
	}
	if g.quality.NotInRun > 0 {
		r.log.Warn("customers of segmentation.assignments the run does not have are left out",
			"file", in.spec.Path, "customers", g.quality.NotInRun, "file_customers", g.quality.FileCustomers)
	}

	g.segmentOf = make([]int32, n)
	q, err = modelSQL("reads/assignment_segments")
	if err != nil {
		return nil, err
	}
	err = s.arrowQuery(ctx, q, func(rdr array.RecordReader) error {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			idx, ok1 := rec.Column(0).(*array.Int64)
			seg, ok2 := rec.Column(1).(*array.Int32)
			if !ok1 || !ok2 {
				return fmt.Errorf("assignment_segments: unexpected Arrow types %s", rec.Schema())
			}
			for i := 0; i < idx.Len(); i++ {
				g.segmentOf[idx.Value(i)-1] = seg.Value(i)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range g.segmentOf {
		if id == 0 {
			g.quality.Unassigned++
		}
	}
	if g.quality.Unassigned > 0 {
		r.log.Warn("customers of the run that segmentation.assignments does not hold form the segment "+segmentation.UnassignedName,
			"file", in.spec.Path, "customers", g.quality.Unassigned)
	}
	return g, nil
}

// assignmentProblems reports the rows of the assignments file that cannot
// be used, the first of each kind with how many rows share it.
func (r *run) assignmentProblems(ctx context.Context, in *input) error {
	q, err := modelSQL("reads/assignment_problems")
	if err != nil {
		return err
	}
	rows, err := r.s.conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	var errs []error
	for rows.Next() {
		var problem int
		var column, expected, file, found string
		var row, count int64
		var otherFile sql.NullString
		var otherRow sql.NullInt64
		if err := rows.Scan(&problem, &column, &expected, &file, &row, &found, &otherFile, &otherRow, &count); err != nil {
			return err
		}
		var b strings.Builder
		switch {
		case otherRow.Valid && otherFile.String == file:
			fmt.Fprintf(&b, "%q on row %d, after row %d", found, row, otherRow.Int64)
		case otherRow.Valid:
			fmt.Fprintf(&b, "%q on row %d, after row %d of %s", found, row, otherRow.Int64, otherFile.String)
		default:
			fmt.Fprintf(&b, "%q on row %d", found, row)
		}
		if count > 1 {
			fmt.Fprintf(&b, " (and %d more rows)", count-1)
		}
		errs = append(errs, &InputError{File: file, Table: datasets.SegmentAssignments.Name, Column: column, Expected: expected, Found: b.String()})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
