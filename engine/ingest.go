package engine

import (
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/crmseg/crmseg/datasets"
	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// input is one input table after its schema check: one or more files of
// one format whose columns map onto the logical columns.
type input struct {
	table    datasets.Table
	spec     config.InputSpec
	format   string
	files    []*inputFile
	columns  map[string]string // logical column -> column name in the files
	families map[string]string // logical column -> type family in the first file
	derived  bool              // amount = quantity × unit_price
}

// inputFile is one file of an input.
type inputFile struct {
	path   string
	rows   int64 // from the Parquet footer; -1 when unknown before loading
	bytes  int64
	sha256 string
	names  []string // column names of a text file, in order
}

// has reports whether the input supplies a logical column.
func (in *input) has(col string) bool {
	if in == nil {
		return false
	}
	if col == "amount" && in.derived {
		return true
	}
	_, ok := in.columns[col]
	return ok
}

// ingest loads the mapped columns of every input, types and checks every
// row and counts the rejects.
func (r *run) ingest(ctx context.Context, inputs map[string]*input) error {
	s, cfg := r.s, &r.cfg
	// Until the features are built, what the data supplies is what the
	// inputs have.
	data := supply{inputs: inputs}
	hashes := make(chan error, 1)
	go func() { hashes <- hashInputs(inputs) }()
	loads := 0
	for _, name := range []string{"transactions", "customers", "products", "campaigns"} {
		if inputs[name] != nil {
			loads++
		}
	}
	p := r.progress(StepLoad, loads+1+stageModels("ingest"))
	defer p.Done()
	for _, name := range []string{"transactions", "customers", "products", "campaigns"} {
		if in := inputs[name]; in != nil {
			if err := s.loadSource(ctx, in); err != nil {
				return err
			}
			p.Add(1)
		}
	}
	// The run's window comes first: which customers exist on as_of depends
	// on it.
	if m, ok := registeredModel("staging/params"); !ok {
		return stageError("ingest", errors.New("SQL model staging/params is not registered"))
	} else if err := r.buildModel(ctx, m, data); err != nil {
		return stageError("ingest", err)
	}
	p.Add(1)
	switch {
	case inputs["customers"] == nil:
		if err := s.viewAs(ctx, "staging/src_customers_from_transactions", "src_customers"); err != nil {
			return stageError("ingest", err)
		}
		if err := s.loadAttributes(ctx, &input{}); err != nil {
			return err
		}
	case cfg.Rejects.UnknownCustomers == "keep":
		// Customers of the transactions missing from the customers file
		// join them, without demographics.
		if err := s.exec(ctx, "ALTER VIEW src_customers RENAME TO src_customers_file"); err != nil {
			if err := s.exec(ctx, "ALTER TABLE src_customers RENAME TO src_customers_file"); err != nil {
				return stageError("ingest", err)
			}
		}
		if err := s.viewAs(ctx, "staging/src_customers_from_transactions", "src_customers_tx"); err != nil {
			return stageError("ingest", err)
		}
		if err := s.viewAs(ctx, "staging/src_customers_with_unknown", "src_customers"); err != nil {
			return stageError("ingest", err)
		}
	}
	if inputs["products"] == nil {
		if err := s.modelAs(ctx, "staging/src_products_empty", "src_products"); err != nil {
			return stageError("ingest", err)
		}
	}
	if inputs["campaigns"] == nil {
		if err := s.modelAs(ctx, "staging/src_campaigns_empty", "src_campaigns"); err != nil {
			return stageError("ingest", err)
		}
	}
	if err := s.inputFilesTable(ctx, inputs); err != nil {
		return stageError("ingest", err)
	}
	if err := r.buildStage(ctx, "ingest", data, func() { p.Add(1) }); err != nil {
		return stageError("ingest", err)
	}
	if err := <-hashes; err != nil {
		return err
	}
	if err := r.recordInputs(ctx, inputs); err != nil {
		return stageError("ingest", err)
	}
	if inputs["campaigns"] != nil {
		if err := r.countCampaignsAfterAsOf(ctx); err != nil {
			return stageError("ingest", err)
		}
	}
	// The observation window ends at as_of; every later stage reads it from
	// here. It is unknown only when no row has a customer and an amount,
	// which the reject checks then report.
	if day, err := s.queryString(ctx, "SELECT strftime(as_of, '%Y-%m-%d') FROM params"); err == nil {
		r.man.AsOf = day
	}
	if w := r.asOfWarning(); w != "" {
		r.log.Warn(w, "as_of", r.cfg.AsOf, "today", r.today())
	}
	return r.countRejects(ctx, inputs)
}

// asOfWarning is the warning for an explicit as_of after the run's date,
// "" when there is none. Such an as_of is honoured (a test, a run whose
// today is set): its windows reach past the data, which coverage then
// reports, and their metrics are left out.
func (r *run) asOfWarning() string {
	if r.cfg.AsOf == "" || r.cfg.AsOf <= r.today() {
		return ""
	}
	return fmt.Sprintf("as_of %s is after the run's date %s: the windows after the data's last order are not covered", r.cfg.AsOf, r.today())
}

// hashInputs fills in the SHA-256 of every input file.
func hashInputs(inputs map[string]*input) error {
	for _, name := range []string{"customers", "transactions", "products", "campaigns"} {
		in := inputs[name]
		if in == nil {
			continue
		}
		for _, f := range in.files {
			h, err := hashFile(f.path)
			if err != nil {
				return &InputError{File: f.path, Table: name, Expected: "a readable file", Found: err.Error()}
			}
			f.sha256 = h
		}
	}
	return nil
}

// recordInputs puts every input file into the manifest with its row count:
// from the Parquet footer, or counted after loading a text file.
func (r *run) recordInputs(ctx context.Context, inputs map[string]*input) error {
	for _, name := range []string{"customers", "transactions", "products", "campaigns"} {
		in := inputs[name]
		if in == nil {
			continue
		}
		counts := map[string]int64{}
		if in.format != "parquet" {
			rows, err := r.s.conn.QueryContext(ctx, "SELECT source_file, count(*) FROM "+sqlquote.Ident("src_"+name)+" GROUP BY source_file")
			if err != nil {
				return err
			}
			for rows.Next() {
				var f string
				var n int64
				if err := rows.Scan(&f, &n); err != nil {
					rows.Close()
					return err
				}
				counts[f] = n
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		for _, f := range in.files {
			if f.rows < 0 {
				f.rows = counts[f.path]
			}
			r.man.Inputs = append(r.man.Inputs, manifest.Input{Table: name, Path: f.path, Format: in.format, Rows: f.rows, Bytes: f.bytes, SHA256: f.sha256})
		}
	}
	return nil
}

// inspectInputs checks every configured input from its Parquet footer or
// CSV header before anything is loaded or written. It returns every
// problem found, joined; each is an *InputError.
func inspectInputs(cfg *config.Config) (map[string]*input, error) {
	specs := []struct {
		table datasets.Table
		spec  config.InputSpec
	}{
		{datasets.Customers, cfg.Inputs.Customers},
		{datasets.Transactions, cfg.Inputs.Transactions},
		{datasets.Products, cfg.Inputs.Products},
		{datasets.Campaigns, cfg.Inputs.Campaigns},
	}
	out := map[string]*input{}
	var errs []error
	for _, sp := range specs {
		if sp.spec.Path == "" {
			continue
		}
		in, err := inspectInput(sp.table, sp.spec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[sp.table.Name] = in
	}
	if err := campaignsMatchable(out); err != nil {
		errs = append(errs, err)
	}
	if path := cfg.Segmentation.Assignments; path != "" {
		// Not loaded with the others: the segment stage reads it.
		in, err := inspectInput(datasets.SegmentAssignments, config.InputSpec{Path: path})
		if err != nil {
			errs = append(errs, err)
		}
		out[datasets.SegmentAssignments.Name] = in
	}
	return out, errors.Join(errs...)
}

// campaignsMatchable checks that campaigns, when given, can be matched to
// customers: by their acquisition channel, which the customers file must
// then have.
func campaignsMatchable(inputs map[string]*input) error {
	customers := inputs["customers"]
	if inputs["campaigns"] == nil || customers == nil || customers.has("acquisition_channel") {
		return nil
	}
	f := customers.files[0]
	found := make([]datasets.FileColumn, len(f.names))
	for i, n := range f.names {
		found[i] = datasets.FileColumn{Name: n}
	}
	return &InputError{File: f.path, Table: "customers", Column: "acquisition_channel",
		Expected: "an acquisition_channel column, which inputs.campaigns are matched to customers by",
		Found:    "columns " + columnList(found)}
}

// expandPath returns the files of a path or glob, in lexical order.
func expandPath(t datasets.Table, path string) ([]string, error) {
	if !strings.ContainsAny(path, "*?[") {
		return []string{path}, nil
	}
	files, err := filepath.Glob(path)
	if err != nil {
		return nil, &InputError{File: path, Table: t.Name, Expected: "a valid file pattern", Found: err.Error()}
	}
	if len(files) == 0 {
		return nil, &InputError{File: path, Table: t.Name, Expected: "files matching the pattern", Found: "none"}
	}
	slices.Sort(files)
	return files, nil
}

func inspectInput(t datasets.Table, spec config.InputSpec) (*input, error) {
	paths, err := expandPath(t, spec.Path)
	if err != nil {
		return nil, err
	}
	in := &input{table: t, spec: spec, format: spec.FileFormat(), columns: map[string]string{}, families: map[string]string{}}
	var errs []error
	for i, path := range paths {
		f, cols, err := inspectFile(t, in.format, spec, path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		in.files = append(in.files, f)
		if err := in.mapColumns(path, cols, i == 0); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return in, nil
}

// inspectFile reads one file's schema: the Parquet footer, or the first line
// of a text file.
func inspectFile(t datasets.Table, format string, spec config.InputSpec, path string) (*inputFile, []datasets.FileColumn, error) {
	st, err := os.Stat(path)
	if err != nil {
		found := "no such file"
		if !errors.Is(err, fs.ErrNotExist) {
			found = err.Error()
		}
		return nil, nil, &InputError{File: path, Table: t.Name, Expected: "a readable " + format + " file", Found: found}
	}
	f := &inputFile{path: path, bytes: st.Size(), rows: -1}
	var cols []datasets.FileColumn
	switch format {
	case "parquet":
		cols, f.rows, err = datasets.InspectParquet(path)
	case "csv":
		delim := ','
		if spec.Delimiter != "" {
			delim, _ = utf8.DecodeRuneInString(spec.Delimiter)
		}
		cols, err = datasets.InspectCSV(path, delim, spec.HasHeader())
	case "text":
		cols, err = datasets.InspectText(path, spec.HasHeader())
	}
	if err != nil {
		return nil, nil, &InputError{File: path, Table: t.Name, Expected: "a readable " + format + " file", Found: strings.TrimPrefix(err.Error(), path+": ")}
	}
	for _, c := range cols {
		f.names = append(f.names, c.Name)
	}
	return f, cols, nil
}

// mapColumns maps the logical columns onto one file's columns and checks
// their types. Every file of an input must supply the same columns.
func (in *input) mapColumns(path string, cols []datasets.FileColumn, first bool) error {
	t, spec := in.table, in.spec
	var errs []error
	found := map[string]bool{}
	for _, lc := range t.Columns {
		name, explicit := spec.Columns[lc.Name]
		if !explicit {
			name = lc.Name
		}
		fc, ok := findColumn(cols, name)
		if !ok {
			switch {
			case explicit:
				errs = append(errs, &InputError{File: path, Table: t.Name, Column: lc.Name, Source: name,
					Expected: fmt.Sprintf("the column %q named in the config", name), Found: "columns " + columnList(cols)})
			case lc.Required && !(lc.Name == "amount" && in.canDerive(cols)):
				expected := "a required column " + lc.Name
				if lc.Name == "amount" && t.Name == "transactions" {
					expected += " (or quantity and unit_price, whose product it then is)"
				}
				errs = append(errs, &InputError{File: path, Table: t.Name, Column: lc.Name,
					Expected: expected, Found: "columns " + columnList(cols)})
			}
			continue
		}
		if !lc.Kind.Accepts(fc.Family) {
			errs = append(errs, &InputError{File: path, Table: t.Name, Column: lc.Name, Source: fc.Name,
				Expected: lc.Kind.Expect(), Found: fc.Family + " (" + fc.Type + ")"})
			continue
		}
		found[lc.Name] = true
		if first {
			in.columns[lc.Name] = fc.Name
			in.families[lc.Name] = fc.Family
		} else if _, ok := in.columns[lc.Name]; !ok {
			errs = append(errs, &InputError{File: path, Table: t.Name, Column: lc.Name, Source: fc.Name,
				Expected: "the same columns as " + in.files[0].path, Found: "an extra column"})
		}
	}
	if !first {
		for lc := range in.columns {
			if !found[lc] {
				errs = append(errs, &InputError{File: path, Table: t.Name, Column: lc, Source: in.columns[lc],
					Expected: "the same columns as " + in.files[0].path, Found: "columns " + columnList(cols)})
			}
		}
	}
	if t.Name == "transactions" && !found["amount"] && found["quantity"] && found["unit_price"] {
		in.derived = true
	}
	for _, a := range spec.Attributes {
		if _, ok := findColumn(cols, a); !ok {
			errs = append(errs, &InputError{File: path, Table: t.Name, Column: a,
				Expected: "the attribute column named in inputs.customers.attributes", Found: "columns " + columnList(cols)})
		}
	}
	return errors.Join(errs...)
}

// canDerive reports whether amount can be computed as quantity × unit_price.
func (in *input) canDerive(cols []datasets.FileColumn) bool {
	if in.table.Name != "transactions" {
		return false
	}
	for _, c := range []string{"quantity", "unit_price"} {
		name, ok := in.spec.Columns[c]
		if !ok {
			name = c
		}
		if _, ok := findColumn(cols, name); !ok {
			return false
		}
	}
	return true
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

// loadSource makes the table (text files) or view (Parquet) src_<table>:
// the mapped columns of every file of an input under their logical names,
// with the file and row each row came from. Columns the files do not have
// are NULL. Only these projections are built in Go: every identifier in
// them is quoted, and paths and formats are quoted literals because a view
// and a table function take no parameters.
func (s *session) loadSource(ctx context.Context, in *input) error {
	var parts []string
	for i, f := range in.files {
		parts = append(parts, in.projection(i, f))
	}
	kind := "VIEW"
	if in.format != "parquet" {
		kind = "TABLE" // parse text once, not once per reader
	}
	q := "CREATE OR REPLACE " + kind + " " + sqlquote.Ident("src_"+in.table.Name) + " AS " + strings.Join(parts, " UNION ALL ")
	if err := s.exec(ctx, q); err != nil {
		return readError(in, "a readable "+in.format+" file", err)
	}
	switch in.table.Name {
	case "customers":
		return s.loadAttributes(ctx, in)
	case "transactions":
		// transaction_key: how stg_transactions compares transaction ids,
		// by the column's type: a text id as a key, an integer one as it is.
		key := "norm_id(x)"
		if in.families["transaction_id"] != "text" {
			key = "x"
		}
		return s.exec(ctx, "CREATE OR REPLACE MACRO transaction_key(x) AS "+key)
	}
	return nil
}

// inputFilesTable makes input_files: each loaded file's position in its
// input (the file_index of its rows) and its path, for the models that
// report rows by file (rejects). Customers taken from the transactions
// have file_index -1 and the path "transactions".
func (s *session) inputFilesTable(ctx context.Context, inputs map[string]*input) error {
	var rows [][]driver.Value
	for _, name := range []string{"customers", "transactions", "products", "campaigns"} {
		in := inputs[name]
		if in == nil {
			continue
		}
		for i, f := range in.files {
			rows = append(rows, []driver.Value{name, int32(i), f.path})
		}
	}
	rows = append(rows, []driver.Value{"customers", int32(-1), "transactions"})
	if err := s.createTable(ctx, "ddl/input_files"); err != nil {
		return err
	}
	return s.appendRows("input_files", rows)
}

// loadAttributes makes src_customer_attributes: the extra demographic
// columns of the customers files in long form (source row, attribute, value).
func (s *session) loadAttributes(ctx context.Context, in *input) error {
	var parts []string
	for i, f := range in.files {
		for _, a := range in.spec.Attributes {
			parts = append(parts, "SELECT "+strconv.Itoa(i)+"::INTEGER AS file_index, "+in.rowExpr()+" AS source_row, "+
				sqlquote.Literal(a)+"::VARCHAR AS attribute, nullif(trim(CAST("+in.fileColumn(f, a)+" AS VARCHAR)), '') AS value FROM "+in.reader(f))
		}
	}
	q := "CREATE OR REPLACE VIEW src_customer_attributes AS "
	if len(parts) == 0 {
		q += "SELECT NULL::INTEGER AS file_index, NULL::BIGINT AS source_row, NULL::VARCHAR AS attribute, NULL::VARCHAR AS value WHERE false"
	} else {
		q += strings.Join(parts, " UNION ALL ")
	}
	if err := s.exec(ctx, q); err != nil {
		return readError(in, "readable attribute columns", err)
	}
	return nil
}

// reader is the table function that reads one file.
func (in *input) reader(f *inputFile) string {
	path := sqlquote.Literal(f.path)
	switch in.format {
	case "csv":
		delim := in.spec.Delimiter
		if delim == "" {
			delim = ","
		}
		cols := make([]string, len(f.names))
		for i, n := range f.names {
			cols[i] = sqlquote.Literal(n) + ": 'VARCHAR'"
		}
		return "read_csv(" + path + ", header = " + strconv.FormatBool(in.spec.HasHeader()) + ", delim = " + sqlquote.Literal(delim) +
			", quote = '\"', escape = '\"', auto_detect = false, columns = {" + strings.Join(cols, ", ") + "}) WITH ORDINALITY"
	case "text":
		return "read_csv(" + path + ", header = " + strconv.FormatBool(in.spec.HasHeader()) +
			", columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '', escape = '', auto_detect = false) WITH ORDINALITY"
	}
	return "read_parquet(" + path + ", file_row_number = true, binary_as_string = true)"
}

// rowExpr numbers a file's rows from 1.
func (in *input) rowExpr() string {
	if in.format == "parquet" {
		return "(file_row_number + 1)::BIGINT"
	}
	return "ordinality::BIGINT"
}

// fileColumn is the expression for a column of one file, by its name there.
func (in *input) fileColumn(f *inputFile, name string) string {
	if in.format == "text" {
		i := slices.IndexFunc(f.names, func(n string) bool { return strings.EqualFold(n, name) })
		return fmt.Sprintf("string_split_regex(trim(line), '\\s+')[%d]", i+1)
	}
	for _, n := range f.names {
		if strings.EqualFold(n, name) {
			return sqlquote.Ident(n)
		}
	}
	return sqlquote.Ident(name)
}

// projection selects the logical columns of one file, the input's i-th.
// Rows carry the file's position (file_index), not its path: staging sorts
// and joins rows, and a path repeated on every row would be carried along;
// input_files maps the position back to the path.
func (in *input) projection(i int, f *inputFile) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(sqlquote.Literal(f.path))
	b.WriteString("::VARCHAR AS source_file, ")
	b.WriteString(strconv.Itoa(i))
	b.WriteString("::INTEGER AS file_index, ")
	b.WriteString(in.rowExpr())
	b.WriteString(" AS source_row")
	for _, lc := range in.table.Columns {
		b.WriteString(", ")
		b.WriteString(in.columnExpr(i, f, lc.Name))
		b.WriteString(" AS ")
		b.WriteString(sqlquote.Ident(lc.Name))
	}
	b.WriteString(" FROM ")
	b.WriteString(in.reader(f))
	return b.String()
}

// columnExpr is the SQL expression for a logical column of the input's
// i-th file.
func (in *input) columnExpr(i int, f *inputFile, col string) string {
	ref := func(c string) string { return in.fileColumn(f, in.columns[c]) }
	switch {
	case in.table.Name == "transactions" && col == "order_id":
		// The order key falls back from order_id to transaction_id to the
		// row, in the column's own type, so integer keys stay integers. A
		// row's key names its file too (row numbers repeat across the files
		// of a glob), and is the plain row number in the first file.
		row := in.rowExpr()
		text := "'row:' || " + row
		if i > 0 {
			row = "(" + strconv.Itoa(i) + "::BIGINT << 40 | " + row + ")"
			text = "'row:" + strconv.Itoa(i) + ":' || " + in.rowExpr()
		}
		for _, key := range []string{"order_id", "transaction_id"} {
			if _, ok := in.columns[key]; !ok {
				continue
			}
			if in.families[key] == "integer" {
				// Negative row numbers cannot collide with real order ids.
				return "coalesce(" + ref(key) + "::BIGINT, -" + row + ")"
			}
			return "coalesce(norm_id(" + ref(key) + "), " + text + ")"
		}
		return row
	case col == "amount" && in.derived:
		return "(try_cast(" + ref("quantity") + " AS DECIMAL(18, 4)) * try_cast(" + ref("unit_price") + " AS DECIMAL(18, 4)))"
	}
	if _, ok := in.columns[col]; !ok {
		return "NULL"
	}
	if format, ok := in.spec.Formats[col]; ok {
		return "try_strptime(CAST(" + ref(col) + " AS VARCHAR), " + sqlquote.Literal(format) + ")"
	}
	return ref(col)
}

// readError is the error of reading an input: an InputError naming the
// file, unless DuckDB ran out of memory, which is no fault of the file
// (a failure with the memory advice, not an *InputError).
func readError(in *input, expected string, err error) error {
	var de *duckdb.Error
	if errors.As(err, &de) && de.Type == duckdb.ErrorTypeOutOfMemory {
		return stageError("ingest", err)
	}
	if errors.As(err, &de) {
		err = &duckdbReason{err: err, de: de}
	}
	return &InputError{File: in.spec.Path, Table: in.table.Name, Expected: expected, Found: "a read error", Err: err}
}
