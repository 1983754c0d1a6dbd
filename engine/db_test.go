package engine

import (
	"cmp"
	"context"
	"database/sql/driver"
	"log/slog"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/config"
)

// The Appender writes its rows when it is closed: a failure there (here a
// duplicate key) fails appendRows rather than leave the table short.
func TestAppendRowsReportsFlush(t *testing.T) {
	cfg := config.DefaultConfig()
	s, err := openSession(context.Background(), &cfg, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.exec(context.Background(), "CREATE TABLE t (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	err = s.appendRows("t", [][]driver.Value{{int32(1)}, {int32(1)}})
	if err == nil || !strings.Contains(err.Error(), "appender for t") {
		t.Errorf("appending a duplicate key: %v, want the appender's error", err)
	}
	n, err := s.queryInt(context.Background(), "SELECT count(*) FROM t")
	if err != nil || n != 0 {
		t.Errorf("table holds %d rows (%v) after a failed append, want none", n, err)
	}
}

// The limits a run lowers DuckDB's to for a while (goPhaseMemory,
// computedViewMemory) are their budgets, or the run's own limit where that
// is lower: never above what the configuration allows. DuckDB takes each.
func TestTemporaryLimitsNotAboveTheRuns(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ configured, goPhase, view string }{
		{"2GB", "256MiB", "512MiB"},
		{"300MB", "256MiB", ""},
		{"100MB", "", ""},
	} {
		cfg := config.DefaultConfig()
		cfg.MemoryLimit = c.configured
		s, err := openSession(ctx, &cfg, t.TempDir(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		own, _ := config.MemoryBytes(s.memoryLimit)
		for _, l := range []struct{ name, got, want string }{
			{"goPhaseMemory", s.goPhaseMemory(), c.goPhase},
			{"computedViewMemory", s.computedViewMemory(), c.view},
		} {
			want := cmp.Or(l.want, s.memoryLimit)
			if l.got != want {
				t.Errorf("memory_limit %s: %s = %q, want %q", c.configured, l.name, l.got, want)
			}
			restore, err := s.lowerMemoryLimit(ctx, l.got)
			if err != nil {
				t.Fatalf("memory_limit %s: setting %s (%s): %v", c.configured, l.name, l.got, err)
			}
			var set string
			if err := s.conn.QueryRowContext(ctx, "SELECT current_setting('memory_limit')").Scan(&set); err != nil {
				t.Fatal(err)
			}
			if n, ok := config.MemoryBytes(set); !ok || n > own {
				t.Errorf("memory_limit %s: %s set DuckDB's limit to %s, above the run's %s", c.configured, l.name, set, s.memoryLimit)
			}
			if err := restore(); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
	}
}
