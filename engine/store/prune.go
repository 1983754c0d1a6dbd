package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// runIDPattern matches the names NewRunID and UniqueRunID give run directories:
// start time, config hash, and a counter when two runs shared both.
var runIDPattern = regexp.MustCompile(`^(\d{8}T\d{6}Z-[0-9a-f]{6})(?:-(\d+))?$`)

// RemoveLeftovers deletes what runs that were killed left under the output
// root: their unfinished run directories and directories being pruned
// (runs/.tmp-*), DuckDB's temporary directories (.tmp-duckdb-*) and
// half-made latest links (.latest-*). Only the holder of the output root's
// lock may call it: none of these then belongs to a live run. It returns
// the paths removed.
func RemoveLeftovers(root string) ([]string, error) {
	var removed []string
	var errs []error
	for _, dir := range []struct {
		path     string
		prefixes []string
	}{
		{root, []string{".tmp-duckdb-", ".latest-"}},
		{filepath.Join(root, "runs"), []string{".tmp-"}},
	} {
		entries, err := os.ReadDir(dir.path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, err
		}
		for _, e := range entries {
			if !slices.ContainsFunc(dir.prefixes, func(p string) bool { return strings.HasPrefix(e.Name(), p) }) {
				continue
			}
			p := filepath.Join(dir.path, e.Name())
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, p)
		}
	}
	return removed, errors.Join(errs...)
}

// Prune removes run directories under runs/ until keep remain: the one
// latest points at and the newest others by run ID (that is, by start
// time). Beside them it keeps, whatever their age, the runs the active
// plans of record of the run history stand on (their segments are the
// plans'); when the history cannot be read, which they are is unknown and
// nothing is removed. keep 0 keeps every run. Entries whose names are not
// run IDs are left alone. A directory is first renamed to a hidden name and
// then deleted, so a run killed while pruning leaves either the whole run
// or a leftover that the next run removes. It returns the run IDs removed,
// oldest first.
func Prune(ctx context.Context, root string, keep int) ([]string, error) {
	if keep <= 0 {
		return nil, nil
	}
	runsDir := filepath.Join(root, "runs")
	entries, err := os.ReadDir(runsDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	latest := ""
	if target, err := os.Readlink(filepath.Join(root, "latest")); err == nil {
		latest = filepath.Base(target)
	}
	runs := runNames(entries)
	// The runs beyond keep, less those the plans stand on (these can
	// only keep more): the history is read only when some are.
	beyond := func(planned map[string]bool) []string {
		kept := 0
		if slices.Contains(runs, latest) {
			kept = 1
		}
		var doomed []string
		for _, r := range runs {
			switch {
			case r == latest, planned[r]:
			case kept < keep:
				kept++
			default:
				doomed = append(doomed, r)
			}
		}
		return doomed
	}
	if len(beyond(nil)) == 0 {
		return nil, nil
	}
	planned, err := planRunIDs(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("no run pruned: the runs plans of record stand on are unknown: %w", err)
	}
	doomed := beyond(planned)
	slices.Reverse(doomed)
	var removed []string
	for _, name := range doomed {
		hidden := filepath.Join(runsDir, ".tmp-pruned-"+name)
		if err := os.Rename(filepath.Join(runsDir, name), hidden); err != nil {
			return removed, fmt.Errorf("pruning run %s: %w", name, err)
		}
		if err := os.RemoveAll(hidden); err != nil {
			return removed, fmt.Errorf("pruning run %s: %w", name, err)
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// runNames are the names of the run directories among the entries of an
// output root's runs/ (named as runIDPattern says; anything else there is
// not a run), newest first: by start time, then counter.
func runNames(entries []os.DirEntry) []string {
	type runDir struct {
		name, base string
		n          int
	}
	var runs []runDir
	for _, e := range entries {
		m := runIDPattern.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		n := 1 // the first run of a start time and config has no counter
		if m[2] != "" {
			var err error
			if n, err = strconv.Atoi(m[2]); err != nil {
				continue
			}
		}
		runs = append(runs, runDir{e.Name(), m[1], n})
	}
	slices.SortFunc(runs, func(a, b runDir) int { return cmp.Or(cmp.Compare(b.base, a.base), cmp.Compare(b.n, a.n)) })
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.name
	}
	return names
}
