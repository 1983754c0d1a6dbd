package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crmseg/crmseg/engine/store"
	"github.com/crmseg/crmseg/segment"
)

// An experiment with another k on the nightly run's inputs, promoted into
// the nightly configuration: the diff is printed, the old file kept beside
// it, the promotion recorded; the next nightly run trains at the
// experiment's k and keeps the segment IDs it matches to the previous
// model. experiment list and history show the experiment.
func TestExperimentPromote(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, stderr := run(t, "generate", "--customers", "300", "--seed", "3", "--out", data); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	root := filepath.Join(dir, "out")
	nightly := filepath.Join(dir, "nightly.yaml")
	nightlyYAML := fmt.Sprintf(`# the nightly run
inputs:
  customers: %s
  transactions: %s
output: %s
seed: 5
segmentation:
  k: 3 # three segments
`, filepath.Join(data, "customers.parquet"), filepath.Join(data, "transactions.parquet"), root)
	if err := os.WriteFile(nightly, []byte(nightlyYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "run", "--config", nightly, "--no-progress"); code != 0 {
		t.Fatalf("nightly run: exit %d: %s", code, stderr)
	}
	latest, _ := os.Readlink(filepath.Join(root, "latest"))
	before := readModel(t, filepath.Join(root, "latest", "model.json"))

	variant := filepath.Join(dir, "k4.yaml")
	if err := os.WriteFile(variant, []byte("seed: 5\nsegmentation:\n  k: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "experiment", "run", "k4", "--config", variant, "--out", root, "--no-progress")
	if code != 0 {
		t.Fatalf("experiment run: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "experiment k4 on run "+filepath.Base(latest)) {
		t.Errorf("experiment run printed:\n%s", stdout)
	}
	if now, _ := os.Readlink(filepath.Join(root, "latest")); now != latest {
		t.Errorf("the experiment moved latest from %s to %s", latest, now)
	}
	if code, _, stderr := run(t, "experiment", "run", "k4", "--config", variant, "--out", root, "--no-progress"); code != exitUsage ||
		!strings.Contains(stderr, "--replace") {
		t.Errorf("the same experiment name again: exit %d, want %d, saying --replace: %s", code, exitUsage, stderr)
	}

	code, stdout, _ = run(t, "experiment", "list", "--out", root, "--json")
	var list struct{ Experiments []store.ExperimentInfo }
	if err := json.Unmarshal([]byte(stdout), &list); code != 0 || err != nil {
		t.Fatalf("experiment list --json: exit %d, %v:\n%s", code, err, stdout)
	}
	if len(list.Experiments) != 1 || list.Experiments[0].Name != "k4" || list.Experiments[0].K != 4 ||
		list.Experiments[0].BaseRunID != filepath.Base(latest) || list.Experiments[0].Status != "succeeded" || len(list.Experiments[0].Features) == 0 {
		t.Errorf("experiment list: %+v", list.Experiments)
	}

	code, stdout, stderr = run(t, "experiment", "promote", "k4", "--config", nightly)
	if code != 0 {
		t.Fatalf("experiment promote: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "-  k: 3 # three segments\n") || !strings.Contains(stdout, "+  k: 4\n") {
		t.Errorf("promote's diff does not show k 3 -> 4:\n%s", stdout)
	}
	prevs, _ := filepath.Glob(nightly + ".prev-*")
	if len(prevs) != 1 {
		t.Fatalf("old configuration kept as %v, want one nightly.yaml.prev-TIMESTAMP", prevs)
	}
	if b, _ := os.ReadFile(prevs[0]); string(b) != nightlyYAML {
		t.Errorf("%s holds\n%s\nwant the old file", prevs[0], b)
	}
	promoted, _ := os.ReadFile(nightly)
	if !strings.Contains(string(promoted), "# the nightly run") || !strings.Contains(string(promoted), "output: "+root) {
		t.Errorf("the promoted file lost the nightly's own keys or comments:\n%s", promoted)
	}

	code, _, stderr = run(t, "run", "--config", nightly, "--no-progress")
	if code != 0 {
		t.Fatalf("nightly run after the promotion: exit %d: %s", code, stderr)
	}
	after := readModel(t, filepath.Join(root, "latest", "model.json"))
	if after.Training.K != 4 {
		t.Errorf("the nightly run after the promotion trained k %d, want the experiment's 4", after.Training.K)
	}
	var kept, fresh []int
	for _, c := range after.Changes {
		switch c.Change {
		case "kept", "moved", "changed":
			kept = append(kept, c.ID)
		case "new":
			fresh = append(fresh, c.ID)
		}
	}
	var beforeIDs []int
	for _, s := range before.Segments {
		beforeIDs = append(beforeIDs, s.ID)
	}
	slices.Sort(kept)
	if !slices.Equal(kept, beforeIDs) || len(fresh) != 1 || fresh[0] <= slices.Max(beforeIDs) {
		t.Errorf("after the promotion, segments %v kept their IDs and %v are new; want the previous %v kept and one new above them (changes %+v)",
			kept, fresh, beforeIDs, after.Changes)
	}

	code, stdout, _ = run(t, "history", "--out", root, "--kind", "experiment", "--json")
	var hist struct{ Runs []store.HistoryRun }
	if err := json.Unmarshal([]byte(stdout), &hist); code != 0 || err != nil {
		t.Fatalf("history --kind experiment: exit %d, %v", code, err)
	}
	if len(hist.Runs) != 1 || hist.Runs[0].ExperimentName != "k4" || hist.Runs[0].BaseRunID != filepath.Base(latest) {
		t.Errorf("history --kind experiment: %+v", hist.Runs)
	}
	ps, err := store.Promotions(ctx, root)
	if err != nil || len(ps) != 1 || ps[0].ExperimentName != "k4" || ps[0].PreviousConfig != prevs[0] || !strings.Contains(ps[0].Diff, "+  k: 4") {
		t.Errorf("promotions recorded: %+v, %v", ps, err)
	}
	code, stdout, _ = run(t, "experiment", "list", "--out", root)
	if code != 0 || !strings.Contains(stdout, "promoted") {
		t.Errorf("experiment list after the promotion: exit %d:\n%s", code, stdout)
	}

	// A nightly configuration that assigns with a model file: promoting an
	// experiment that trained one copies its model into the file, keeping
	// the old one, and the configuration keeps assigning with the file.
	current := filepath.Join(dir, "current.json")
	oldModel, _ := os.ReadFile(filepath.Join(root, "latest", "model.json"))
	if err := os.WriteFile(current, oldModel, 0o644); err != nil {
		t.Fatal(err)
	}
	assigning := filepath.Join(dir, "assigning.yaml")
	if err := os.WriteFile(assigning, []byte(strings.Replace(nightlyYAML, "k: 3 # three segments", "model: current.json", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(variant, []byte("seed: 5\nsegmentation:\n  k: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "experiment", "run", "k5", "--config", variant, "--out", root, "--no-progress"); code != 0 {
		t.Fatalf("experiment run k5: exit %d: %s", code, stderr)
	}
	if code, stdout, stderr = run(t, "experiment", "promote", "k5", "--config", assigning); code != 0 || !strings.Contains(stdout, "copied into "+current) {
		t.Fatalf("promote into a configuration with a model file: exit %d: %s%s", code, stdout, stderr)
	}
	trained, _ := os.ReadFile(filepath.Join(root, "experiments", "k5", "model.json"))
	if got, _ := os.ReadFile(current); string(got) != string(trained) {
		t.Errorf("%s does not hold the experiment's model", current)
	}
	if olds, _ := filepath.Glob(current + ".prev-*"); len(olds) != 1 {
		t.Errorf("old model kept as %v, want one current.json.prev-TIMESTAMP", olds)
	} else if b, _ := os.ReadFile(olds[0]); string(b) != string(oldModel) {
		t.Errorf("%s does not hold the old model", olds[0])
	}
	if b, _ := os.ReadFile(assigning); !strings.Contains(string(b), "model: current.json") || !strings.Contains(string(b), "k: 5") {
		t.Errorf("the promoted configuration with a model file:\n%s", b)
	}
}

func readModel(t *testing.T, path string) *segment.Model {
	t.Helper()
	m, err := segment.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lineDiff shows the changed lines with three lines of context, in hunks.
func TestLineDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n"
	b := "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n"
	want := "--- x\n+++ x (promoted)\n@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -9,3 +9,4 @@\n i\n j\n k\n+l\n"
	if got := lineDiff(a, b, "x"); got != want {
		t.Errorf("lineDiff:\n%s\nwant\n%s", got, want)
	}
	if got := lineDiff(a, a, "x"); got != "" {
		t.Errorf("lineDiff of equal texts: %q", got)
	}
}
