package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzDecodeConfig feeds arbitrary documents to the config decoder: it must
// never panic, a problem must come back as an error, and a config that
// validates must survive a YAML round trip and still validate.
func FuzzDecodeConfig(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "config", "*.yaml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultConfig()
		if err := DecodeConfig(data, &cfg); err != nil {
			return
		}
		err := cfg.Validate()
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("Validate returned %T %v, want a *ConfigError with problems", err, err)
			}
			return
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal a valid config: %v", err)
		}
		again := DefaultConfig()
		if err := DecodeConfig(out, &again); err != nil {
			t.Fatalf("decode a marshalled valid config: %v\n%s", err, out)
		}
		if err := again.Validate(); err != nil {
			t.Fatalf("a valid config is invalid after a round trip: %v\n%s", err, out)
		}
	})
}

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
		cfg := DefaultConfig()
		cfg.Inputs.Transactions = InputSpec{Path: path}
		cfg.Output = filepath.Join(dir, "out")
		_, err := Validate(context.Background(), cfg, Options{})
		if err != nil && ExitCode(err) != ExitRejected {
			t.Fatalf("input %q: %v (exit %d), want success or exit %d", content, err, ExitCode(err), ExitRejected)
		}
	})
}
