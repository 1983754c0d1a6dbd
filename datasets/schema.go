// Package datasets is crmseg's input contract: the logical tables and
// columns an export must supply (Customers, Transactions, Products, Campaigns), the
// kinds of column each accepts, and the inspection of input files against
// it: the columns and types of a Parquet file from its footer
// (InspectParquet), the header of a CSV or white-space separated text file
// (InspectCSV, InspectText). The engine checks its inputs with it before any
// SQL runs.
//
// Beside it: package datasets/synth generates synthetic exports that meet
// the contract, and package datasets/featuretable reads the numeric feature
// tables of crmseg cluster.
//
// Parquet: this package reads Parquet with parquet-go
// (github.com/parquet-go/parquet-go), and only the footer: the schema and
// the row count, without the pages. Validation stays cheap on any file size,
// and the package does not link DuckDB, whose driver only the engine (and the
// commands above it) links; the engine reads the rows of the inputs with
// DuckDB after this check.
package datasets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// Kind is the logical type a column of the input contract expects. Each kind
// accepts several physical types, because exports differ (an integer CRM key,
// a DECIMAL or DOUBLE amount, a DATE where a TIMESTAMP would do).
type Kind string

// The kinds of the input contract.
const (
	KindID        Kind = "id"        // string or integer
	KindString    Kind = "string"    // string
	KindDate      Kind = "date"      // date or timestamp
	KindTimestamp Kind = "timestamp" // timestamp or date
	KindDecimal   Kind = "decimal"   // decimal, floating point or integer
	KindInteger   Kind = "integer"   // integer (decimal with scale 0 accepted)
)

// Column is one logical column of an input table.
type Column struct {
	Name     string
	Kind     Kind
	Required bool
	Doc      string
}

// Table is one logical input table of the contract.
type Table struct {
	Name     string
	Required bool
	Columns  []Column
}

// Column returns the named column and whether the table has it.
func (t Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Names lists the table's logical column names.
func (t Table) Names() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// Customers is the customers table of the input contract: one row per customer.
var Customers = Table{Name: "customers", Columns: []Column{
	{"customer_id", KindID, true, "unique, non-null; the CRM's key"},
	{"signup_date", KindDate, false, "default: first purchase date"},
	{"birth_date", KindDate, false, "for age"},
	{"gender", KindString, false, "demographic"},
	{"region", KindString, false, "demographic"},
	{"income_band", KindString, false, "demographic"},
	{"acquisition_channel", KindString, false, "for acquisition metrics"},
	{"acquisition_cost", KindDecimal, false, "for LTV/CAC"},
}}

// Transactions is the transactions table of the input contract: one row per
// order line (or per order, when order_id is absent).
var Transactions = Table{Name: "transactions", Required: true, Columns: []Column{
	{"transaction_id", KindID, false, "unique per row; recommended"},
	{"order_id", KindID, false, "groups order lines into orders; default: one order per row"},
	{"customer_id", KindID, true, "must exist in customers when customers are given"},
	{"ts", KindTimestamp, true, "time of the order line"},
	{"amount", KindDecimal, true, "net amount; negative for returns and refunds (or quantity × unit_price)"},
	{"unit_price", KindDecimal, false, "with quantity, gives amount when the file has none"},
	{"quantity", KindInteger, false, ""},
	{"category", KindString, false, "needed for cross-sell"},
	{"product_id", KindString, false, ""},
	{"channel", KindString, false, "web, store, phone, app, ..."},
	{"cost", KindDecimal, false, "cost of goods, for margin"},
}}

// Products is the optional products table: it supplies a transaction's
// category through product_id when the transactions have none.
var Products = Table{Name: "products", Columns: []Column{
	{"product_id", KindString, true, "key"},
	{"category", KindString, true, ""},
	{"name", KindString, false, ""},
	{"list_price", KindDecimal, false, ""},
}}

// Campaigns is the optional campaigns table: the acquisition spend per
// channel and month, and the customers it acquired, from which the
// acquisition cost per customer (CAC) of a channel's monthly cohort is
// taken in preference to the customers' own acquisition_cost.
var Campaigns = Table{Name: "campaigns", Columns: []Column{
	{"campaign", KindID, false, "the campaign's name or key; a campaign, channel and month given twice is a duplicate"},
	{"channel", KindString, true, "the acquisition channel, as the customers' acquisition_channel names it"},
	{"period", KindDate, true, "the month of the spend: any date in it (CSV and text: YYYY-MM or YYYY-MM-DD)"},
	{"cost", KindDecimal, true, "the spend in that month, 0 or more"},
	{"customers_acquired", KindInteger, true, "the customers it acquired in that month, 0 or more"},
}}

// SegmentAssignments is the file of segments made elsewhere
// (segmentation.assignments): each customer's segment, and optionally its
// name.
var SegmentAssignments = Table{Name: "segment_assignments", Columns: []Column{
	{"customer_id", KindID, true, "the customer, as the customers and transactions name it; once per file"},
	{"segment_id", KindInteger, true, "a whole number, 1 or more"},
	{"name", KindString, false, "the segment's name, the same on every row of the segment; default: generated"},
}}

// FileColumn is a column as found in a file, with its type classified into a
// few families ("string", "integer", "float", "decimal", "date",
// "timestamp", "boolean", or the file's own type name when none fits).
type FileColumn struct {
	Name   string
	Family string
	Type   string // the file's own description of the type
}

// Accepts reports whether a column of type family can be converted to kind.
func (k Kind) Accepts(family string) bool {
	if family == "text" {
		return true // text files: every value is converted, and checked, row by row
	}
	switch k {
	case KindID:
		// Floating point too: exports written through pandas turn integer
		// keys into 17850.0; staging writes them back as 17850.
		return family == "string" || family == "binary" || family == "integer" || family == "float"
	case KindString:
		return family == "string" || family == "binary"
	case KindDate, KindTimestamp:
		return family == "date" || family == "timestamp"
	case KindDecimal:
		return family == "decimal" || family == "float" || family == "integer"
	case KindInteger:
		return family == "integer" || family == "decimal" || family == "float"
	}
	return false
}

// Expect describes, for error messages, what kind accepts.
func (k Kind) Expect() string {
	switch k {
	case KindID:
		return "a string or integer column"
	case KindString:
		return "a string column"
	case KindDate, KindTimestamp:
		return "a date or timestamp column"
	case KindDecimal:
		return "a numeric (decimal, floating point or integer) column"
	case KindInteger:
		return "an integer column"
	}
	return string(k)
}

// ErrNotParquet is wrapped by InspectParquet when a file is not a readable
// Parquet file (truncated, empty, or another format).
var ErrNotParquet = errors.New("not a readable Parquet file")

// InspectParquet reads only the footer of a Parquet file and returns its
// top-level columns and row count. Nothing else of the file is read.
func InspectParquet(path string) ([]FileColumn, int64, error) {
	pf, f, err := OpenParquet(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var cols []FileColumn
	for _, fl := range pf.Schema().Fields() {
		fc := FileColumn{Name: fl.Name()}
		if !fl.Leaf() {
			fc.Family, fc.Type = "nested", "group"
		} else {
			fc.Family, fc.Type = ParquetFamily(fl.Type())
		}
		cols = append(cols, fc)
	}
	return cols, pf.NumRows(), nil
}

// OpenParquet opens a Parquet file and reads its footer, after checking
// that it is a regular file that starts like Parquet; a file that is not
// wraps ErrNotParquet. The caller closes the returned file. Readers of input
// files other than InspectParquet (package featuretable) open them through
// it, so that every Parquet input is checked the same way.
func OpenParquet(path string) (*parquet.File, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*parquet.File, *os.File, error) {
		f.Close()
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if st.IsDir() {
		return fail(fmt.Errorf("%s: %w: it is a directory", path, ErrNotParquet))
	}
	var head [4]byte
	if _, err := f.ReadAt(head[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return fail(err)
	}
	if st.Size() < 12 || string(head[:]) != "PAR1" {
		return fail(fmt.Errorf("%s: %w: %d bytes, no Parquet header", path, ErrNotParquet, st.Size()))
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return fail(fmt.Errorf("%s: %w: %v", path, ErrNotParquet, err))
	}
	return pf, f, nil
}

// ParquetFamily classifies a Parquet column type into the families of
// FileColumn and returns the type's own name beside it.
func ParquetFamily(t parquet.Type) (family, name string) {
	name = t.String()
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch lt.Value.(type) {
		case *format.StringType, *format.EnumType, *format.UUIDType, *format.JsonType:
			return "string", name
		case *format.DecimalType:
			return "decimal", name
		case *format.DateType:
			return "date", name
		case *format.TimestampType:
			return "timestamp", name
		case *format.IntType:
			return "integer", name
		case *format.TimeType:
			return "time", name
		}
	}
	if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.UTF8, deprecated.Enum, deprecated.Json:
			return "string", name
		case deprecated.Decimal:
			return "decimal", name
		case deprecated.Date:
			return "date", name
		case deprecated.TimestampMillis, deprecated.TimestampMicros:
			return "timestamp", name
		case deprecated.Int8, deprecated.Int16, deprecated.Int32, deprecated.Int64,
			deprecated.Uint8, deprecated.Uint16, deprecated.Uint32, deprecated.Uint64:
			return "integer", name
		}
	}
	switch t.Kind() {
	case parquet.Boolean:
		return "boolean", name
	case parquet.Int32, parquet.Int64:
		return "integer", name
	case parquet.Int96:
		return "timestamp", name // legacy Impala/Spark timestamps
	case parquet.Float, parquet.Double:
		return "float", name
	case parquet.ByteArray:
		return "binary", name
	}
	return strings.ToLower(name), name
}
