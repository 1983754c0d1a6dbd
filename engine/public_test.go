package engine

import (
	"context"
	"database/sql"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData returns the directory of the public datasets: $CRMSEG_SHARED_DATA,
// or ../shared/data beside the project. Tests that need it skip when absent.
func sharedData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CRMSEG_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Skipf("public datasets not found at %s (set CRMSEG_SHARED_DATA): %v", dir, err)
	}
	return dir
}

// publicConfig loads a config of datasets/public, pointing its inputs at the
// shared data directory in use and its output at a temporary directory.
func publicConfig(t *testing.T, name string) Config {
	t.Helper()
	data := sharedData(t)
	cfg, err := LoadConfig(filepath.Join("..", "datasets", "public", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []*InputSpec{&cfg.Inputs.Customers, &cfg.Inputs.Transactions, &cfg.Inputs.Products} {
		if spec.Path == "" {
			continue
		}
		_, rel, ok := strings.Cut(filepath.ToSlash(spec.Path), "shared/data/")
		if !ok {
			t.Fatalf("%s: input %s is not under shared/data", name, spec.Path)
		}
		spec.Path = filepath.Join(data, rel)
	}
	cfg.Output = t.TempDir()
	return cfg
}

type publicRun struct {
	res *Result
	db  *sql.DB
}

func runPublic(t *testing.T, name string) *publicRun {
	t.Helper()
	cfg := publicConfig(t, name)
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, tbl := range outputTables {
		if _, err := db.Exec("CREATE VIEW " + tbl.name + " AS SELECT * FROM read_parquet(" + quoteLiteral(filepath.Join(res.Dir, tbl.name+".parquet")) + ")"); err != nil {
			t.Fatal(err)
		}
	}
	return &publicRun{res: res, db: db}
}

func (p *publicRun) int(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := p.db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n.Int64
}

func (p *publicRun) float(t *testing.T, q string, args ...any) float64 {
	t.Helper()
	var v sql.NullFloat64
	if err := p.db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v.Float64
}

func (p *publicRun) read(t *testing.T, table string) int64 {
	t.Helper()
	var n int64
	for _, in := range p.res.Manifest.Inputs {
		if in.Table == table {
			n += in.Rows
		}
	}
	return n
}

func TestPublicOnlineRetail(t *testing.T) {
	p := runPublic(t, "online_retail")
	csv := quoteLiteral(filepath.Join(sharedData(t), "online_retail", "online_retail.csv.gz"))
	src := "(SELECT *, ordinality AS source_row FROM read_csv(" + csv + ", header = true, all_varchar = true) WITH ORDINALITY)"

	if n := p.read(t, "transactions"); n != 541909 {
		t.Errorf("read %d invoice lines, want 541,909", n)
	}
	if n := p.int(t, "SELECT count(*) FROM rejects WHERE reason = 'missing customer_id'"); n != 135080 {
		t.Errorf("%d lines rejected for a missing customer, want 135,080", n)
	}
	if n := p.int(t, "SELECT count(*) FROM customer_segments"); n != 4372 {
		t.Errorf("%d customers, want 4,372", n)
	}
	// The stated rule for the three bad-debt adjustments: no customer, rejected.
	if n := p.int(t, "SELECT count(*) FROM "+src+" AS s JOIN rejects AS r ON s.source_row = r.source_row WHERE s.InvoiceNo LIKE 'A%' AND r.reason = 'missing customer_id'"); n != 3 {
		t.Errorf("%d bad-debt adjustment lines rejected for a missing customer, want 3", n)
	}
	// Cancelled invoices with a customer are returns, never rejected.
	if n := p.int(t, "SELECT count(*) FROM "+src+" AS s JOIN rejects AS r ON s.source_row = r.source_row WHERE s.InvoiceNo LIKE 'C%' AND s.CustomerID IS NOT NULL"); n != 0 {
		t.Errorf("%d cancelled-invoice lines with a customer rejected, want 0 (they are returns)", n)
	}
	zero := p.int(t, "SELECT count(*) FROM "+src+" WHERE CustomerID IS NOT NULL AND Quantity::DOUBLE * UnitPrice::DOUBLE = 0")
	if n := p.int(t, "SELECT count(*) FROM rejects WHERE reason = 'zero amount'"); n != zero || zero == 0 {
		t.Errorf("%d lines rejected for a zero amount, want %d", n, zero)
	}
	// Net revenue, returns included, adds up to the export's own total over
	// the lines with a customer (to the cent per customer).
	want := p.float(t, "SELECT sum(Quantity::DECIMAL(18,4) * UnitPrice::DECIMAL(18,4))::DOUBLE FROM "+src+" WHERE CustomerID IS NOT NULL")
	got := p.float(t, "SELECT sum(historical_value)::DOUBLE FROM customer_segments")
	if d := got - want; d > 0.005*4372 || d < -0.005*4372 {
		t.Errorf("total historical value %.2f, the export's lines with a customer sum to %.2f", got, want)
	}
	if n := p.int(t, "SELECT count(*) FROM customer_segments WHERE customer_id LIKE '%.0'"); n != 0 {
		t.Errorf("%d customer ids still written as floats", n)
	}
}

func TestPublicCDNOW(t *testing.T) {
	for _, c := range []struct {
		config          string
		rows, customers int64
	}{
		{"cdnow_master", 69659, 23570},
		{"cdnow_sample", 6919, 2357},
	} {
		t.Run(c.config, func(t *testing.T) {
			p := runPublic(t, c.config)
			if n := p.read(t, "transactions"); n != c.rows {
				t.Errorf("read %d transactions, want %d", n, c.rows)
			}
			if n := p.int(t, "SELECT count(*) FROM customer_segments"); n != c.customers {
				t.Errorf("%d customers, want %d", n, c.customers)
			}
			if p.res.Manifest.AsOf != "1998-06-30" {
				t.Errorf("as_of %s, want the last purchase date 1998-06-30", p.res.Manifest.AsOf)
			}
			if n := p.int(t, "SELECT count(*) FROM rejects WHERE reason <> 'zero amount'"); n != 0 {
				t.Errorf("%d rows rejected for another reason than a zero amount", n)
			}
		})
	}
}

func TestPublicCompleteJourney(t *testing.T) {
	p := runPublic(t, "completejourney")
	data := sharedData(t)
	demo := quoteLiteral(filepath.Join(data, "completejourney", "demographics.csv"))
	tx := quoteLiteral(filepath.Join(data, "completejourney", "transactions_sample.csv.gz"))
	if n := p.read(t, "transactions"); n != 75000 {
		t.Errorf("read %d basket lines, want 75,000", n)
	}
	if n := p.read(t, "customers"); n != 801 {
		t.Errorf("read %d households with demographics, want 801", n)
	}
	want := p.int(t, "SELECT count(*) FROM (SELECT household_id::VARCHAR FROM read_csv("+demo+") UNION SELECT household_id::VARCHAR FROM read_csv("+tx+"))")
	if n := p.int(t, "SELECT count(*) FROM customer_segments"); n != want {
		t.Errorf("%d customers, want %d (households with demographics or purchases)", n, want)
	}
	if n := p.int(t, "SELECT count(*) FROM rejects WHERE reason = 'unknown customer'"); n != 0 {
		t.Errorf("%d lines rejected as unknown customers although unknown customers are kept", n)
	}
	// The demographics take part in the clustering: some segment stands
	// apart on an attribute.
	if n := p.int(t, "SELECT count(*) FROM segments WHERE traits SIMILAR TO '.*(age|income|home_ownership|marital_status|household_comp)=.*'"); n == 0 {
		t.Errorf("no segment's traits name a demographic attribute")
	}
	if n := p.int(t, "SELECT count(DISTINCT dimension) FROM segment_metrics WHERE metric = 'channel_share'"); n != 1 {
		t.Errorf("%d channel dimensions, want 1 (unknown: the export has no channel)", n)
	}
}

// TestPublicCDNOWCalibration runs the CDNOW sample as of the end of the
// calibration period used in the literature (1997-09-30; later purchases
// are rejected as after as_of) and checks the pipeline's BG/NBD and
// Gamma-Gamma fits against the published values (../shared/data/README.md),
// from the pipeline's own purchase histories (same-day purchases merged,
// weeks). The sample holds 8 purchases of $0.00 that the row checks reject
// as zero amounts and the published fit counts, so BG/NBD is held to 1% of
// the published parameters and 5 of the log-likelihood (-9578.2 against
// -9582.4 here); the exact published values are checked in the scoring
// package on the published calibration summary.
func TestPublicCDNOWCalibration(t *testing.T) {
	cfg := publicConfig(t, "cdnow_sample")
	cfg.AsOf = "1997-09-30"
	cfg.Rejects.MaxShare = 1
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]float64{
		"bg_nbd":      {"r": 0.2425945, "alpha": 4.4136019, "a": 0.7929199, "b": 2.4258881},
		"gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
	}
	wantLL := map[string]float64{"bg_nbd": -9582.429, "gamma_gamma": -4055.9177}
	tolLL := map[string]float64{"bg_nbd": 5, "gamma_gamma": 0.01}
	if len(res.Manifest.Models) != 2 {
		t.Fatalf("models %+v", res.Manifest.Models)
	}
	for _, m := range res.Manifest.Models {
		if !m.Converged || m.Error != "" {
			t.Errorf("%s: not converged: %s", m.Model, m.Error)
			continue
		}
		if math.Abs(float64(m.LogLik)-wantLL[m.Model]) > tolLL[m.Model] {
			t.Errorf("%s: log-likelihood %.4f, published %.4f", m.Model, float64(m.LogLik), wantLL[m.Model])
		}
		for name, v := range want[m.Model] {
			got, ok := m.Params[name]
			// Gamma-Gamma is published to two decimals.
			tol := 0.01 * math.Abs(v)
			if m.Model == "gamma_gamma" {
				tol = 0.01
			}
			if !ok || math.Abs(got-v) > tol {
				t.Errorf("%s %s = %v, published %v", m.Model, name, got, v)
			}
		}
	}
}
