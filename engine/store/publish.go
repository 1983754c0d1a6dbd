package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/crmseg/crmseg/internal/durable"
)

// Pending is a run directory being written: runs/.tmp-<run_id> under the
// output root, hidden from readers of latest until Publish.
type Pending struct {
	Dir  string // the hidden directory the run writes its files into
	root string
	id   string
	done bool
}

// NewPending creates the hidden directory of run id under root. The run's
// ID is unique in the output root (UniqueRunID, checked again under the
// lock), so its final directory must be free: one that exists is an error.
func NewPending(root, id string) (*Pending, error) {
	final := filepath.Join(root, "runs", id)
	if _, err := os.Lstat(final); !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("run directory %s exists already (%v)", final, err)
	}
	tmp := filepath.Join(root, "runs", ".tmp-"+id)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	return &Pending{Dir: tmp, root: root, id: id}, nil
}

// Abort removes the pending directory, unless it was published.
func (p *Pending) Abort() {
	if !p.done {
		os.RemoveAll(p.Dir)
	}
}

// Publish writes the manifest into the pending directory, last, makes the
// directory durable, renames it to runs/<run_id> and then switches the
// output root's latest link to it with an atomic rename: until that last
// rename, readers of latest see the previous run, whole. renamed, when not
// nil, runs between the two renames (tests fail the run there). A failure
// before latest is switched removes the run; after it, the run is
// published, and a failure to make the switch durable is only logged
// (saying otherwise would be wrong). It returns the run's directory and
// the latest link.
func (p *Pending) Publish(manifestJSON []byte, renamed func() error, log *slog.Logger) (dir, latest string, err error) {
	if err := durable.WriteFile(filepath.Join(p.Dir, "manifest.json"), manifestJSON); err != nil {
		return "", "", err
	}
	if err := durable.SyncDir(p.Dir); err != nil {
		return "", "", err
	}
	runs := filepath.Join(p.root, "runs")
	final := filepath.Join(runs, p.id)
	if err := os.Rename(p.Dir, final); err != nil {
		return "", "", err
	}
	p.done = true
	switched := false
	defer func() {
		if !switched {
			os.RemoveAll(final)
		}
	}()
	if err := durable.SyncDir(runs); err != nil {
		return "", "", err
	}
	if renamed != nil {
		if err := renamed(); err != nil {
			return "", "", err
		}
	}
	latest = filepath.Join(p.root, "latest")
	link := filepath.Join(p.root, ".latest-"+p.id)
	os.Remove(link)
	if err := os.Symlink(filepath.Join("runs", p.id), link); err != nil {
		return "", "", err
	}
	if err := os.Rename(link, latest); err != nil {
		os.Remove(link)
		return "", "", err
	}
	switched = true
	if err := durable.SyncDir(p.root); err != nil {
		log.Warn("latest switched but not synced to disk", "path", p.root, "error", err)
	}
	return final, latest, nil
}
