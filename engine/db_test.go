package engine

import (
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
