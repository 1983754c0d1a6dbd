package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// The SQL models, one SELECT per file, in dbt's layers.
//
//go:embed sql
var sqlFS embed.FS

// session is one run's DuckDB database and the connection every statement
// of the run goes through (so temporary state and settings are shared).
type session struct {
	connector *duckdb.Connector
	db        *sql.DB
	conn      *sql.Conn
	log       *slog.Logger
	// memoryLimit is DuckDB's memory_limit as the session set it.
	memoryLimit string
}

// openSession opens the run's DuckDB database with its resource settings.
//
// The database is a file in tempDir (the run's temporary directory, removed
// when the run ends), not DuckDB's in-memory store: DuckDB compresses the
// tables of a database file and keeps only the blocks it reads in memory,
// up to memory_limit, where an in-memory table holds every row uncompressed.
// At 1,000,000 customers, stg_transactions takes 0.2 GB of DuckDB's memory
// this way against 1.5 GB in memory (docs/performance.md, "Where it stands").
func openSession(ctx context.Context, cfg *config.Config, tempDir string, log *slog.Logger) (*session, error) {
	connector, err := duckdb.NewConnector(filepath.Join(tempDir, "run.duckdb"), nil)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		connector.Close()
		return nil, err
	}
	s := &session{connector: connector, db: db, conn: conn, log: log}
	settings := []string{
		"SET preserve_insertion_order = true",
		// Timestamps with a time zone convert to plain timestamps in UTC,
		// whatever the machine's zone, so outputs do not depend on it.
		"SET TimeZone = 'UTC'",
		"SET temp_directory = " + sqlquote.Literal(tempDir),
	}
	if cfg.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", cfg.Threads))
	}
	if limit := memoryLimit(cfg.MemoryLimit); limit != "" {
		settings = append(settings, "SET memory_limit = "+sqlquote.Literal(limit))
	}
	for _, q := range settings {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			s.Close()
			return nil, fmt.Errorf("duckdb setting %q: %w", q, err)
		}
	}
	if err := conn.QueryRowContext(ctx, "SELECT current_setting('memory_limit')").Scan(&s.memoryLimit); err != nil {
		s.Close()
		return nil, fmt.Errorf("duckdb memory_limit: %w", err)
	}
	macros, err := modelSQL("staging/macros")
	if err == nil {
		_, err = conn.ExecContext(ctx, macros)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("duckdb macros: %w", err)
	}
	return s, nil
}

// DefaultMemoryShare is the share of the machine's memory DuckDB may use
// when memory_limit is not configured. DuckDB's own default is 80%. A run
// is meant to stay within a third of the machine (a nightly job shares
// it), and its peak is DuckDB's limit plus what lies outside it: the Go
// side's arrays (purchase histories, predictions) and what DuckDB holds
// beyond its buffer manager. At ten million customers that was 2–3 GB
// above a 6 GB limit (docs/performance.md, "Memory"), so DuckDB gets a sixth
// and spills larger operators to the run's temporary directory.
const DefaultMemoryShare = 1.0 / 6

// goPhaseMemory is DuckDB's memory_limit while Go holds the run's large
// arrays and DuckDB idles (goPhase): 256 MiB, or the run's own limit if
// lower.
func (s *session) goPhaseMemory() string {
	return s.memoryAtMost(256 << 20)
}

// computedViewMemory is DuckDB's memory_limit while it computes a view as
// it publishes it (publishedFrom): 512 MiB, or the run's own limit if
// lower. Above it, the view's aggregate and sort spill to the run's
// temporary directory; at the run's full limit they held three times as
// much for about the same time (docs/performance.md, "Memory").
func (s *session) computedViewMemory() string {
	return s.memoryAtMost(512 << 20)
}

// memoryAtMost is a memory_limit of limit bytes, or the run's own limit if
// lower.
func (s *session) memoryAtMost(limit int64) string {
	if n, ok := config.MemoryBytes(s.memoryLimit); ok && n < limit {
		return s.memoryLimit
	}
	return strconv.FormatInt(limit>>20, 10) + "MiB"
}

// goPhase runs fn, Go work over large arrays (the feature matrix and the
// fit, the value models' histories and predictions) during which DuckDB
// only idles, with DuckDB's memory_limit at goPhaseMemory: DuckDB lets go
// of the blocks it cached beyond it (its tables stay in the run database's
// file), so that the two do not hold their peaks at once; it takes its
// limit back after.
//
// Go's garbage collector meanwhile lets the heap grow by 25% of what is
// live before it collects, not the default 100%: what is live is mostly
// a few large arrays without pointers, cheap to scan, and twice the
// feature matrix is more memory than the run can spare (as crmseg cluster
// does).
func (s *session) goPhase(ctx context.Context, fn func() error) error {
	restore, err := s.lowerMemoryLimit(ctx, s.goPhaseMemory())
	if err != nil {
		return err
	}
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	return errors.Join(fn(), restore())
}

// lowerMemoryLimit sets DuckDB's memory_limit to limit for a while; the
// function it returns sets the session's own limit back.
func (s *session) lowerMemoryLimit(ctx context.Context, limit string) (restore func() error, err error) {
	if err := s.exec(ctx, "SET memory_limit = "+sqlquote.Literal(limit)); err != nil {
		return nil, err
	}
	return func() error { return s.exec(ctx, "SET memory_limit = "+sqlquote.Literal(s.memoryLimit)) }, nil
}

// memoryLimit is DuckDB's memory_limit: the configured one, or
// DefaultMemoryShare of the machine's memory (at least 512 MiB), or ""
// (DuckDB's default) when the machine's memory is unknown.
func memoryLimit(configured string) string {
	if configured != "" {
		return configured
	}
	total := physicalMemory()
	if total <= 0 {
		return ""
	}
	mib := max(int64(float64(total)*DefaultMemoryShare)>>20, 512)
	return strconv.FormatInt(mib, 10) + "MiB"
}

// Close closes the session's connection, database and connector, and
// returns every error they give.
func (s *session) Close() error {
	var errs []error
	if s.conn != nil {
		errs = append(errs, s.conn.Close())
	}
	errs = append(errs, s.db.Close(), s.connector.Close())
	return errors.Join(errs...)
}

// startSession opens a DuckDB session in a new temporary directory, named
// by pattern, under dir (the system's temporary directory when empty). The
// returned function closes the session and removes the directory; what
// fails there is logged, not returned: the run's outcome does not depend
// on it, and a run that finds the directory left in its output root
// removes it (store.RemoveLeftovers).
func startSession(ctx context.Context, cfg *config.Config, dir, pattern string, log *slog.Logger) (*session, func(), error) {
	tmp, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		if dir != "" {
			err = fmt.Errorf("output root: %w", err)
		}
		return nil, nil, err
	}
	s, err := openSession(ctx, cfg, tmp, log)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, stageError("open duckdb", err)
	}
	return s, func() {
		if err := errors.Join(s.Close(), os.RemoveAll(tmp)); err != nil {
			log.Warn("DuckDB session not closed cleanly", "dir", tmp, "error", err)
		}
	}, nil
}

func (s *session) exec(ctx context.Context, query string, args ...any) error {
	_, err := s.conn.ExecContext(ctx, query, args...)
	return err
}

// modelSQL returns the embedded SQL of a registered file ("staging/params"):
// a model of sqlModels or a file of sqlOtherUses.
func modelSQL(name string) (string, error) {
	if _, ok := registeredModel(name); !ok && sqlOtherUses[name] == "" {
		return "", fmt.Errorf("SQL %q is not in the registry (sqlModels)", name)
	}
	b, err := sqlFS.ReadFile("sql/" + name + ".sql")
	if err != nil {
		return "", fmt.Errorf("no SQL model %q: %w", name, err)
	}
	return string(b), nil
}

// viewAs defines an embedded SQL model as the named view.
func (s *session) viewAs(ctx context.Context, name, view string) error {
	q, err := modelSQL(name)
	if err != nil {
		return err
	}
	if err := s.exec(ctx, "CREATE OR REPLACE VIEW "+sqlquote.Ident(view)+" AS "+q); err != nil {
		return fmt.Errorf("model %s: %w", name, err)
	}
	return nil
}

// modelAs materialises an embedded SQL model as the named table.
func (s *session) modelAs(ctx context.Context, name, table string, args ...any) error {
	q, err := modelSQL(name)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := s.exec(ctx, "CREATE OR REPLACE TABLE "+sqlquote.Ident(table)+" AS "+q, args...); err != nil {
		return fmt.Errorf("model %s: %w", name, err)
	}
	s.log.Debug("model built", "model", name, "seconds", time.Since(start).Seconds())
	return nil
}

// check runs a data check: a query that must return zero rows.
func (s *session) check(ctx context.Context, name string) error {
	q, err := modelSQL("checks/" + name)
	if err != nil {
		return err
	}
	rows, err := s.conn.QueryContext(ctx, "SELECT count(*) FROM ("+q+")")
	if err != nil {
		return fmt.Errorf("check %s: %w", name, err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("data check %s failed: %d offending rows", name, n)
	}
	return nil
}

// arrowQuery runs a query and hands its result to fn as an Arrow record
// reader, released afterwards.
func (s *session) arrowQuery(ctx context.Context, query string, fn func(array.RecordReader) error, args ...any) error {
	return s.conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rdr, err := ar.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rdr.Release()
		if err := fn(rdr); err != nil {
			return err
		}
		return rdr.Err()
	})
}

// registerArrow exposes an Arrow record reader as a view for the duration of fn.
func (s *session) registerArrow(rdr array.RecordReader, view string, fn func() error) error {
	var release func()
	err := s.conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		release, err = ar.RegisterView(rdr, view)
		return err
	})
	if err != nil {
		return err
	}
	defer release()
	return fn()
}

// appendRows bulk-loads rows into an existing table with the Appender, which
// is closed (and so flushed) on every path; an error of the flush is
// returned, with the error of appending if there was one.
func (s *session) appendRows(table string, rows [][]driver.Value) error {
	return s.conn.Raw(func(dc any) (err error) {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", table)
		if err != nil {
			return fmt.Errorf("appender for %s: %w", table, err)
		}
		defer func() {
			if cerr := app.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("appender for %s: %w", table, cerr))
			}
		}()
		for _, r := range rows {
			if err := app.AppendRow(r...); err != nil {
				return fmt.Errorf("appending to %s: %w", table, err)
			}
		}
		return nil
	})
}

// queryInt returns a single integer.
func (s *session) queryInt(ctx context.Context, query string, args ...any) (int64, error) {
	var n sql.NullInt64
	err := s.conn.QueryRowContext(ctx, query, args...).Scan(&n)
	return n.Int64, err
}

// goColumn is one column of a table written from Go: a name and the Arrow
// array holding its values.
type goColumn struct {
	name   string
	values arrow.Array
}

// float64Column builds a DOUBLE column; NaN and ±Inf become NULL.
func float64Column(mem memory.Allocator, name string, v []float64) goColumn {
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	b.Reserve(len(v))
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b.UnsafeAppendBoolToBitmap(false)
		} else {
			b.UnsafeAppend(x)
		}
	}
	return goColumn{name, b.NewArray()}
}

// int64Column builds a BIGINT column.
func int64Column(mem memory.Allocator, name string, v []int64) goColumn {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(v, nil)
	return goColumn{name, b.NewArray()}
}

// int32Column builds an INTEGER column.
func int32Column(mem memory.Allocator, name string, v []int32) goColumn {
	b := array.NewInt32Builder(mem)
	defer b.Release()
	b.AppendValues(v, nil)
	return goColumn{name, b.NewArray()}
}

// createFromColumns creates (or replaces) table from equally long columns
// built in Go, handed to DuckDB as one Arrow record batch: a copy per
// column, not an object per row. The columns are released.
func (s *session) createFromColumns(ctx context.Context, table string, cols []goColumn) error {
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.values.DataType(), Nullable: true}
		arrs[i] = c.values
		defer c.values.Release()
	}
	schema := arrow.NewSchema(fields, nil)
	n := int64(0)
	if len(arrs) > 0 {
		n = int64(arrs[0].Len())
	}
	rec := array.NewRecordBatch(schema, arrs, n)
	defer rec.Release()
	rdr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		return err
	}
	defer rdr.Release()
	view := "go_" + table
	return s.registerArrow(rdr, view, func() error {
		return s.exec(ctx, "CREATE OR REPLACE TABLE "+sqlquote.Ident(table)+" AS SELECT * FROM "+sqlquote.Ident(view))
	})
}

// queryString returns a single string.
func (s *session) queryString(ctx context.Context, query string, args ...any) (string, error) {
	var v *string
	if err := s.conn.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
		return "", err
	}
	if v == nil {
		return "", errors.New("no value")
	}
	return *v, nil
}
