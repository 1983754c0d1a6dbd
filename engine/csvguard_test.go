package engine

import (
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// hostileData writes customers and transactions with values a spreadsheet
// would run as formulas: customer IDs "@SUM(1+1)" and "+K3" (keys lose a leading tab, see
// TestMalformedInputs/36), an unknown
// customer "=1+2" (rejected), a category that is a HYPERLINK formula; and
// a customer "-7", a number, which is no formula. Customers 1-20 buy
// categories D and the formula, 21-40 D only (the formula is their next
// best category), 41-60 A only.
func hostileData(t *testing.T, dir string) (customers, transactions string) {
	t.Helper()
	db := memoryDB(t)
	customers = filepath.Join(dir, "customers.parquet")
	transactions = filepath.Join(dir, "transactions.parquet")
	ids := `CASE i WHEN 1 THEN '@SUM(1+1)' WHEN 3 THEN '+K3' WHEN 7 THEN '-7' ELSE 'K' || i END`
	for _, q := range []string{
		`COPY (SELECT ` + ids + ` AS customer_id, DATE '2024-01-01' AS signup_date FROM range(1, 61) r(i)) TO ` + sqlquote.Literal(customers) + ` (FORMAT parquet)`,
		`COPY (
			WITH lines AS (
				SELECT i, o, unnest(CASE WHEN i <= 20 THEN ['D', '=HYPERLINK("http://evil","click")'] WHEN i <= 40 THEN ['D'] ELSE ['A'] END) AS category
				FROM range(1, 61) r(i), range(0, 3) s(o)
				UNION ALL SELECT 0, 0, 'A'
			)
			SELECT row_number() OVER (ORDER BY i, o, category)::BIGINT AS transaction_id, (i * 10 + o)::BIGINT AS order_id,
				CASE WHEN i = 0 THEN '=1+2' ELSE ` + ids + ` END AS customer_id,
				TIMESTAMP '2025-01-01 10:00:00' + to_days((i * 7 + o * 97) % 360) AS ts,
				(10 + i % 7 + o)::DECIMAL(10, 2) AS amount, category, 'web' AS channel
			FROM lines) TO ` + sqlquote.Literal(transactions) + ` (FORMAT parquet)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return customers, transactions
}

// csvCells reads a published CSV file into its rows, header first.
func csvCells(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// csvColumn is one column of csvCells' rows, by its header.
func csvColumn(t *testing.T, rows [][]string, name string) []string {
	t.Helper()
	i := slices.Index(rows[0], name)
	if i < 0 {
		t.Fatalf("no column %s in %v", name, rows[0])
	}
	var out []string
	for _, r := range rows[1:] {
		out = append(out, r[i])
	}
	return out
}

// Text cells a spreadsheet would run as formulas reach the CSV copies
// escaped with a leading single quote (numbers, -7 and negative amounts
// included, stay as they are), the Parquet files exactly as read; with
// csv_formulas: keep the CSV copies are exact too.
func TestCSVFormulasEscaped(t *testing.T) {
	dir := t.TempDir()
	custPath, tx := hostileData(t, dir)
	cfg := config.DefaultConfig()
	cfg.Inputs = config.Inputs{Customers: config.InputSpec{Path: custPath}, Transactions: config.InputSpec{Path: tx}}
	cfg.Output = filepath.Join(dir, "out")
	cfg.Segmentation.K = 1
	cfg.Segmentation.Demographics = nil
	cfg.Rejects.MaxShare = 0.05
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const link = `=HYPERLINK("http://evil","click")`
	files, _ := filepath.Glob(filepath.Join(res.Dir, "*.csv"))
	for _, f := range files {
		for _, row := range csvCells(t, f)[1:] {
			for _, cell := range row {
				if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") {
					if _, err := strconv.ParseFloat(cell, 64); err != nil {
						t.Errorf("%s: cell %q would run as a formula", filepath.Base(f), cell)
					}
				}
			}
		}
	}
	cs := csvCells(t, filepath.Join(res.Dir, "customer_segments.csv"))
	ids := csvColumn(t, cs, "customer_id")
	for _, want := range []string{"'@SUM(1+1)", "'+K3", "-7", "K2"} {
		if !slices.Contains(ids, want) {
			t.Errorf("customer_segments.csv: customer_id %q missing (have %q)", want, ids)
		}
	}
	if !slices.Contains(csvColumn(t, cs, "next_best_category"), "'"+link) {
		t.Errorf("customer_segments.csv: next_best_category has no escaped %s: %q", link, csvColumn(t, cs, "next_best_category"))
	}
	pairs := csvCells(t, filepath.Join(res.Dir, "category_pairs.csv"))
	if !slices.Contains(slices.Concat(pairs[1:]...), "'"+link) {
		t.Errorf("category_pairs.csv has no escaped %s: %q", link, pairs)
	}
	if !slices.Contains(csvColumn(t, csvCells(t, filepath.Join(res.Dir, "rejects.csv")), "customer_id"), "'=1+2") {
		t.Errorf("rejects.csv: customer_id '=1+2 missing")
	}
	// The Parquet files keep every value as it was read.
	rows := readTable(t, filepath.Join(res.Dir, "customer_segments.parquet"), "SELECT count(*) FILTER (WHERE customer_id IN ('@SUM(1+1)', '+K3', '-7')), count(*) FILTER (WHERE next_best_category = $1) FROM $TABLE", link)
	var exact, cats int
	for rows.Next() {
		if err := rows.Scan(&exact, &cats); err != nil {
			t.Fatal(err)
		}
	}
	if exact != 3 || cats == 0 {
		t.Errorf("customer_segments.parquet: %d of the 3 hostile customer IDs and %d rows of the hostile category exact", exact, cats)
	}

	// csv_formulas: keep writes the CSV copies as they are.
	cfg.CSVFormulas = "keep"
	kept, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids = csvColumn(t, csvCells(t, filepath.Join(kept.Dir, "customer_segments.csv")), "customer_id")
	if !slices.Contains(ids, "@SUM(1+1)") || slices.Contains(ids, "'@SUM(1+1)") {
		t.Errorf("csv_formulas keep: customer_id column %q, want @SUM(1+1) as it is", ids)
	}
}

// The CSV copy of a table keeps the Parquet file's row order at a size
// where DuckDB works on it in parallel (here 500,000 rows, 2 threads):
// before writeCSV asked for PRESERVE_ORDER, the escaping projection let
// rows of a large table come out in a different order from run to run.
func TestCSVCopyKeepsRowOrder(t *testing.T) {
	dir := t.TempDir()
	cfg := config.DefaultConfig()
	cfg.Threads = 2
	s, err := openSession(context.Background(), &cfg, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &run{cfg: cfg, s: s}
	ctx := context.Background()
	pq, out := filepath.Join(dir, "t.parquet"), filepath.Join(dir, "t.csv")
	const n = 500_000
	if err := s.exec(ctx, fmt.Sprintf(`COPY (SELECT i AS id, 'name ' || (i %% 97) AS name, '=x' || i AS formula, i * 1.5 AS v
		FROM range(%d) t(i) ORDER BY i) TO %s (FORMAT parquet)`, n, sqlquote.Literal(pq))); err != nil {
		t.Fatal(err)
	}
	if err := r.writeCSV(ctx, pq, out); err != nil {
		t.Fatal(err)
	}
	rows := csvCells(t, out)
	if len(rows) != n+1 {
		t.Fatalf("%d rows in the CSV copy, want %d and a header", len(rows)-1, n)
	}
	for i, row := range rows[1:] {
		if row[0] != strconv.Itoa(i) || row[2] != "'=x"+row[0] {
			t.Fatalf("CSV row %d is %q, want id %d (the Parquet file's order) with its formula escaped", i+1, row, i)
		}
	}
}
