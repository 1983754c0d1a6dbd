package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
)

// FuzzCSVIngest runs the input checks on an arbitrary transactions CSV. Any
// content must end in success, an input error or rejected rows: never a
// panic or an internal failure (a SQL error would mean an identifier or value
// reached SQL unquoted, or a conversion was not guarded).
func FuzzCSVIngest(f *testing.F) {
	f.Add([]byte("customer_id,ts,amount\nC1,2025-01-01,10\nC2,2025-01-02,-3\n"))
	f.Add([]byte("customer_id,ts,amount,quantity\nC1,2025-01-01T10:00:00+02:00,1e3,2\n"))
	f.Add([]byte("\"customer_id\",\"ts\",\"amount\"\n\"C,1\",\"2025-01-01\",\"nan\"\n"))
	f.Fuzz(func(t *testing.T, content []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "tx.csv")
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := config.DefaultConfig()
		cfg.Inputs.Transactions = config.InputSpec{Path: path}
		cfg.Output = filepath.Join(dir, "out")
		_, err := Validate(context.Background(), cfg, Options{})
		if err != nil && cliExitCode(err) != exitRejected {
			t.Fatalf("input %q: %v (exit %d), want success or exit %d", content, err, cliExitCode(err), exitRejected)
		}
	})
}
