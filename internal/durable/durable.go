// Package durable writes files that a crash leaves whole or not at all: a
// file is written beside its final path, synced, and renamed into place, so
// that a reader sees the old file or the new one, never a part; a
// directory is synced once entries in it are created or renamed.
//
// It is crmseg's one home for durable writes: the run store's manifest,
// lock and metrics file, the generator's outputs and crmseg cluster's.
package durable

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically and durably (see WriteFileWith).
func WriteFile(path string, data []byte) error {
	return WriteFileWith(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileWith writes path through a temporary file in the same directory
// that fill writes, synced and renamed into place once fill succeeds:
// readers see the old file or the new one, whole, even after a crash. The
// file gets mode 0644; a failed write leaves path as it was.
func WriteFileWith(path string, fill func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o644)
	if err == nil {
		err = fill(tmp)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err := errors.Join(err, tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// SyncDir makes a directory's entries (files created, renamed or removed
// in it) durable. It also syncs a file's content when given a file.
func SyncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
