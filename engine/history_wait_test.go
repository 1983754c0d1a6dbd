package engine

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestHistoryReaderProcess holds a history file open read-only for the
// time in CRMSEG_HISTORY_READER_HOLD, as a dashboard would.
func TestHistoryReaderProcess(t *testing.T) {
	path := os.Getenv("CRMSEG_HISTORY_READER")
	if path == "" {
		t.Skip("helper process for TestHistoryWaitsForReader")
	}
	hold, _ := time.ParseDuration(os.Getenv("CRMSEG_HISTORY_READER_HOLD"))
	db, err := sql.Open("duckdb", "")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if _, err := db.Exec("ATTACH " + quoteLiteral(path) + " AS h (READ_ONLY)"); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("attached")
	time.Sleep(hold)
	db.Close()
	os.Exit(0)
}

// startHistoryReader starts a process that holds the history at path open
// for hold.
func startHistoryReader(t *testing.T, path string, hold time.Duration) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHistoryReaderProcess$")
	cmd.Env = append(os.Environ(), "CRMSEG_HISTORY_READER="+path, "CRMSEG_HISTORY_READER_HOLD="+hold.String())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "attached\n" {
		t.Fatalf("reader process: %q, %v", line, err)
	}
	return cmd
}

// A reader holding the history open makes a run wait for it rather than
// lose the night's record; one that holds it longer than the run waits
// costs the record, reported, and never the published run.
func TestHistoryWaitsForReader(t *testing.T) {
	data := generatedData(t, 2000, 0)
	out := t.TempDir()
	cfg := generatedConfig(t, data, out)
	cfg.Segmentation.NInit = 1
	path := filepath.Join(out, HistoryFile)
	runs := func() int64 {
		t.Helper()
		var n int64
		if err := readHistory(context.Background(), out, func(c *sql.Conn, _ int) error {
			return c.QueryRowContext(context.Background(), "SELECT count(*) FROM "+quoteIdent(historyAlias)+".runs WHERE status = 'succeeded'").Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := Run(context.Background(), cfg, Options{}); err != nil {
		t.Fatal(err)
	}

	startHistoryReader(t, path, 1500*time.Millisecond)
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil || res.HistoryErr != nil {
		t.Fatalf("run while a reader held the history for 1.5 s: %v, history: %v", err, res.HistoryErr)
	}
	if n := runs(); n != 2 {
		t.Errorf("%d runs recorded, want 2", n)
	}

	prev := historyWait
	historyWait = 300 * time.Millisecond
	defer func() { historyWait = prev }()
	startHistoryReader(t, path, 10*time.Second)
	res, err = Run(context.Background(), cfg, Options{})
	var he *HistoryError
	if err != nil || !errors.As(res.HistoryErr, &he) || !he.Published || he.Path != path {
		t.Fatalf("run while a reader held the history past the wait: %v, history error %v; want a published run and a HistoryError naming %s", err, res.HistoryErr, path)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "manifest.json")); err != nil {
		t.Errorf("the run is not published: %v", err)
	}
}
