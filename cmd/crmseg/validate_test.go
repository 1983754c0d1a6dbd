package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateReportsTimestampRules: validate names the rows the timestamp
// rules caught, how many and an example, and the rows and customers outside
// the window of an explicit as_of, which are not in the reject share.
func TestValidateReportsTimestampRules(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("customer_id,ts,amount\n")
	for i := range 40 {
		b.WriteString("C" + string(rune('a'+i%20)) + ",2025-0" + string(rune('1'+i%6)) + "-15,10\n")
	}
	b.WriteString("Cz,9999-12-31 23:59:59,5\nCa,0001-01-01,5\n")
	tx := filepath.Join(dir, "tx.csv")
	if err := os.WriteFile(tx, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("inputs:\n  transactions: tx.csv\ntoday: \"2025-07-01\"\nrejects:\n  max_share: 0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "validate", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{
		"42 read, 40 accepted, 2 rejected",
		"timestamp in the future                    1  " + tx + ` row 41, ts "9999-12-31 23:59:59"`,
		"timestamp far outside the data             1  " + tx + ` row 42, ts "0001-01-01"`,
		"as_of 2025-06-15",
		"customers: 20 ",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("summary lacks %q:\n%s", w, stdout)
		}
	}

	// Replayed as of 2025-03-31: the later rows are outside the window.
	code, stdout, stderr = run(t, "validate", "--config", cfg, "--as-of", "2025-03-31")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	for _, w := range []string{
		// 21 rows up to as_of, 20 after it (the 9999 row among them).
		"42 read, 21 accepted, 1 rejected (4.55%",
		// Four customers, Cz among them, bought only after as_of.
		"outside the window (after as_of 2025-03-31, not rejected): 20 transaction rows; 4 customers, not yet customers then",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("replay summary lacks %q:\n%s", w, stdout)
		}
	}
}
