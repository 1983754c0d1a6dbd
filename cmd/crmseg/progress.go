package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/crmseg/crmseg/engine"
)

// console is stderr shared by the log and the progress bars: a log record
// written while a bar is shown clears the bar, goes above it, and the bar
// is drawn again below. Bars are shown one at a time.
type console struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar // the bar shown, if any
}

// showProgress reports whether progress bars go to w: only to a terminal,
// and not when asked for none or when the terminal cannot move the cursor.
func showProgress(w io.Writer, noProgress bool) bool {
	f, ok := w.(*os.File)
	return ok && !noProgress && os.Getenv("TERM") != "dumb" && term.IsTerminal(int(f.Fd()))
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		c.bar.Clear()
	}
	n, err := c.w.Write(p)
	if c.bar != nil {
		c.bar.RenderBlank()
	}
	return n, err
}

// progress starts a bar for a step of total units; with total 0 (not known
// in advance) the bar counts units without a percentage.
func (c *console) progress(step string, total int) engine.Progress {
	max := int64(total)
	if total <= 0 {
		max = -1
	}
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(c.w),
		progressbar.OptionSetDescription(step),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(total > 0),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionUseANSICodes(true),
		// Redraw only when told to: a spinner's own timer would write
		// to the terminal outside the console's lock.
		progressbar.OptionSetSpinnerChangeInterval(0),
	)
	b := &consoleBar{c: c, bar: bar, total: total, stop: make(chan struct{})}
	c.mu.Lock()
	c.bar = bar
	bar.RenderBlank()
	c.mu.Unlock()
	go b.tick()
	return b
}

// tick redraws the bar every quarter second, so its elapsed time moves
// during a long unit of work.
func (b *consoleBar) tick() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.c.mu.Lock()
			if !b.finished && b.c.bar == b.bar && (b.total <= 0 || b.done < b.total) {
				b.bar.RenderBlank()
			}
			b.c.mu.Unlock()
		}
	}
}

// consoleBar is one step's bar.
type consoleBar struct {
	c           *console
	bar         *progressbar.ProgressBar
	total, done int
	finished    bool
	stop        chan struct{} // closed by Done: ends tick
}

func (b *consoleBar) Add(n int) {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	if b.finished {
		return
	}
	if b.total > 0 {
		// An estimate of the units may fall short: stop at a full bar.
		n = min(n, b.total-b.done)
	}
	b.done += n
	if n > 0 {
		b.bar.Add(n)
	}
}

func (b *consoleBar) Done() {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	close(b.stop)
	b.bar.Exit()
	b.bar.Clear()
	if b.c.bar == b.bar {
		b.c.bar = nil
	}
}
