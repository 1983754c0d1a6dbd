//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/crmseg/crmseg/engine/manifest"
)

// TestHistoryFlickerProcess takes and releases a write lock on the file in
// CRMSEG_HISTORY_FLICKER every 3 ms for CRMSEG_HISTORY_FLICKER_FOR, as
// brief readers one after another would.
func TestHistoryFlickerProcess(t *testing.T) {
	path := os.Getenv("CRMSEG_HISTORY_FLICKER")
	if path == "" {
		t.Skip("helper process for TestHistoryWaitsForBriefHolders")
	}
	d, _ := time.ParseDuration(os.Getenv("CRMSEG_HISTORY_FLICKER_FOR"))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("flickering")
	for end := time.Now().Add(d); time.Now().Before(end); {
		lk := syscall.Flock_t{Type: syscall.F_WRLCK}
		syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk)
		time.Sleep(3 * time.Millisecond)
		lk.Type = syscall.F_UNLCK
		syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
		time.Sleep(3 * time.Millisecond)
	}
	os.Exit(0)
}

// A history that other processes hold and let go of in quick turns is
// waited for, never taken for a damaged file: the lock may be gone by the
// time it is asked about.
func TestHistoryWaitsForBriefHolders(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	path := filepath.Join(out, HistoryFile)
	m := &manifest.Manifest{RunID: "20260701T020000Z-aaaaaa"}
	rec := Record{Manifest: m, Started: time.Now(), Finished: time.Now(), Err: errors.New("failed"), ExitCode: 1}
	if _, err := RecordRun(ctx, nil, out, rec); err != nil {
		t.Fatal(err)
	}
	startHelper(t, "TestHistoryFlickerProcess", "flickering", "CRMSEG_HISTORY_FLICKER="+path, "CRMSEG_HISTORY_FLICKER_FOR=2s")
	for i := range 5 {
		m.RunID = fmt.Sprintf("20260701T03000%dZ-aaaaaa", i)
		if _, err := RecordRun(ctx, nil, out, rec); err != nil {
			t.Fatalf("record %d while other processes held the history in turns: %v", i, err)
		}
		if _, err := List(ctx, out); err != nil {
			t.Fatalf("read %d while other processes held the history in turns: %v", i, err)
		}
	}
}
