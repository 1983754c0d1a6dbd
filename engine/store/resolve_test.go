package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveRun: each kind of reference, and the refusals, each naming
// what it looked for.
func TestResolveRun(t *testing.T) {
	root := t.TempDir()
	mkrun := func(dir string, manifest bool) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if manifest {
			if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	id := "20260701T020000Z-aaaaaa"
	mkrun(filepath.Join(root, "runs", id), true)
	mkrun(filepath.Join(root, ExperimentsDir, "k5"), true)
	mkrun(filepath.Join(root, "runs", "both"), true)
	mkrun(filepath.Join(root, ExperimentsDir, "both"), true)
	mkrun(filepath.Join(root, ExperimentsDir, "unfinished"), false)
	if err := os.Symlink(filepath.Join("runs", id), filepath.Join(root, "latest")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		root, ref       string
		kind, name, dir string
		problem         string // "" for none
	}{
		{root, "latest", KindRun, id, filepath.Join(root, "runs", id), ""},
		{root, id, KindRun, id, filepath.Join(root, "runs", id), ""},
		{root, "k5", KindExperiment, "k5", filepath.Join(root, ExperimentsDir, "k5"), ""},
		{"", filepath.Join(root, "latest"), KindDirectory, id, filepath.Join(root, "latest"), ""},
		{root, "both", "", "", "", "found both the run " + filepath.Join(root, "runs", "both")},
		{root, "unfinished", "", "", "", "expected manifest.json in " + filepath.Join(root, ExperimentsDir, "unfinished")},
		{"", "latest", "", "", "", "no output root to look it up in"},
		{root, "gone", "", "", "", "looked for the run " + filepath.Join(root, "runs", "gone")},
		{root, filepath.Join(root, "nowhere"), "", "", "", "expected a run's or experiment's directory, found nothing there"},
	} {
		r, err := ResolveRun(c.root, c.ref)
		var re *RunRefError
		switch {
		case c.problem == "" && err != nil:
			t.Errorf("%s: %v", c.ref, err)
		case c.problem == "" && (r.Kind != c.kind || r.Name != c.name || r.Dir != c.dir):
			t.Errorf("%s: %+v, want %s %s in %s", c.ref, r, c.kind, c.name, c.dir)
		case c.problem != "" && (!errors.As(err, &re) || re.Ref != c.ref || !strings.Contains(err.Error(), c.problem)):
			t.Errorf("%s: %v, want a *RunRefError saying %q", c.ref, err, c.problem)
		}
	}
}
