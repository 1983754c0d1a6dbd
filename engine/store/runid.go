package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/crmseg/crmseg/engine/config"
)

// NewRunID names a run by its start time (UTC, to the second) and a short
// hash of its configuration, so that runs sort by time and two configs
// started in the same second do not collide.
func NewRunID(t time.Time, cfg config.Config) string {
	b, _ := json.Marshal(cfg)
	h := sha256.Sum256(b)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(h[:3])
}

// UniqueRunID returns base, or base-2, base-3, ...: the first ID no run of
// the output root has used, by its directory under runs/ (published, or
// being built) or its record in the run history. Two runs of one config
// started in the same second (one after the other: the lock keeps them
// apart) thus get distinct IDs before the first logs a line.
func UniqueRunID(ctx context.Context, root, base string) string {
	used := historyRunIDs(ctx, root, base)
	id, _ := firstFree(base, func(id string) (bool, error) {
		if used[id] {
			return true, nil
		}
		for _, dir := range []string{id, ".tmp-" + id} {
			if _, err := os.Lstat(filepath.Join(root, "runs", dir)); err == nil {
				return true, nil
			}
		}
		return false, nil
	})
	return id
}

// firstFree returns base, or base-2, base-3, ...: the first ID taken says
// is free.
func firstFree(base string, taken func(id string) (bool, error)) (string, error) {
	for i := 1; ; i++ {
		id := base
		if i > 1 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		t, err := taken(id)
		if err != nil || !t {
			return id, err
		}
	}
}

// CheckLatest refuses an output root whose latest is not a symbolic link
// (a directory or file put there by hand, or a copy that followed the
// link): publishing renames a new link over it, which cannot replace a
// directory, so the run would do all its work and then fail.
func CheckLatest(root string) error {
	path := filepath.Join(root, "latest")
	st, err := os.Lstat(path)
	if err != nil || st.Mode()&os.ModeSymlink != 0 {
		return nil
	}
	what := "a regular file"
	if st.IsDir() {
		what = "a directory"
	}
	return &OutputRootError{Root: root,
		Problem: fmt.Sprintf("%s is %s, not the symbolic link to runs/<run_id> that each run replaces", path, what),
		Fix: fmt.Sprintf("move it out of the way (mv %s %s.moved) and run again: the run continues from the newest published run of the run history; "+
			"or move it and point latest at the run to continue from (ln -s runs/RUN_ID %s)", path, path, path)}
}
