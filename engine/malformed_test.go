package engine

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
)

// TestMalformedInputs runs every case of testdata/malformed: a config, its
// input files and expect.txt, which lists the expected exit code ("exit N")
// and then, for a failed run, fragments of the error message, or for a
// successful one any of:
//
//	reject TABLE REASON COUNT           rows rejected for the reason ("rejects 0": none)
//	null TABLE REASON COUNT             values set to null for the reason, the rows kept
//	example TABLE REASON = VALUE        the reason's example (reject or null) has the value as found
//	separated ROWS GAP_DAYS             the separated block of days warned about
//	no separated block                  no such warning
//	customer ID                         ID is one row of customer_segments
//	customer ID has COLUMN VALUE        ID's COLUMN there is VALUE (as text)
//	no customer ID                      ID is not in customer_segments
//	customers N                         customer_segments has N rows
//	rejected customer_id ID             a rejects row has customer_id ID as found
//	as_of YYYY-MM-DD                    the run's as_of
//	after_as_of transactions|customers N    outside the window of an explicit as_of
//	model NAME error TEXT               the manifest's model NAME was not used, its error containing TEXT
//	backtest revenue over N             the backtest ran, its actual and predicted revenue above N
//	value data insufficient TEXT        the value models' data check failed with a problem containing TEXT:
//	                                    no value figures, every model's error says so, no model-based target
//
// An ID in double quotes is a Go string literal ("\u00a0C1"). Parquet inputs
// are made by the case's make.sql (with -update); "-- truncate: N" there
// cuts the file to N bytes.
func TestMalformedInputs(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "malformed", "*"))
	if err != nil || len(cases) < 25 {
		t.Fatalf("%d malformed cases (%v), want at least 25", len(cases), err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if *update {
				makeCase(t, dir)
			}
			expect, err := os.ReadFile(filepath.Join(dir, "expect.txt"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(expect)), "\n")
			code, err := strconv.Atoi(strings.TrimPrefix(lines[0], "exit "))
			if err != nil {
				t.Fatalf("expect.txt must start with \"exit N\": %q", lines[0])
			}
			out := filepath.Join(t.TempDir(), "out")
			cfg, err := config.LoadConfig(filepath.Join(dir, "config.yaml"))
			var res *Result
			if err == nil {
				cfg.Output = out
				res, err = Run(context.Background(), cfg, Options{})
			}
			if got := cliExitCode(err); got != code {
				t.Fatalf("exit %d, want %d (error: %v)", got, code, err)
			}
			if code != 0 {
				for _, w := range lines[1:] {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not mention %q:\n%v", w, err)
					}
				}
				if _, err := os.Lstat(filepath.Join(out, "latest")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a failed run published outputs")
				}
				return
			}
			checkRunExpectations(t, res, lines[1:])
		})
	}
}

func checkRunExpectations(t *testing.T, res *Result, lines []string) {
	t.Helper()
	q := res.Manifest.Quality
	rejects, nulled := map[string]manifest.RejectCount{}, map[string]manifest.RejectCount{}
	var total int64
	for _, r := range q.Rejects {
		rejects[r.Table+" "+r.Reason] = r
		total += r.Rows
	}
	for _, r := range q.ValuesSetToNull {
		nulled[r.Table+" "+r.Reason] = r
	}
	count := func(query string, args ...any) int {
		t.Helper()
		db := memoryDB(t)
		var n int
		if err := db.QueryRow(query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	segments := filepath.Join(res.Dir, "customer_segments.parquet")
	for _, w := range lines {
		switch {
		case w == "rejects 0":
			if total != 0 {
				t.Errorf("rejects %v, want none", q.Rejects)
			}
		case strings.HasPrefix(w, "reject "):
			if key, n := countLine(w); rejects[key].Rows != n {
				t.Errorf("%s: %d rows rejected, want %d (all: %v)", key, rejects[key].Rows, n, q.Rejects)
			}
		case strings.HasPrefix(w, "null "):
			if key, n := countLine(w); nulled[key].Rows != n {
				t.Errorf("%s: %d values set to null, want %d (all: %v)", key, nulled[key].Rows, n, q.ValuesSetToNull)
			}
		case strings.HasPrefix(w, "example "):
			key, value, _ := strings.Cut(strings.TrimPrefix(w, "example "), " = ")
			rc, ok := rejects[key]
			if !ok {
				rc = nulled[key]
			}
			if ex := rc.Example; ex == nil || ex.Value != value {
				t.Errorf("%s: example %v, want the value %q", key, ex, value)
			}
		case strings.HasPrefix(w, "separated "):
			f := strings.Fields(w)
			rows, _ := strconv.ParseInt(f[1], 10, 64)
			gap, _ := strconv.ParseInt(f[2], 10, 64)
			if b := q.SeparatedBlock; b == nil || b.Rows != rows || b.GapDays != gap {
				t.Errorf("separated block %+v, want %d rows beyond a gap of %d days", b, rows, gap)
			}
		case w == "no separated block":
			if q.SeparatedBlock != nil {
				t.Errorf("separated block %+v, want none", q.SeparatedBlock)
			}
		case strings.HasPrefix(w, "customer ") && strings.Contains(w, " has "):
			id, cv, _ := strings.Cut(strings.TrimPrefix(w, "customer "), " has ")
			col, want, _ := strings.Cut(cv, " ")
			if n := count("SELECT count(*) FROM read_parquet(?) WHERE customer_id = ? AND CAST("+sqlquote.Ident(col)+" AS VARCHAR) = ?",
				segments, expectedID(t, id), want); n != 1 {
				t.Errorf("customer %s: %s is not %s", id, col, want)
			}
		case strings.HasPrefix(w, "customer "):
			id := expectedID(t, strings.TrimPrefix(w, "customer "))
			if n := count("SELECT count(*) FROM read_parquet(?) WHERE customer_id = ?", segments, id); n != 1 {
				t.Errorf("customer %q: found %d times", id, n)
			}
		case strings.HasPrefix(w, "no customer "):
			id := expectedID(t, strings.TrimPrefix(w, "no customer "))
			if n := count("SELECT count(*) FROM read_parquet(?) WHERE customer_id = ?", segments, id); n != 0 {
				t.Errorf("customer %q: found %d times, want none", id, n)
			}
		case strings.HasPrefix(w, "customers "):
			want, _ := strconv.Atoi(strings.TrimPrefix(w, "customers "))
			if n := count("SELECT count(*) FROM read_parquet(?)", segments); n != want {
				t.Errorf("%d customers, want %d", n, want)
			}
		case strings.HasPrefix(w, "rejected customer_id "):
			id := expectedID(t, strings.TrimPrefix(w, "rejected customer_id "))
			if n := count("SELECT count(*) FROM read_parquet(?) WHERE customer_id = ?", filepath.Join(res.Dir, "rejects.parquet"), id); n == 0 {
				t.Errorf("no rejects row with customer_id %q as found", id)
			}
		case strings.HasPrefix(w, "as_of "):
			if want := strings.TrimPrefix(w, "as_of "); res.Manifest.AsOf != want {
				t.Errorf("as_of %s, want %s", res.Manifest.AsOf, want)
			}
		case strings.HasPrefix(w, "after_as_of "):
			f := strings.Fields(w)
			n, _ := strconv.ParseInt(f[2], 10, 64)
			got := map[string]int64{"transactions": q.TransactionsAfterAsOf, "customers": q.CustomersAfterAsOf}
			if g, ok := got[f[1]]; !ok || g != n {
				t.Errorf("%s after as_of: %d, want %d", f[1], g, n)
			}
		case strings.HasPrefix(w, "value data insufficient "):
			want := strings.TrimPrefix(w, "value data insufficient ")
			vd := res.Manifest.ValueData
			if vd == nil || vd.Sufficient || !slices.ContainsFunc(vd.Problems, func(p string) bool { return strings.Contains(p, want) }) {
				t.Errorf("value data check %+v: want it failed with %q", vd, want)
			}
			if n := count(`SELECT count(*) FROM read_parquet(?) WHERE expected_purchases_12m IS NOT NULL OR p_alive IS NOT NULL
				OR p_purchase_12m IS NOT NULL OR expected_spend IS NOT NULL OR predicted_clv_12m IS NOT NULL`, segments); n != 0 {
				t.Errorf("%d customers with value figures from data the models cannot rest on", n)
			}
			for _, m := range res.Manifest.Models {
				if m.Converged || !strings.Contains(m.Error, want) {
					t.Errorf("model %s: converged %v, error %q; want the check's reason", m.Model, m.Converged, m.Error)
				}
			}
			if n := count("SELECT count(*) FROM read_parquet(?) WHERE method <> 'last_12m_projection'", filepath.Join(res.Dir, "segment_targets.parquet")); n != 0 {
				t.Errorf("%d targets from the value models", n)
			}
		case strings.HasPrefix(w, "model ") && strings.Contains(w, " error "):
			name, want, _ := strings.Cut(strings.TrimPrefix(w, "model "), " error ")
			i := slices.IndexFunc(res.Manifest.Models, func(m manifest.ModelRecord) bool { return m.Model == name })
			if i < 0 || res.Manifest.Models[i].Converged || !strings.Contains(res.Manifest.Models[i].Error, want) {
				t.Errorf("models %+v: want %s not used, its error containing %q", res.Manifest.Models, name, want)
			}
		case strings.HasPrefix(w, "backtest revenue over "):
			n, _ := strconv.ParseFloat(strings.TrimPrefix(w, "backtest revenue over "), 64)
			if bt := res.Manifest.Backtest; bt == nil || bt.Error != "" || !(bt.ActualRevenue > n) || !(bt.PredictedRevenue > n) {
				t.Errorf("backtest %+v: want it run, with actual and predicted revenue above %g", bt, n)
			}
		default:
			t.Errorf("unknown expectation %q", w)
		}
	}
}

// expectedID is an ID of expect.txt: as written, or a quoted Go string.
func expectedID(t *testing.T, s string) string {
	t.Helper()
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	id, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("expect.txt: %s: %v", s, err)
	}
	return id
}

// makeCase rebuilds a case's Parquet inputs from its make.sql.
func makeCase(t *testing.T, dir string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "make.sql"))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	db := memoryDB(t)
	abs, _ := filepath.Abs(dir)
	q := strings.ReplaceAll(string(src), "TO '", "TO '"+abs+string(filepath.Separator))
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("make.sql: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(src)))
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "-- truncate: "); ok {
			size, _ := strconv.ParseInt(n, 10, 64)
			if err := os.Truncate(filepath.Join(dir, "transactions.parquet"), size); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// countLine reads an expectation "WORD TABLE WHAT... N" as the key
// "TABLE WHAT..." and the count N.
func countLine(w string) (key string, n int64) {
	f := strings.Fields(w)
	n, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
	return f[1] + " " + strings.Join(f[2:len(f)-1], " "), n
}
