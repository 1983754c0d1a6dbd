package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// LockFile is the lock file in the output root. It is never removed: a run
// that deleted it could leave the next two runs locking different files.
const LockFile = ".crmseg.lock"

// LockHolder says who holds an output root: the holding run writes it into
// the lock file, and a run refused by the lock reports it.
type LockHolder struct {
	PID       int    `json:"pid"`
	Host      string `json:"host"`
	StartedAt string `json:"started_at"` // RFC 3339, UTC
	RunID     string `json:"run_id,omitempty"`
	Command   string `json:"command,omitempty"` // run, train, or experiment NAME
}

func (h *LockHolder) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d on host %s", h.PID, h.Host)
	if h.Command != "" {
		fmt.Fprintf(&b, ", crmseg %s", h.Command)
	}
	if h.StartedAt != "" {
		fmt.Fprintf(&b, ", started %s", h.StartedAt)
	}
	if h.RunID != "" {
		fmt.Fprintf(&b, ", run %s", h.RunID)
	}
	return b.String()
}

// Lock is a held lock on an output root.
type Lock struct {
	f *os.File
}

// Acquire takes the output root's lock without waiting: an exclusive
// flock(2) on its lock file, which the kernel releases when the holder
// exits, however it exits. It then writes me into the file. When another
// process holds the lock, the error is a *LockedError naming it. stale is
// what a previous holder left in the file when it ended without releasing
// the lock (killed, or its machine crashed); nil when there was none.
func Acquire(root string, me LockHolder) (l *Lock, stale *LockHolder, err error) {
	return acquireFile(root, filepath.Join(root, LockFile), me)
}

// acquireFile takes the lock file at path of the output root root, as
// Acquire says.
func acquireFile(root, path string, me LockHolder) (l *Lock, stale *LockHolder, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("lock file: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	if !ok {
		holder := readHolder(f)
		f.Close()
		return nil, nil, &LockedError{Root: root, Path: path, Holder: holder}
	}
	stale = readHolder(f)
	b, _ := json.Marshal(me)
	err = errors.Join(f.Truncate(0), writeAt(f, append(b, '\n')), f.Sync())
	if err != nil {
		unlock(f)
		f.Close()
		return nil, nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	return &Lock{f: f}, stale, nil
}

func writeAt(f *os.File, b []byte) error {
	_, err := f.WriteAt(b, 0)
	return err
}

// Release empties the lock file and releases the lock; a nil Lock is
// released already.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := errors.Join(l.f.Truncate(0), unlock(l.f), l.f.Close())
	l.f = nil
	return err
}

// readHolder reads the holder written into a lock file; nil when it is
// empty or unreadable (a holder between taking the lock and writing).
func readHolder(f *os.File) *LockHolder {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	var h LockHolder
	if err := json.Unmarshal(b, &h); err != nil {
		return nil
	}
	return &h
}
