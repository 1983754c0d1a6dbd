package config

import (
	"strings"
	"testing"
)

// Promote replaces the nightly's settings keys by the variant's, removes
// those the variant leaves out, and keeps the nightly's other keys and
// comments; with keepModel the nightly's segmentation.model stays and
// choose_k goes.
func TestPromote(t *testing.T) {
	nightly := `# nightly
inputs:
  transactions: /data/tx.parquet # the export
output: /srv/out
seed: 7
segmentation:
  model: models/current.json
value:
  model: pareto_nbd
keep_runs: 3
`
	variant := `segmentation:
  k: 4
  choose_k: {min: 3, max: 6}
targets:
  max_share: 0.5
`
	got, err := Promote([]byte(nightly), []byte(variant), "/home/ana", false)
	if err != nil {
		t.Fatal(err)
	}
	want := `# nightly
inputs:
  transactions: /data/tx.parquet # the export
output: /srv/out
segmentation:
  k: 4
  choose_k: {min: 3, max: 6}
keep_runs: 3
targets:
  max_share: 0.5
`
	if string(got) != want {
		t.Errorf("promoted:\n%s\nwant\n%s", got, want)
	}
	got, err = Promote([]byte(nightly), []byte(variant), "/home/ana", true)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(got); !strings.Contains(s, "segmentation:\n  k: 4\n  model: models/current.json\n") || strings.Contains(s, "choose_k") {
		t.Errorf("promoted keeping the model file:\n%s", got)
	}
	got, err = Promote([]byte(nightly), []byte("segmentation:\n  model: trained.json\n"), "/home/ana", false)
	if err != nil || !strings.Contains(string(got), "model: /home/ana/trained.json") {
		t.Errorf("a variant's relative model file: %s, %v; want it made absolute", got, err)
	}
	if _, err := Promote([]byte("- a list\n"), []byte(variant), "", false); err == nil {
		t.Error("a nightly configuration that is a list: no error")
	}
}
