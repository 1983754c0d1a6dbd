package engine

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"
)

// memWatch samples, while a stage runs, the process's resident set and the
// memory Go's runtime holds, so that a debug log can say how much of a
// stage's peak was Go's and how much DuckDB's (and the C allocator's). It
// runs only at debug level: the figures are for whoever profiles a run's
// memory, not for the manifest.
type memWatch struct {
	stop chan struct{}
	wg   sync.WaitGroup

	rss    int64 // the highest resident set sampled
	goAt   int64 // what Go held at that sample
	goPeak int64 // the most Go held at any sample
	live   int64 // the most live heap (as of the last collection) at any sample
}

// memWatchEvery is the sampling interval.
const memWatchEvery = 50 * time.Millisecond

func startMemWatch() *memWatch {
	w := &memWatch{stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(memWatchEvery)
		defer t.Stop()
		s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}, {Name: "/gc/heap/live:bytes"}}
		for {
			w.sample(s)
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *memWatch) sample(s []metrics.Sample) {
	metrics.Read(s)
	var g int64
	if s[0].Value.Kind() == metrics.KindUint64 && s[1].Value.Kind() == metrics.KindUint64 {
		g = int64(s[0].Value.Uint64()) - int64(s[1].Value.Uint64())
	}
	rss := vmRSS()
	if rss > w.rss {
		w.rss, w.goAt = rss, g
	}
	w.goPeak = max(w.goPeak, g)
	if s[2].Value.Kind() == metrics.KindUint64 {
		w.live = max(w.live, int64(s[2].Value.Uint64()))
	}
}

// end stops the sampling and returns its figures.
func (w *memWatch) end() (rss, goAtPeak, goPeak, live int64) {
	close(w.stop)
	w.wg.Wait()
	return w.rss, w.goAt, w.goPeak, w.live
}

// vmRSS is the process's current resident set in bytes (VmRSS in
// /proc/self/status); 0 where it cannot be read.
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// duckdbMemory is what DuckDB's buffer manager holds now, in bytes
// (duckdb_memory()); -1 when it cannot be read.
func (s *session) duckdbMemory(ctx context.Context) int64 {
	var n sql.NullInt64
	if err := s.conn.QueryRowContext(ctx, "SELECT sum(memory_usage_bytes)::BIGINT FROM duckdb_memory()").Scan(&n); err != nil || !n.Valid {
		return -1
	}
	return n.Int64
}
