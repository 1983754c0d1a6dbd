package store

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/internal/sqlquote"
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
	if _, err := db.Exec("ATTACH " + sqlquote.Literal(path) + " AS h (READ_ONLY)"); err != nil {
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
	return startHelper(t, "TestHistoryReaderProcess", "attached",
		"CRMSEG_HISTORY_READER="+path, "CRMSEG_HISTORY_READER_HOLD="+hold.String())
}

// startHelper runs this test binary's helper process test with env added,
// and waits for the line ready on its output; the process is killed when
// the test ends.
func startHelper(t *testing.T, test, ready string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != ready+"\n" {
		t.Fatalf("helper process %s: %q, %v", test, line, err)
	}
	return cmd
}

// A reader holding the history open makes a run's record wait for it
// rather than lose the night's record; one that holds it longer than the
// wait costs the record, with a HistoryError naming the file.
func TestHistoryWaitsForReader(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	path := filepath.Join(out, HistoryFile)
	record := func(id string) error {
		t.Helper()
		m := &manifest.Manifest{RunID: id, StartedAt: "2026-07-01T02:00:00Z"}
		_, err := RecordRun(ctx, nil, out, Record{Manifest: m, Started: time.Now(), Finished: time.Now(), Err: errors.New("failed"), ExitCode: 1})
		return err
	}
	runs := func() int64 {
		t.Helper()
		var n int64
		if err := readHistory(ctx, out, func(c *sql.Conn, _ int) error {
			return c.QueryRowContext(ctx, "SELECT count(*) FROM "+sqlquote.Ident(historyAlias)+".runs").Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := record("20260701T020000Z-aaaaaa"); err != nil {
		t.Fatal(err)
	}

	startHistoryReader(t, path, 1500*time.Millisecond)
	if err := record("20260701T030000Z-aaaaaa"); err != nil {
		t.Fatalf("record while a reader held the history for 1.5 s: %v", err)
	}
	if n := runs(); n != 2 {
		t.Errorf("%d runs recorded, want 2", n)
	}

	prev := historyWait
	historyWait = 300 * time.Millisecond
	defer func() { historyWait = prev }()
	startHistoryReader(t, path, 10*time.Second)
	err := record("20260701T040000Z-aaaaaa")
	var he *HistoryError
	if !errors.As(err, &he) || he.Path != path || !strings.Contains(he.Op, "another process kept it open") {
		t.Fatalf("record while a reader held the history past the wait: %v; want a HistoryError naming %s", err, path)
	}
}

// A file that is not a DuckDB database is not waited for: the error says
// at once that it cannot be opened.
func TestHistoryNotADatabase(t *testing.T) {
	out := t.TempDir()
	path := filepath.Join(out, HistoryFile)
	if err := os.WriteFile(path, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := List(context.Background(), out)
	var he *HistoryError
	if !errors.As(err, &he) || he.Path != path || he.Op != "open it (not a readable DuckDB file?)" {
		t.Fatalf("List of a damaged history: %v, want a HistoryError that it is not a DuckDB file, found at once", err)
	}
}
