package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crmseg/crmseg/engine/manifest"
)

// A failed run is recorded field by field and read back the same: each
// value goes to its column by name and comes back from it by name.
func TestRecordRoundTrip(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	started := time.Date(2026, 7, 1, 2, 0, 0, 0, time.UTC)
	m := &manifest.Manifest{
		RunID: "20260701T020000Z-abcdef", AsOf: "2026-06-30", Seed: 7,
		Versions:     map[string]string{"crmseg": "v9"},
		Timings:      []manifest.Timing{{Stage: "inspect", Seconds: 0.5}, {Stage: "ingest", Seconds: 2.25, PeakRSSBytes: 1 << 20}},
		Inputs:       []manifest.Input{{Table: "transactions", Path: "tx.parquet", Format: "parquet", Rows: 100, Bytes: 2048, SHA256: "ab"}},
		PeakRSSBytes: 3 << 20, StagePeakRSS: "stage",
		Quality: manifest.Quality{TransactionsRead: 100, TransactionsAccepted: 97,
			Rejects: []manifest.RejectCount{{Table: "transactions", Reason: "zero amount", Rows: 3}}},
	}
	rec := Record{Manifest: m, Started: started, Finished: started.Add(90 * time.Second), Err: errors.New("features: boom"), ExitCode: 1}
	id, err := RecordRun(ctx, nil, root, rec)
	if err != nil || id != m.RunID {
		t.Fatalf("RecordRun: %q, %v", id, err)
	}
	runs, err := List(ctx, root)
	if err != nil || len(runs) != 1 {
		t.Fatalf("List: %+v, %v", runs, err)
	}
	r := runs[0]
	if r.RunID != m.RunID || r.Status != "failed" || r.FailedStage != "features" || r.Error != "features: boom" || r.ExitCode != 1 ||
		r.AsOf != "2026-06-30" || r.StartedAt != "2026-07-01T02:00:00Z" || r.FinishedAt != "2026-07-01T02:01:30Z" || r.Seconds != 90 ||
		r.Directory != "" || r.Version != "v9" || r.StagePeakRSS != "stage" {
		t.Errorf("run read back as %+v", r)
	}
	if r.TransactionsRead == nil || *r.TransactionsRead != 100 || r.TransactionsAccepted == nil || *r.TransactionsAccepted != 97 ||
		r.RejectedRows == nil || *r.RejectedRows != 3 || r.PeakRSSBytes == nil || *r.PeakRSSBytes != 3<<20 {
		t.Errorf("ingest figures read back as %v %v %v, peak %v", r.TransactionsRead, r.TransactionsAccepted, r.RejectedRows, r.PeakRSSBytes)
	}
	if r.Customers != nil || r.K != nil || r.Inertia != nil || r.Silhouette != nil || r.DeltaNew != nil {
		t.Errorf("figures of stages the run did not reach are not null: %+v", r)
	}
	d, err := Show(ctx, root, m.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Timings) != 2 || d.Timings[1] != m.Timings[1] || len(d.Inputs) != 1 || d.Inputs[0] != m.Inputs[0] ||
		len(d.Rejects) != 1 || d.Rejects[0] != m.Quality.Rejects[0] {
		t.Errorf("detail read back as %+v", d)
	}

	// The same failed run ID again (another process took it meanwhile):
	// the record takes the next free one and the first stays.
	id, err = RecordRun(ctx, nil, root, rec)
	if err != nil || id != m.RunID+"-2" {
		t.Fatalf("second record of the same ID: %q, %v; want %s-2", id, err, m.RunID)
	}
	if _, err := Show(ctx, root, "no-such-run"); !errors.Is(err, ErrRunNotInHistory) {
		t.Errorf("Show of an unknown run: %v", err)
	}
}
