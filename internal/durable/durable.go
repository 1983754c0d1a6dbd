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
	"io/fs"
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
// file gets mode 0644; a failed write leaves path as it was. An error in
// creating or renaming the file names path, not the temporary file, and a
// path that is a directory is refused as one.
func WriteFileWith(path string, fill func(w io.Writer) error) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return &fs.PathError{Op: "write", Path: path, Err: errors.New("is a directory, expected a file name")}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: cause(err)}
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
	if err := os.Rename(tmp.Name(), path); err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: cause(err)}
	}
	return nil
}

// cause is the system's reason behind a file operation's error, without
// the temporary file's name the operation was given.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
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
