package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The kinds of RunRef.
const (
	KindRun        = "run"        // runs/<run_id> of the output root
	KindExperiment = "experiment" // experiments/<name> of the output root
	KindDirectory  = "directory"  // a run's or experiment's directory given by its path
)

// RunRef is a run's or experiment's directory, found from what a command
// was given (ResolveRun).
type RunRef struct {
	Ref  string // as given
	Kind string // KindRun, KindExperiment or KindDirectory
	// Name is the run ID or the experiment's name; for a directory its
	// own name, after links (the run ID of root/latest, say).
	Name string
	Dir  string // the directory: manifest.json and the tables
}

// ResolveRun finds the directory ref names in the output root root:
//
//   - "latest": the run the root's latest link points at;
//   - a path (it holds a path separator, or is "." or ".."): that
//     directory;
//   - a name: the run runs/<ref> or the experiment experiments/<ref> of the
//     root (a name both have is refused as ambiguous), else the directory
//     ref in the current directory.
//
// root may be "" when ref is a path. The directory must hold manifest.json,
// which every published run and experiment has; a ref that leads nowhere is
// a *RunRefError naming every place looked at.
func ResolveRun(root, ref string) (RunRef, error) {
	r := RunRef{Ref: ref}
	refuse := func(format string, args ...any) (RunRef, error) {
		return RunRef{}, &RunRefError{Ref: ref, Problem: fmt.Sprintf(format, args...)}
	}
	isPath := ref == "." || ref == ".." || strings.ContainsRune(ref, '/') || strings.ContainsRune(ref, filepath.Separator)
	switch {
	case ref == "":
		return refuse("expected a run ID (crmseg history lists them), an experiment name, latest or a run directory, found nothing")
	case ref == "latest" && root != "":
		latest := filepath.Join(root, "latest")
		target, err := os.Readlink(latest)
		if err != nil {
			return refuse("expected %s, a link to the newest run, found %s: give the run ID instead (crmseg history lists the runs)", latest, FoundThere(err))
		}
		r.Kind, r.Name, r.Dir = KindRun, filepath.Base(target), filepath.Join(root, "runs", filepath.Base(target))
	case isPath:
		r.Kind, r.Dir = KindDirectory, ref
	case root == "":
		return refuse("expected a run directory, found a name and no output root to look it up in: give --out (or --config), or the directory's path")
	default:
		run, exp := filepath.Join(root, "runs", ref), filepath.Join(root, ExperimentsDir, ref)
		isRun, isExp := isDir(run), isDir(exp)
		switch {
		case isRun && isExp:
			return refuse("found both the run %s and the experiment %s: give the directory's path instead", run, exp)
		case isRun:
			r.Kind, r.Name, r.Dir = KindRun, ref, run
		case isExp:
			r.Kind, r.Name, r.Dir = KindExperiment, ref, exp
		case isDir(ref):
			r.Kind, r.Dir = KindDirectory, ref
		default:
			return refuse("expected a run ID (crmseg history lists them), an experiment name, latest or a run directory; "+
				"looked for the run %s, the experiment %s and the directory %s, found none of them "+
				"(a run is pruned after keep_runs newer ones)", run, exp, ref)
		}
	}
	if r.Kind == KindDirectory {
		if !isDir(r.Dir) {
			_, err := os.Stat(r.Dir)
			return refuse("expected a run's or experiment's directory, found %s", FoundThere(err))
		}
		abs, err := filepath.Abs(r.Dir)
		if err == nil {
			abs, err = filepath.EvalSymlinks(abs)
		}
		if err != nil {
			return refuse("expected a run's or experiment's directory, found one whose path cannot be resolved: %v", err)
		}
		r.Name = filepath.Base(abs)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "manifest.json")); err != nil {
		return refuse("expected %s in %s, as every published run and experiment has, found %s", "manifest.json", r.Dir, FoundThere(err))
	}
	return r, nil
}

// isDir says whether path leads to a directory.
func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// FoundThere says what a failed os.Stat or os.Readlink found, for an error
// saying what was expected and what was found.
func FoundThere(err error) string {
	switch {
	case err == nil:
		return "a file"
	case errors.Is(err, os.ErrNotExist):
		return "nothing there"
	}
	return err.Error()
}
