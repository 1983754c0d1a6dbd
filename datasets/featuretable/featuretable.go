// Package featuretable reads and writes the generic tables of crmseg
// cluster: one identifier column and numeric feature columns, from Parquet
// or CSV (gzip too), into a row-major matrix; and the cluster assignments
// back out as Parquet.
//
// Parquet: parquet-go (github.com/parquet-go/parquet-go), the stack of
// package datasets, whose checked opener (datasets.OpenParquet) and type
// families it shares. A feature table is read once, column chunk by column
// chunk, straight into the matrix k-means works on, with no table of an SQL
// engine beside it (make bench-kmeans measures cluster's peak memory against
// the matrix), and crmseg cluster does not start DuckDB.
package featuretable

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/crmseg/crmseg/datasets"
	"github.com/crmseg/crmseg/internal/durable"
)

// Table is a table of numeric features with one identifier column,
// as read for clustering. X is row-major, N rows by D columns; the
// identifiers are in IntIDs when the file stores them as integers and in
// IDs otherwise.
type Table struct {
	IDColumn string
	IDs      []string
	IntIDs   []int64
	Columns  []string
	X        []float64
	N, D     int
	// Skipped are the bad cells of the rows left out under
	// Options.SkipBadRows (none otherwise).
	Skipped BadCells
}

// Options say which columns of a feature table to read and what to do with
// a row holding a bad cell. The zero value reads every column but the
// identifier and fails on a bad cell.
type Options struct {
	// Columns are the feature columns, in the order the table gets them;
	// the file's other columns, whatever their type, are not read. nil:
	// every column but the identifier.
	Columns []string
	// SkipBadRows leaves out every row with a bad cell (a feature value
	// that is empty, not a number, NaN or infinite) and records them in
	// Table.Skipped, instead of failing with a *BadCellsError.
	SkipBadRows bool
}

// BadCell is a feature value that is not a finite number.
type BadCell struct {
	Row    int    // the data row, from 1, the header not counted (as in rejected_rows)
	Line   int    // CSV: the line of the file the value is on, the header being line 1; 0 for Parquet
	Column string // the feature column
	Found  string // the value as the file has it: "" when empty, null, NaN, text
}

func (c BadCell) String() string {
	at := fmt.Sprintf("row %d", c.Row)
	if c.Line > 0 {
		at += fmt.Sprintf(" (line %d)", c.Line)
	}
	return fmt.Sprintf("%s, column %q: expected a finite number, found %s", at, c.Column, c.Found)
}

// BadCells counts the bad cells of a table and the rows holding them, and
// keeps the first MaxBadCellsListed of them in file order.
type BadCells struct {
	First []BadCell
	Cells int
	Rows  int
}

// MaxBadCellsListed is how many bad cells an error or a summary names.
const MaxBadCellsListed = 5

// BadCellsError is a feature table with bad cells, read without
// Options.SkipBadRows. The whole file is read first, so that it says how
// many there are, not only the first.
type BadCellsError struct {
	Path string
	BadCells
}

func (e *BadCellsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d feature values in %d rows are not finite numbers (empty, text, NaN or infinite)", e.Path, e.Cells, e.Rows)
	for _, c := range e.First {
		fmt.Fprintf(&b, "\n  %s", c)
	}
	if more := e.Cells - len(e.First); more > 0 {
		fmt.Fprintf(&b, "\n  and %d more", more)
	}
	return b.String()
}

// badCells collects the bad cells of a table being read: the rows holding
// one, and the first ones in row order.
type badCells struct {
	BadCells
	rows map[int]bool // the 0-based rows with a bad cell
	col  []int        // the feature index of each cell in First, to order them
}

func (b *badCells) add(row, j int, c BadCell) {
	if b.rows == nil {
		b.rows = map[int]bool{}
	}
	b.Cells++
	if !b.rows[row] {
		b.rows[row] = true
		b.Rows++
	}
	// Parquet is read a column at a time: keep the first cells in
	// row, then column, order.
	i := len(b.First)
	for i > 0 && (b.First[i-1].Row > c.Row || b.First[i-1].Row == c.Row && b.col[i-1] > j) {
		i--
	}
	if i >= MaxBadCellsListed {
		return
	}
	b.First = slices.Insert(b.First, i, c)
	b.col = slices.Insert(b.col, i, j)
	if len(b.First) > MaxBadCellsListed {
		b.First, b.col = b.First[:MaxBadCellsListed], b.col[:MaxBadCellsListed]
	}
}

// finish leaves the rows with a bad cell out of t under SkipBadRows, and
// records them; without it, they are a *BadCellsError.
func (b *badCells) finish(t *Table, path string, skip bool) error {
	if b.Cells == 0 {
		return nil
	}
	if !skip {
		return &BadCellsError{Path: path, BadCells: b.BadCells}
	}
	kept := 0
	for i := range t.N {
		if b.rows[i] {
			continue
		}
		copy(t.X[kept*t.D:(kept+1)*t.D], t.X[i*t.D:(i+1)*t.D])
		if t.IntIDs != nil {
			t.IntIDs[kept] = t.IntIDs[i]
		} else {
			t.IDs[kept] = t.IDs[i]
		}
		kept++
	}
	t.N, t.X = kept, t.X[:kept*t.D]
	if t.IntIDs != nil {
		t.IntIDs = t.IntIDs[:kept]
	} else {
		t.IDs = t.IDs[:kept]
	}
	t.Skipped = b.BadCells
	return nil
}

// featureIndex maps the file's columns to the table's features: the
// feature index of each file column (-1 for one not read), and the
// features' names. Unknown or repeated names in want, or the identifier
// among them, are an error naming the file and listing its columns.
func featureIndex(path, idColumn string, names, want []string) ([]int, []string, error) {
	index := make([]int, len(names))
	if want == nil {
		var cols []string
		for i, n := range names {
			index[i] = -1
			if n != idColumn {
				index[i] = len(cols)
				cols = append(cols, n)
			}
		}
		return index, cols, nil
	}
	pos := map[string]int{}
	for i, n := range want {
		if _, dup := pos[n]; dup {
			return nil, nil, fmt.Errorf("%s: feature column %q named twice", path, n)
		}
		if n == idColumn {
			return nil, nil, fmt.Errorf("%s: feature column %q is the id column", path, n)
		}
		pos[n] = i
	}
	seen := map[string]bool{}
	for i, n := range names {
		index[i] = -1
		if j, ok := pos[n]; ok {
			index[i] = j
			seen[n] = true
		}
	}
	var missing []string
	for _, n := range want {
		if !seen[n] {
			missing = append(missing, strconv.Quote(n))
		}
	}
	if len(missing) > 0 {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = strconv.Quote(n)
		}
		return nil, nil, fmt.Errorf("%s: feature column %s: not found (the file's columns: %s)", path, strings.Join(missing, ", "), strings.Join(quoted, ", "))
	}
	return index, slices.Clone(want), nil
}

// ID returns the identifier of row i as text.
func (t *Table) ID(i int) string {
	if t.IntIDs != nil {
		return strconv.FormatInt(t.IntIDs[i], 10)
	}
	return t.IDs[i]
}

// InputError is a feature table that cannot be clustered: a file that is
// missing or unreadable, an identifier column that is not there, a column
// or a value that is not a number. Read returns every failure as one.
type InputError struct {
	Path string // the file
	Err  error  // what is wrong with it; the message is Err's
}

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Read reads a Parquet or CSV (gzip too) table whose columns are an
// identifier and numeric features, picking the format by the extension:
// ReadWith, with every column but the identifier a feature, and a bad cell
// an error.
func Read(path, idColumn string) (*Table, error) {
	return ReadWith(path, idColumn, Options{})
}

// ReadWith reads the identifier and the feature columns opts names of a
// Parquet or CSV (gzip too) table, picking the format by the extension.
// Integer and floating-point columns are accepted. A feature value that is
// missing, not a number, NaN or infinite is a bad cell: the whole file is
// read, and the bad cells are a *BadCellsError (how many, in how many
// rows, and the first ones with their row, column and value), or, with
// opts.SkipBadRows, their rows are left out and recorded in
// Table.Skipped. Every error is an *InputError.
func ReadWith(path, idColumn string, opts Options) (*Table, error) {
	read := readFeaturesParquet
	if name := strings.ToLower(strings.TrimSuffix(path, ".gz")); strings.HasSuffix(name, ".csv") {
		read = readFeaturesCSV
	}
	t, err := read(path, idColumn, opts)
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		// The file cannot be opened at all: say which and why, not
		// only the system's words.
		err = fmt.Errorf("%s: expected a readable feature table (Parquet, or CSV by its extension), found %w", path, pe.Err)
	}
	if err != nil {
		return nil, &InputError{Path: path, Err: err}
	}
	return t, nil
}

func readFeaturesParquet(path, idColumn string, opts Options) (*Table, error) {
	pf, f, err := datasets.OpenParquet(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &Table{IDColumn: idColumn, N: int(pf.NumRows())}
	idIndex := -1
	var names []string
	for _, fl := range pf.Schema().Fields() {
		names = append(names, fl.Name())
	}
	feature, columns, err := featureIndex(path, idColumn, names, opts.Columns)
	if err != nil {
		return nil, err
	}
	t.Columns = columns
	cols := make([]int, len(columns)) // file column index of each feature
	for i, fl := range pf.Schema().Fields() {
		if fl.Name() == idColumn {
			idIndex = i
			continue
		}
		if feature[i] < 0 {
			continue
		}
		if !fl.Leaf() {
			return nil, fmt.Errorf("%s: column %q: expected a number, found a nested group", path, fl.Name())
		}
		family, typ := datasets.ParquetFamily(fl.Type())
		if family != "integer" && family != "float" && family != "decimal" {
			return nil, fmt.Errorf("%s: column %q: expected a number, found %s", path, fl.Name(), typ)
		}
		if family == "decimal" {
			return nil, fmt.Errorf("%s: column %q: expected an integer or floating-point column, found %s (cast it to DOUBLE)", path, fl.Name(), typ)
		}
		cols[feature[i]] = i
	}
	if idIndex < 0 {
		return nil, fmt.Errorf("%s: id column %q: not found (columns: %s)", path, idColumn, strings.Join(columnNames(pf), ", "))
	}
	if !pf.Schema().Fields()[idIndex].Leaf() {
		return nil, fmt.Errorf("%s: id column %q: expected an integer or a string, found a nested group", path, idColumn)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("%s: expected at least one numeric feature column besides %q, found none", path, idColumn)
	}
	idFamily, idType := datasets.ParquetFamily(pf.Schema().Fields()[idIndex].Type())
	switch idFamily {
	case "integer":
		t.IntIDs = make([]int64, 0, t.N)
	case "string", "binary":
		t.IDs = make([]string, 0, t.N)
	default:
		return nil, fmt.Errorf("%s: id column %q: expected an integer or a string, found %s", path, idColumn, idType)
	}
	t.D = len(cols)
	t.X = make([]float64, t.N*t.D)

	buf := make([]parquet.Value, 4096)
	var bad badCells
	base := 0
	for _, rg := range pf.RowGroups() {
		chunks := rg.ColumnChunks()
		for j, ci := range cols {
			row := base
			err := readColumn(chunks[ci], buf, func(v parquet.Value) error {
				var x float64
				switch v.Kind() {
				case parquet.Int32:
					x = float64(v.Int32())
				case parquet.Int64:
					x = float64(v.Int64())
				case parquet.Float:
					x = float64(v.Float())
				case parquet.Double:
					x = v.Double()
				}
				if v.IsNull() || math.IsNaN(x) || math.IsInf(x, 0) {
					bad.add(row, j, BadCell{Row: row + 1, Column: t.Columns[j], Found: describeValue(v, x)})
				}
				t.X[row*t.D+j] = x
				row++
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		row := base
		err := readColumn(chunks[idIndex], buf, func(v parquet.Value) error {
			if v.IsNull() {
				return fmt.Errorf("%s: row %d, column %q: expected an id, found null", path, row+1, idColumn)
			}
			if t.IntIDs != nil {
				t.IntIDs = append(t.IntIDs, v.Int64())
			} else {
				t.IDs = append(t.IDs, string(v.ByteArray()))
			}
			row++
			return nil
		})
		if err != nil {
			return nil, err
		}
		base += int(rg.NumRows())
	}
	return t, bad.finish(t, path, opts.SkipBadRows)
}

func columnNames(pf *parquet.File) []string {
	var names []string
	for _, fl := range pf.Schema().Fields() {
		names = append(names, strconv.Quote(fl.Name()))
	}
	return names
}

func describeValue(v parquet.Value, x float64) string {
	if v.IsNull() {
		return "null"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// readColumn calls fn on every value of a column chunk, in order.
func readColumn(cc parquet.ColumnChunk, buf []parquet.Value, fn func(parquet.Value) error) error {
	pages := cc.Pages()
	defer pages.Close()
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		vr := page.Values()
		for {
			n, err := vr.ReadValues(buf)
			for _, v := range buf[:n] {
				if err := fn(v); err != nil {
					parquet.Release(page)
					return err
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(page)
				return err
			}
		}
		parquet.Release(page)
	}
}

func readFeaturesCSV(path, idColumn string, opts Options) (*Table, error) {
	// Count the records first so that the matrix is allocated once, at
	// its final size.
	n, err := countCSVRecords(path)
	if err != nil {
		return nil, err
	}
	rd, closeFn, err := datasets.OpenText(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	r := csv.NewReader(bufio.NewReaderSize(rd, 1<<20))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: no header row (%v)", path, datasets.ErrNotText, err)
	}
	t := &Table{IDColumn: idColumn}
	idIndex := -1
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = strings.TrimPrefix(h, "\ufeff")
		if names[i] == idColumn {
			idIndex = i
		}
	}
	feature, columns, err := featureIndex(path, idColumn, names, opts.Columns)
	if err != nil {
		return nil, err
	}
	t.Columns = columns
	if idIndex < 0 {
		return nil, fmt.Errorf("%s: id column %q: not found in the header %q", path, idColumn, header)
	}
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("%s: expected at least one numeric feature column besides %q, found none", path, idColumn)
	}
	t.N, t.D = n, len(t.Columns)
	t.X = make([]float64, n*t.D)
	t.IDs = make([]string, 0, n)
	var bad badCells
	for row := 0; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if row >= n {
			return nil, fmt.Errorf("%s: the file changed while it was read", path)
		}
		for i, s := range rec {
			if i == idIndex {
				t.IDs = append(t.IDs, strings.Clone(s))
				continue
			}
			j := feature[i]
			if j < 0 {
				continue
			}
			x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				line, _ := r.FieldPos(i)
				bad.add(row, j, BadCell{Row: row + 1, Line: line, Column: t.Columns[j], Found: strconv.Quote(s)})
			}
			t.X[row*t.D+j] = x
		}
	}
	if len(t.IDs) != n {
		return nil, fmt.Errorf("%s: the file changed while it was read", path)
	}
	return t, bad.finish(t, path, opts.SkipBadRows)
}

// countCSVRecords counts the data records of a CSV file (not the header).
func countCSVRecords(path string) (int, error) {
	rd, closeFn, err := datasets.OpenText(path)
	if err != nil {
		return 0, err
	}
	defer closeFn()
	r := csv.NewReader(bufio.NewReaderSize(rd, 1<<20))
	r.ReuseRecord = true
	n := -1
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w: %v", path, datasets.ErrNotText, err)
		}
		n++
	}
	if n < 0 {
		return 0, fmt.Errorf("%s: %w: empty file, expected a header row", path, datasets.ErrNotText)
	}
	return n, nil
}

// WriteAssignments writes the cluster of every row of t, and its squared
// distance to the centroid, as Parquet with the columns <id column>,
// cluster and distance; the id keeps its type.
func WriteAssignments(path string, t *Table, labels []int, dist []float64) error {
	schema := parquet.NewSchema("assignments", parquet.Group{
		t.IDColumn: t.idNode(),
		"cluster":  parquet.Int(32),
		"distance": parquet.Leaf(parquet.DoubleType),
	})
	return writeRows(path, schema, t.N, func(i int, col func(string) int) parquet.Row {
		row := make(parquet.Row, 3)
		row[col(t.IDColumn)] = t.idValue(i).Level(0, 0, col(t.IDColumn))
		row[col("cluster")] = parquet.Int32Value(int32(labels[i])).Level(0, 0, col("cluster"))
		row[col("distance")] = parquet.DoubleValue(dist[i]).Level(0, 0, col("distance"))
		return row
	})
}

// Write writes t as Parquet, the table Read reads back: the id column (an
// integer when t has IntIDs, a string otherwise) and every feature as a
// DOUBLE. The Parquet schema is named after the file (blobs for
// blobs.parquet).
func Write(path string, t *Table) error {
	g := parquet.Group{t.IDColumn: t.idNode()}
	for _, c := range t.Columns {
		g[c] = parquet.Leaf(parquet.DoubleType)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	schema := parquet.NewSchema(name, g)
	return writeRows(path, schema, t.N, func(i int, col func(string) int) parquet.Row {
		row := make(parquet.Row, t.D+1)
		row[col(t.IDColumn)] = t.idValue(i).Level(0, 0, col(t.IDColumn))
		for j, c := range t.Columns {
			row[col(c)] = parquet.DoubleValue(t.X[i*t.D+j]).Level(0, 0, col(c))
		}
		return row
	})
}

// idNode is the Parquet type of t's id column: the type it was read with.
func (t *Table) idNode() parquet.Node {
	if t.IntIDs != nil {
		return parquet.Int(64)
	}
	return parquet.String()
}

// idValue is the id of row i as a Parquet value of t.idNode's type.
func (t *Table) idValue(i int) parquet.Value {
	if t.IntIDs != nil {
		return parquet.Int64Value(t.IntIDs[i])
	}
	return parquet.ByteArrayValue([]byte(t.IDs[i]))
}

// writeRows writes n rows made by row to a Parquet file, through a
// temporary file renamed into place.
func writeRows(path string, schema *parquet.Schema, n int, row func(i int, col func(string) int) parquet.Row) error {
	index := map[string]int{}
	for _, p := range schema.Columns() {
		lc, _ := schema.Lookup(p...)
		index[p[0]] = lc.ColumnIndex
	}
	col := func(name string) int { return index[name] }
	return durable.WriteFileWith(path, func(f io.Writer) error {
		w := parquet.NewWriter(f, schema, parquet.Compression(&parquet.Zstd))
		rows := make([]parquet.Row, 0, 4096)
		for i := range n {
			rows = append(rows, row(i, col))
			if len(rows) == cap(rows) || i == n-1 {
				if _, err := w.WriteRows(rows); err != nil {
					return err
				}
				rows = rows[:0]
			}
		}
		return w.Close()
	})
}
