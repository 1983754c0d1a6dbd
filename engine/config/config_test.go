package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestConfigFiles loads every testdata/config/*.good.yaml, which must be
// valid, and every *.bad.yaml, whose "# error:" lines list messages the
// error must contain, and whose "# problems: N" line, if any, says how
// many problems the one error reports: every one at once.
func TestConfigFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no config test files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := LoadConfig(f)
			if err == nil {
				err = cfg.Validate()
			}
			if strings.HasSuffix(f, ".good.yaml") {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if !strings.HasPrefix(cfg.Inputs.Transactions.Path, filepath.Dir(f)+string(filepath.Separator)) {
					t.Errorf("transactions path %q not resolved against the config's directory", cfg.Inputs.Transactions.Path)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error, got none")
			}
			if !isConfigError(err) {
				t.Errorf("%T %v, want a *ConfigError", err, err)
			}
			src, _ := os.ReadFile(f)
			var wants int
			for _, line := range strings.Split(string(src), "\n") {
				if w, ok := strings.CutPrefix(line, "# error: "); ok {
					wants++
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not contain %q:\n%v", w, err)
					}
				}
				if n, ok := strings.CutPrefix(line, "# problems: "); ok {
					var ce *ConfigError
					if !errors.As(err, &ce) || fmt.Sprint(len(ce.Problems)) != n {
						t.Errorf("want %s problems reported at once, got:\n%v", n, err)
					}
				}
			}
			if wants == 0 {
				t.Fatal("bad config file lists no expected error")
			}
		})
	}
}

func TestConfigFullFileValues(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("testdata", "full.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sg := cfg.Segmentation
	if sg.K != 8 || sg.NInit != 5 || sg.MaxIter != 100 || len(sg.Features) != 2 || sg.Features[1].Weight != 2 ||
		sg.Features[0].Method != "robust" || sg.CategoryMixWeight != 0 || sg.DemographicWeight != 0.25 {
		t.Errorf("segmentation decoded as %+v", sg)
	}
	if cfg.Targets.Objectives[3] != "cross_sell" || cfg.Targets.Uplift["retention"]["retention_12m"] != 0.02 {
		t.Errorf("targets decoded as %+v", cfg.Targets)
	}
	if cfg.Value.Model != ModelMBGNBD || cfg.Value.SpendModel != SpendFirstOrder {
		t.Errorf("value decoded as %+v", cfg.Value)
	}
	if d := DefaultConfig().Value.SpendModel; d != ModelAuto {
		t.Errorf("value.spend_model defaults to %q, want auto", d)
	}
	// Keys the file does not set keep their defaults.
	if _, ok := cfg.Targets.Uplift["cross_sell"]; !ok {
		t.Errorf("default uplift for cross_sell lost when the file sets only retention's")
	}
}

func TestMemoryLimitSizes(t *testing.T) {
	for _, v := range []string{"4GB", "512MB", "2GiB", "1.5 GB", "64mb", "100000000B"} {
		if !memorySize.MatchString(v) {
			t.Errorf("memory_limit %q refused, want accepted", v)
		}
	}
	for _, v := range []string{"banana", "-3GB", "4", "GB", "4 PB", "80%", "1e9GB"} {
		if memorySize.MatchString(v) {
			t.Errorf("memory_limit %q accepted, want refused", v)
		}
	}
}

func TestMemoryBytes(t *testing.T) {
	for size, want := range map[string]int64{"4GB": 4e9, "512MiB": 512 << 20, "1.5 GB": 1.5e9, "64mb": 64e6, "2 GiB": 2 << 30} {
		if got, ok := MemoryBytes(size); !ok || got != want {
			t.Errorf("MemoryBytes(%q) = %d, %v; want %d", size, got, ok, want)
		}
	}
	if _, ok := MemoryBytes("banana"); ok {
		t.Error(`MemoryBytes("banana") accepted`)
	}
}

// Every memory_limit DuckDB cannot use is refused with the rest of the
// configuration (exit 2), before any input is read: no unit, a unit
// DuckDB lacks, a sign, zero, less than a run can work in, beyond any
// machine.
func TestMemoryLimitValidated(t *testing.T) {
	for _, v := range []string{"lots", "0", "1PB", "-1GB", "0GB", "0.5B", "1MB", "99999999TB"} {
		cfg := DefaultConfig()
		cfg.Inputs.Transactions.Path = "tx.parquet"
		cfg.MemoryLimit = v
		err := cfg.Validate()
		if !isConfigError(err) || !strings.Contains(fmt.Sprint(err), fmt.Sprintf("memory_limit: expected a size from 64MB up, such as 4GB, 512MB or 2GiB, found %q", v)) {
			t.Errorf("memory_limit %q: %v, want a configuration error naming it", v, err)
		}
	}
	for _, v := range []string{"64MB", "200 mb", "4GB", "2GiB"} {
		cfg := DefaultConfig()
		cfg.Inputs.Transactions.Path = "tx.parquet"
		cfg.MemoryLimit = v
		if err := cfg.Validate(); err != nil {
			t.Errorf("memory_limit %q refused: %v", v, err)
		}
	}
}

// FuzzDecodeConfig feeds arbitrary documents to the config decoder: it must
// never panic, a problem must come back as an error, and a config that
// validates must survive a YAML round trip and still validate.
func FuzzDecodeConfig(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
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

func isConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}
