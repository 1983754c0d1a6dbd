package engine

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/crmseg/crmseg/engine/manifest"
)

// queryInt runs a query that returns one integer on a fresh in-memory
// DuckDB, for reading inputs and published files independently of a run.
func queryInt(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	db := memoryDB(t)
	var n int64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestReplayEarlierAsOf replays the generated data (which runs to
// 2026-06-30) as of 2025-12-31, as an analyst rebuilding last year's plan
// would: the rows after as_of are outside the window, not rejects, and the
// customers who signed up later are not customers yet, so no segment is
// made of them.
func TestReplayEarlierAsOf(t *testing.T) {
	data := generatedData(t, 3000, 0)
	cfg := generatedConfig(t, data, t.TempDir())
	cfg.Segmentation.NInit = 1
	cfg.AsOf = "2025-12-31"
	tx, customers := cfg.Inputs.Transactions.Path, cfg.Inputs.Customers.Path
	after := queryInt(t, "SELECT count(*) FROM read_parquet(?) WHERE ts >= DATE '2026-01-01'", tx)
	total := queryInt(t, "SELECT count(*) FROM read_parquet(?)", tx)
	// Not yet customers: signed up after as_of, no transaction up to it.
	later := queryInt(t, `SELECT count(*) FROM read_parquet(?) AS c
		WHERE c.signup_date > DATE '2025-12-31' AND NOT EXISTS (
			SELECT 1 FROM read_parquet(?) AS t WHERE t.customer_id = c.customer_id AND t.ts < DATE '2026-01-01')`, customers, tx)
	if after*20 <= total || later == 0 {
		t.Fatalf("the generated data has %d of %d rows and %d sign-ups after as_of: not a replay", after, total, later)
	}

	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatalf("replay as of %s: %v (exit %d)", cfg.AsOf, err, cliExitCode(err))
	}
	q := res.Manifest.Quality
	if q.TransactionsAfterAsOf != after || q.CustomersAfterAsOf != later {
		t.Errorf("after as_of: %d rows and %d customers, want %d and %d", q.TransactionsAfterAsOf, q.CustomersAfterAsOf, after, later)
	}
	var rejected int64
	for _, rc := range q.Rejects {
		if rc.Table == "transactions" {
			rejected += rc.Rows
		}
	}
	if q.TransactionsAccepted+rejected+after != total {
		t.Errorf("%d accepted + %d rejected + %d after as_of, want the %d rows read", q.TransactionsAccepted, rejected, after, total)
	}
	segs := filepath.Join(res.Dir, "customer_segments.parquet")
	if n := queryInt(t, "SELECT count(*) FROM read_parquet(?)", segs); n != int64(q.Segmentation.Customers) || n+later != 3000 {
		t.Errorf("%d customers published (%d segmented), want 3000 less the %d later sign-ups", n, q.Segmentation.Customers, later)
	}
	if n := queryInt(t, `SELECT count(*) FROM read_parquet(?) AS s JOIN read_parquet(?) AS c USING (customer_id)
		WHERE c.signup_date > DATE '2025-12-31' AND s.frequency = 0`, segs, customers); n != 0 {
		t.Errorf("%d customers who signed up after as_of without a purchase were segmented", n)
	}
	if n := queryInt(t, "SELECT count(*) FROM read_parquet(?) WHERE last_order_date > DATE '2025-12-31'", segs); n != 0 {
		t.Errorf("%d customers with an order after as_of", n)
	}
	// No segment of customers without a purchase: the later sign-ups made
	// one ("Low-value lapsed") before.
	if n := queryInt(t, `SELECT count(*) FROM (SELECT segment_id FROM read_parquet(?)
		GROUP BY segment_id HAVING count(*) FILTER (WHERE frequency > 0) = 0)`, segs); n != 0 {
		t.Errorf("%d segments without a buying customer", n)
	}
}

// TestDefaultAsOfIgnoresStrayTimestamps adds three stray rows to the
// generated data (9999-12-31, a year typo 2062 and 0001-01-01): under the
// default as_of they are rejected with their own reasons and as_of stays at
// the data's last day, which the generated data alone reaches without
// losing a row to the new rules.
func TestDefaultAsOfIgnoresStrayTimestamps(t *testing.T) {
	data := generatedData(t, 3000, 0)
	cfg := generatedConfig(t, data, t.TempDir())
	cfg.Today = "2026-07-01"
	clean, err := Validate(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range clean.Rejects {
		if rc.Reason == "timestamp in the future" || rc.Reason == "timestamp far outside the data" {
			t.Errorf("generated data: %d rows %s (%s)", rc.Rows, rc.Reason, rc.Example)
		}
	}
	if clean.AsOf != "2026-06-30" {
		t.Fatalf("generated data: as_of %s, want 2026-06-30", clean.AsOf)
	}

	stray := filepath.Join(t.TempDir(), "transactions.parquet")
	db := memoryDB(t)
	if _, err := db.Exec(`COPY (
		SELECT * FROM read_parquet(?)
		UNION ALL SELECT * REPLACE (TIMESTAMP '9999-12-31 23:59:59' AS ts, -1 AS transaction_id) FROM (FROM read_parquet(?) LIMIT 1)
		UNION ALL SELECT * REPLACE (TIMESTAMP '2062-06-30 12:00:00' AS ts, -2 AS transaction_id) FROM (FROM read_parquet(?) LIMIT 1)
		UNION ALL SELECT * REPLACE (TIMESTAMP '0001-01-01 00:00:00' AS ts, -3 AS transaction_id) FROM (FROM read_parquet(?) LIMIT 1)
	) TO '`+stray+`' (FORMAT parquet)`, cfg.Inputs.Transactions.Path, cfg.Inputs.Transactions.Path,
		cfg.Inputs.Transactions.Path, cfg.Inputs.Transactions.Path); err != nil {
		t.Fatal(err)
	}
	cfg.Inputs.Transactions.Path = stray
	v, err := Validate(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v.AsOf != "2026-06-30" {
		t.Errorf("as_of %s with stray rows, want 2026-06-30", v.AsOf)
	}
	got := map[string]manifest.RejectCount{}
	for _, rc := range v.Rejects {
		got[rc.Reason] = rc
	}
	if rc := got["timestamp in the future"]; rc.Rows != 2 || rc.Example == nil || rc.Example.Row != clean.TransactionsRead+1 {
		t.Errorf("timestamp in the future: %+v (example %v), want rows 9999 and 2062, the first at row %d", rc, rc.Example, clean.TransactionsRead+1)
	}
	if rc := got["timestamp far outside the data"]; rc.Rows != 1 || rc.Example == nil || rc.Example.Value != "0001-01-01 00:00:00" {
		t.Errorf("timestamp far outside the data: %+v (example %v), want the row of 0001-01-01", rc, rc.Example)
	}
	if v.TransactionsAccepted != clean.TransactionsAccepted {
		t.Errorf("%d rows accepted with the stray rows, %d without", v.TransactionsAccepted, clean.TransactionsAccepted)
	}
}
