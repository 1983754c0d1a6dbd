package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/crmseg/crmseg/datasets"
)

// input is one input file after its schema check.
type input struct {
	table    datasets.Table
	path     string
	rows     int64
	bytes    int64
	sha256   string
	columns  map[string]string // logical column -> column name in the file
	families map[string]string // logical column -> type family in the file
}

// has reports whether the file supplies a logical column.
func (in *input) has(col string) bool {
	if in == nil {
		return false
	}
	_, ok := in.columns[col]
	return ok
}

// inspectInputs checks every configured input from its Parquet footer before
// anything is loaded or written. It returns every problem found, joined;
// each is an *InputError.
func inspectInputs(cfg *Config) (map[string]*input, error) {
	specs := []struct {
		table datasets.Table
		path  string
	}{
		{datasets.Customers, cfg.Inputs.Customers},
		{datasets.Transactions, cfg.Inputs.Transactions},
		{datasets.Products, cfg.Inputs.Products},
	}
	out := map[string]*input{}
	var errs []error
	for _, sp := range specs {
		if sp.path == "" {
			continue
		}
		in, err := inspectInput(sp.table, sp.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[sp.table.Name] = in
	}
	return out, errors.Join(errs...)
}

func inspectInput(t datasets.Table, path string) (*input, error) {
	st, err := os.Stat(path)
	if err != nil {
		found := "no such file"
		if !errors.Is(err, fs.ErrNotExist) {
			found = err.Error()
		}
		return nil, &InputError{File: path, Table: t.Name, Expected: "a readable Parquet file", Found: found}
	}
	cols, rows, err := datasets.InspectParquet(path)
	if err != nil {
		return nil, &InputError{File: path, Table: t.Name, Expected: "a readable Parquet file", Found: strings.TrimPrefix(err.Error(), path+": ")}
	}
	in := &input{table: t, path: path, rows: rows, bytes: st.Size(), columns: map[string]string{}, families: map[string]string{}}
	var errs []error
	for _, lc := range t.Columns {
		fc, ok := findColumn(cols, lc.Name)
		if !ok {
			if lc.Required {
				errs = append(errs, &InputError{File: path, Table: t.Name, Column: lc.Name,
					Expected: "a required column " + lc.Name, Found: "columns " + columnList(cols)})
			}
			continue
		}
		if !lc.Kind.Accepts(fc.Family) {
			errs = append(errs, &InputError{File: path, Table: t.Name, Column: lc.Name, Source: fc.Name,
				Expected: lc.Kind.Expect(), Found: fc.Family + " (" + fc.Type + ")"})
			continue
		}
		in.columns[lc.Name] = fc.Name
		in.families[lc.Name] = fc.Family
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return in, nil
}

// findColumn finds a file column by name: exactly, or else ignoring case
// (DuckDB resolves identifiers without regard to case).
func findColumn(cols []datasets.FileColumn, name string) (datasets.FileColumn, bool) {
	for _, c := range cols {
		if c.Name == name {
			return c, true
		}
	}
	for _, c := range cols {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return datasets.FileColumn{}, false
}

func columnList(cols []datasets.FileColumn) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = fmt.Sprintf("%q", c.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// hashFile returns the hex SHA-256 of a file.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// loadSource defines the view src_<table>: the mapped columns of an input
// under their logical names, with the file and row each row came from, read
// straight from the file by the models that use it. Columns the file does
// not have are NULL. The order key falls back from order_id to
// transaction_id to the row number, in the column's own type, so that
// integer keys stay integers. Only this projection is built in Go; every
// identifier in it is quoted, and the path is a quoted literal because a view
// cannot take parameters.
func (s *session) loadSource(ctx context.Context, in *input) error {
	path := quoteLiteral(in.path)
	var b strings.Builder
	b.WriteString("CREATE OR REPLACE VIEW ")
	b.WriteString(quoteIdent("src_" + in.table.Name))
	b.WriteString(" AS SELECT ")
	b.WriteString(path)
	b.WriteString("::VARCHAR AS source_file, (file_row_number + 1)::BIGINT AS source_row")
	for _, lc := range in.table.Columns {
		b.WriteString(", ")
		b.WriteString(in.columnExpr(lc.Name))
		b.WriteString(" AS ")
		b.WriteString(quoteIdent(lc.Name))
	}
	b.WriteString(" FROM read_parquet(")
	b.WriteString(path)
	b.WriteString(", file_row_number = true, binary_as_string = true)")
	if err := s.exec(ctx, b.String()); err != nil {
		return &InputError{File: in.path, Table: in.table.Name, Expected: "a readable Parquet file", Found: "read error", Err: err}
	}
	return nil
}

// columnExpr is the SQL expression for a logical column of the input.
func (in *input) columnExpr(col string) string {
	if in.table.Name == "transactions" && col == "order_id" {
		for _, key := range []string{"order_id", "transaction_id"} {
			src, ok := in.columns[key]
			if !ok {
				continue
			}
			if in.families[key] == "integer" {
				// Negative row numbers cannot collide with real order ids.
				return "coalesce(" + quoteIdent(src) + "::BIGINT, -(file_row_number + 1))"
			}
			return "coalesce(nullif(trim(" + quoteIdent(src) + "::VARCHAR), ''), 'row:' || (file_row_number + 1))"
		}
		return "(file_row_number + 1)::BIGINT"
	}
	if src, ok := in.columns[col]; ok {
		return quoteIdent(src)
	}
	return "NULL"
}
