package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/crmseg/crmseg/engine/manifest"
)

// countRejects counts the rejected rows per reason, each with an example,
// and what lies outside the window of an explicit as_of into the manifest.
func (r *run) countRejects(ctx context.Context, inputs map[string]*input) error {
	q := &r.man.Quality
	var err error
	if q.Rejects, err = r.readReasonCounts(ctx, "reads/reject_counts"); err != nil {
		return err
	}
	read, err := r.s.queryInt(ctx, "SELECT count(*) FROM stg_transactions")
	if err != nil {
		return err
	}
	outside, err := modelSQL("reads/outside_window")
	if err != nil {
		return err
	}
	if err := r.s.conn.QueryRowContext(ctx, outside).Scan(&q.TransactionsAfterAsOf, &q.CustomersAfterAsOf); err != nil {
		return stageError("ingest", err)
	}
	var rejected, later int64
	for _, rc := range q.Rejects {
		r.log.Info("rows rejected", "table", rc.Table, "reason", rc.Reason, "rows", rc.Rows, "example", rc.Example.String())
		if rc.Table == "transactions" {
			rejected += rc.Rows
		}
		if rc.Reason == "timestamp in the future" || rc.Reason == "timestamp far outside the data" {
			later += rc.Rows
		}
	}
	// Customers known only from the transactions and seen only after as_of
	// are left out too; counting them takes a pass over the transactions,
	// so only when there can be any.
	if derived := inputs["customers"] == nil || r.cfg.Rejects.UnknownCustomers == "keep"; derived && later+q.TransactionsAfterAsOf > 0 {
		only, err := modelSQL("reads/customers_only_after_as_of")
		if err != nil {
			return err
		}
		n, err := r.s.queryInt(ctx, only)
		if err != nil {
			return stageError("ingest", err)
		}
		q.CustomersAfterAsOf += n
	}
	if q.TransactionsAfterAsOf > 0 || q.CustomersAfterAsOf > 0 {
		r.log.Info("outside the window of as_of", "as_of", r.man.AsOf,
			"transactions_after_as_of", q.TransactionsAfterAsOf, "customers_after_as_of", q.CustomersAfterAsOf)
	}
	q.TransactionsRead, q.TransactionsAccepted = read, read-rejected-q.TransactionsAfterAsOf
	return r.countValueProblems(ctx)
}

// readReasonCounts reads a model that counts rows per table and reason,
// each with its first row as an example (reads/reject_counts,
// reads/value_problems: the same columns).
func (r *run) readReasonCounts(ctx context.Context, model string) ([]manifest.RejectCount, error) {
	q, err := modelSQL(model)
	if err != nil {
		return nil, err
	}
	rows, err := r.s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, stageError("ingest", err)
	}
	defer rows.Close()
	var counts []manifest.RejectCount
	for rows.Next() {
		var rc manifest.RejectCount
		var file, column, value sql.NullString
		var row sql.NullInt64
		if err := rows.Scan(&rc.Table, &rc.Reason, &rc.Rows, &file, &row, &column, &value); err != nil {
			return nil, err
		}
		rc.Example = &manifest.RejectExample{File: file.String, Row: row.Int64, Column: column.String, Value: value.String}
		counts = append(counts, rc)
	}
	return counts, rows.Err()
}

// countValueProblems reads the customers' values set to null and the block
// of transaction days separated from the rest into the manifest, and logs
// them as warnings.
func (r *run) countValueProblems(ctx context.Context) error {
	q := &r.man.Quality
	var err error
	if q.ValuesSetToNull, err = r.readReasonCounts(ctx, "reads/value_problems"); err != nil {
		return err
	}
	for _, rc := range q.ValuesSetToNull {
		r.log.Warn("values set to null, customers kept", "table", rc.Table, "column", rc.Example.Column, "reason", rc.Reason,
			"rows", rc.Rows, "example", rc.Example.String())
	}
	separated, err := modelSQL("reads/separated_block")
	if err != nil {
		return err
	}
	var b manifest.SeparatedBlock
	switch err := r.s.conn.QueryRowContext(ctx, separated).Scan(&b.Rows, &b.Of, &b.GapDays, &b.From, &b.To, &b.BlockGapDays); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return stageError("ingest", err)
	default:
		q.SeparatedBlock = &b
		r.log.Warn("transaction days in a separated block", "rows", b.Rows, "of", b.Of, "gap_days", b.GapDays,
			"from", b.From, "to", b.To, "warning", b.String())
	}
	return nil
}

// checkRejects aborts when no transaction row is usable or the share of
// rejected rows exceeds the configured maximum. The share is of the rows
// in the run's window: rows after an explicit as_of are not bad data.
func (r *run) checkRejects() error {
	q := &r.man.Quality
	read := q.TransactionsRead - q.TransactionsAfterAsOf
	rejected := read - q.TransactionsAccepted
	reasons := map[string]int64{}
	for _, rc := range q.Rejects {
		if rc.Table == "transactions" {
			reasons[rc.Reason] = rc.Rows
		}
	}
	if q.TransactionsAccepted == 0 {
		msg := fmt.Sprintf("%s: no usable transaction rows (%d read, %d rejected)", r.cfg.Inputs.Transactions.Path, q.TransactionsRead, rejected)
		if q.TransactionsAfterAsOf > 0 {
			msg += fmt.Sprintf("; %d rows are dated after as_of %s", q.TransactionsAfterAsOf, r.man.AsOf)
		}
		return &RejectedError{Rejected: rejected, Read: read, Reasons: reasons, Msg: msg}
	}
	if float64(rejected) > r.cfg.Rejects.MaxShare*float64(read) {
		return &RejectedError{Rejected: rejected, Read: read, MaxShare: r.cfg.Rejects.MaxShare, Reasons: reasons}
	}
	return nil
}
