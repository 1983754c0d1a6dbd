package engine

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMalformedInputs runs every case of testdata/malformed: a config, its
// input files and expect.txt, which lists the expected exit code ("exit N")
// and then, for a failed run, fragments of the error message, or for a
// successful one the expected rejects ("reject TABLE REASON COUNT",
// "rejects 0") and customers ("customer ID"). Parquet inputs are made by the
// case's make.sql (with -update); "-- truncate: N" there cuts the file to N
// bytes.
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
			cfg, err := LoadConfig(filepath.Join(dir, "config.yaml"))
			var res *Result
			if err == nil {
				cfg.Output = out
				res, err = Run(context.Background(), cfg, Options{})
			}
			if got := ExitCode(err); got != code {
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
	rejects := map[string]int64{}
	var total int64
	for _, r := range res.Manifest.Quality.Rejects {
		rejects[r.Table+" "+r.Reason] = r.Rows
		total += r.Rows
	}
	for _, w := range lines {
		switch {
		case w == "rejects 0":
			if total != 0 {
				t.Errorf("rejects %v, want none", res.Manifest.Quality.Rejects)
			}
		case strings.HasPrefix(w, "reject "):
			f := strings.Fields(w)
			n, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			key := f[1] + " " + strings.Join(f[2:len(f)-1], " ")
			if rejects[key] != n {
				t.Errorf("%s: %d rows rejected, want %d (all: %v)", key, rejects[key], n, res.Manifest.Quality.Rejects)
			}
		case strings.HasPrefix(w, "customer "):
			db, err := sql.Open("duckdb", "")
			if err != nil {
				t.Fatal(err)
			}
			var n int
			err = db.QueryRow("SELECT count(*) FROM read_parquet(?) WHERE customer_id = ?",
				filepath.Join(res.Dir, "customer_segments.parquet"), strings.TrimPrefix(w, "customer ")).Scan(&n)
			db.Close()
			if err != nil || n != 1 {
				t.Errorf("%s: found %d times (%v)", w, n, err)
			}
		default:
			t.Errorf("unknown expectation %q", w)
		}
	}
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
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
