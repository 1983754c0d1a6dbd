package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the engine's DuckDB driver

	"github.com/crmseg/crmseg/engine"
	"github.com/crmseg/crmseg/internal/cli"
)

// cmdScan times the floor make bench-e2e compares a run with: a plain
// DuckDB scan of a transactions file grouped by customer, through the same
// driver the engine uses, in a fresh in-memory database. It prints a JSON
// object: the query, the seconds, the groups and the process's peak memory.
//
//	crmseg-bench scan --transactions FILE [--threads N]
func cmdScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("crmseg-bench", "scan", stderr)
	path := fs.String("transactions", "", "transactions Parquet file (as crmseg generate writes it)")
	threads := fs.Int("threads", 0, "DuckDB threads; 0 leaves DuckDB's default (every core), as a run does")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return &cli.UsageError{Msg: "scan needs --transactions"}
	}
	if _, err := os.Stat(*path); err != nil {
		return &cli.UsageError{Msg: fmt.Sprintf("--transactions: expected a Parquet file, found %v", err)}
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if *threads > 0 {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET threads = %d", *threads)); err != nil {
			return err
		}
	}
	// The columns crmseg generate writes (datasets/synth): ts is the
	// transaction's timestamp. The result is materialised, as the
	// pipeline's tables are, so that no aggregate is optimised away.
	q := "CREATE TEMP TABLE scan_floor AS SELECT customer_id, sum(amount), max(ts), count(*) FROM read_parquet($1) GROUP BY 1"
	start := time.Now()
	if _, err := conn.ExecContext(ctx, q, *path); err != nil {
		return fmt.Errorf("scan of %s: %w", *path, err)
	}
	seconds := time.Since(start).Seconds()
	var groups int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM scan_floor").Scan(&groups); err != nil {
		return err
	}
	b, err := json.MarshalIndent(struct {
		Query        string  `json:"query"`
		Seconds      float64 `json:"seconds"`
		Groups       int64   `json:"groups"`
		PeakRSSBytes int64   `json:"peak_rss_bytes"`
	}{q, seconds, groups, engine.PeakRSS()}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}
