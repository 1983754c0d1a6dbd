package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests load crmseg's HTML pages (report.html, and any page
// drawn with engine/report) in headless Chromium with the network off, as a
// reader opening a mail attachment would. They skip when Chromium is not
// installed, unless CRMSEG_REQUIRE_BROWSER=1 (CI sets it): then they fail.

// findBrowser returns the path of Chromium: $CRMSEG_CHROMIUM, or chromium,
// chromium-browser or google-chrome on the PATH.
func findBrowser(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CRMSEG_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CRMSEG_REQUIRE_BROWSER") == "1" {
		t.Fatal("CRMSEG_REQUIRE_BROWSER=1 but no Chromium found (chromium, chromium-browser, google-chrome or $CRMSEG_CHROMIUM): apt-get install -y chromium")
	}
	t.Skip("no Chromium found (chromium, chromium-browser, google-chrome or $CRMSEG_CHROMIUM); CRMSEG_REQUIRE_BROWSER=1 makes this a failure")
	return ""
}

// pageFacts is what the browser saw of a page.
type pageFacts struct {
	// Problems are the console's errors and warnings, the page's uncaught
	// exceptions and the browser log's errors and warnings (a request the
	// page's Content-Security-Policy refused is one).
	Problems []string
	// Requests are the URLs the page requested, itself included.
	Requests []string
	Charts   []chartFacts
	Tables   []tableFacts
	// Screenshot is the whole page as PNG.
	Screenshot []byte
}

type chartFacts struct {
	ID       string  `json:"id"`
	Elements int     `json:"elements"` // elements inside the chart's <svg>
	Width    float64 `json:"width"`    // the <svg>'s rendered size, CSS pixels
	Height   float64 `json:"height"`
	Caption  string  `json:"caption"`
}

type tableFacts struct {
	ID   string `json:"id"`
	Rows int    `json:"rows"` // rows of its body
}

// pageProbe collects the charts (figure[data-chart]) and tables
// (table[data-table]) of an engine/report page.
const pageProbe = `(() => ({
  charts: [...document.querySelectorAll('figure[data-chart]')].map(f => {
    const s = f.querySelector('svg'), r = s ? s.getBoundingClientRect() : {width: 0, height: 0};
    const c = f.querySelector('figcaption');
    return {id: f.dataset.chart, elements: s ? s.querySelectorAll('*').length : 0, width: r.width, height: r.height,
      caption: c ? c.textContent : ''};
  }),
  tables: [...document.querySelectorAll('table[data-table]')].map(t => ({id: t.dataset.table, rows: t.tBodies.length ? t.tBodies[0].rows.length : 0})),
}))()`

// inspectPage loads the HTML file at path in headless Chromium, with every
// request other than to file:// sent to a closed port and names resolving
// nowhere, and returns what it saw.
func inspectPage(t *testing.T, browser, path string) pageFacts {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1100, 900),
		chromedp.ProxyServer("127.0.0.1:9"), chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
		chromedp.Flag("user-data-dir", t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	var mu sync.Mutex
	var facts pageFacts
	if err := chromedp.Do(bctx); err != nil { // start the browser and open the tab
		t.Fatalf("starting %s: %v", browser, err)
	}
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				facts.Problems = append(facts.Problems, fmt.Sprintf("console %s: %v", e.Type, args))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			desc := ""
			if d.Exception != nil {
				desc = d.Exception.Description
			}
			facts.Problems = append(facts.Problems, fmt.Sprintf("exception at %s:%d: %s %s", d.URL, d.LineNumber, d.Text, desc))
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				facts.Problems = append(facts.Problems, fmt.Sprintf("log %s %s: %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		case *network.EventRequestWillBeSent:
			facts.Requests = append(facts.Requests, e.Request.URL)
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, enable := range []func() error{
		func() error { _, err := chromedp.Call(bctx, runtime.Enable, struct{}{}); return err },
		func() error { _, err := chromedp.Call(bctx, log.Enable, struct{}{}); return err },
		func() error { _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); return err },
	} {
		if err := enable(); err != nil {
			t.Fatalf("enabling the browser's events: %v", err)
		}
	}
	u := url.URL{Scheme: "file", Path: abs}
	if err := chromedp.Do(bctx, chromedp.Navigate(u.String())); err != nil {
		t.Fatalf("loading %s: %v", u.String(), err)
	}
	got, err := chromedp.Run(bctx, chromedp.Evaluate[struct {
		Charts []chartFacts `json:"charts"`
		Tables []tableFacts `json:"tables"`
	}](pageProbe))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// Let late events (a failed request, a log entry) arrive.
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	facts.Charts, facts.Tables, facts.Screenshot = got.Charts, got.Tables, shot
	facts.Requests = append(facts.Requests[:0:0], facts.Requests...)
	return facts
}

// checkPage checks what the browser saw of the page at path: no console
// error, exception or warning; no request but the file itself; exactly the
// charts wanted, each with a drawing of some size and a caption; the tables
// wanted with their rows (a table not in wantRows must not be there); a
// screenshot that is not blank.
func checkPage(t *testing.T, path string, f pageFacts, wantCharts []string, wantRows map[string]int) {
	t.Helper()
	for _, p := range pageProblems(path, f, wantCharts, wantRows) {
		t.Error(p)
	}
}

// pageProblems is what checkPage finds wrong.
func pageProblems(path string, f pageFacts, wantCharts []string, wantRows map[string]int) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, p := range f.Problems {
		fail("%s: %s", path, p)
	}
	abs, _ := filepath.Abs(path)
	self := (&url.URL{Scheme: "file", Path: abs}).String()
	for _, r := range f.Requests {
		if r != self {
			fail("%s requested %s: a page must load nothing", path, r)
		}
	}
	if len(f.Requests) == 0 {
		fail("%s: the browser saw no request for the page itself (are network events on?)", path)
	}
	charts := map[string]chartFacts{}
	for _, c := range f.Charts {
		if _, dup := charts[c.ID]; dup {
			fail("%s: chart %q twice", path, c.ID)
		}
		charts[c.ID] = c
	}
	for _, id := range wantCharts {
		c, ok := charts[id]
		switch {
		case !ok:
			fail("%s: chart %q missing", path, id)
		case c.Elements < 10 || c.Width < 100 || c.Height < 50:
			fail("%s: chart %q is empty or tiny: %d SVG elements, %.0f × %.0f px", path, id, c.Elements, c.Width, c.Height)
		case len(c.Caption) < 40:
			fail("%s: chart %q has no sentence saying what it shows: %q", path, id, c.Caption)
		}
		delete(charts, id)
	}
	for id := range charts {
		fail("%s: chart %q not expected", path, id)
	}
	tables := map[string]int{}
	for _, tb := range f.Tables {
		tables[tb.ID] = tb.Rows
	}
	for id, want := range wantRows {
		got, ok := tables[id]
		if !ok {
			fail("%s: table %q missing (want %d rows)", path, id, want)
		} else if got != want {
			fail("%s: table %q has %d rows, want %d", path, id, got, want)
		}
		delete(tables, id)
	}
	for id, n := range tables {
		fail("%s: table %q (%d rows) not expected", path, id, n)
	}
	if err := notBlank(f.Screenshot); err != nil {
		fail("%s: screenshot: %v", path, err)
	}
	return problems
}

// notBlank checks that a PNG is not blank: besides its most common colour
// (the background), at least two other colours each cover 0.1% of it.
func notBlank(b []byte) error {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return err
	}
	bounds := img.Bounds()
	if bounds.Dx() < 200 || bounds.Dy() < 200 {
		return fmt.Errorf("%d × %d pixels", bounds.Dx(), bounds.Dy())
	}
	counts := map[[3]uint32]int{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 2 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			counts[[3]uint32{r >> 12, g >> 12, bl >> 12}]++ // 16 levels a channel
		}
	}
	total, top := 0, 0
	for _, n := range counts {
		total += n
		top = max(top, n)
	}
	others := 0
	for _, n := range counts {
		if n != top && float64(n) >= 0.001*float64(total) {
			others++
		}
	}
	if others < 2 || float64(top) > 0.995*float64(total) {
		return fmt.Errorf("looks blank: its commonest colour covers %.1f%%, %d other colours cover 0.1%% or more", 100*float64(top)/float64(total), others)
	}
	return nil
}

// TestBrowserCatchesBadPage: the checks fail a page that throws, logs an
// error, requests something, has an empty chart or a table short of rows.
func TestBrowserCatchesBadPage(t *testing.T) {
	browser := findBrowser(t)
	path := filepath.Join(t.TempDir(), "bad.html")
	page := `<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head><body>
<h1>A page with every fault</h1>
<img src="http://example.invalid/logo.png" alt="">
<figure data-chart="empty"><svg viewBox="0 0 10 10"></svg><figcaption>x</figcaption></figure>
<table data-table="short"><tbody><tr><td>1</td></tr></tbody></table>
<script>console.error("something broke"); undefinedFunction();</script>
</body></html>`
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	problems := strings.Join(pageProblems(path, inspectPage(t, browser, path), []string{"empty", "absent"}, map[string]int{"short": 3}), "\n")
	for _, want := range []string{"something broke", "undefinedFunction", "requested http://example.invalid/logo.png",
		`chart "empty" is empty`, `chart "absent" missing`, `table "short" has 1 rows, want 3`} {
		if !strings.Contains(problems, want) {
			t.Errorf("the checks missed %q; they found:\n%s", want, problems)
		}
	}
}

// TestNotBlank: a page of one colour, or one colour and a speck, is blank.
func TestNotBlank(t *testing.T) {
	encode := func(draw func(img *image.RGBA)) []byte {
		img := image.NewRGBA(image.Rect(0, 0, 400, 400))
		for i := range img.Pix {
			img.Pix[i] = 0xFF
		}
		draw(img)
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	blank := encode(func(*image.RGBA) {})
	speck := encode(func(img *image.RGBA) { img.Set(10, 10, color.Black) })
	drawn := encode(func(img *image.RGBA) {
		for y := 50; y < 150; y++ {
			for x := 50; x < 350; x++ {
				img.Set(x, y, color.RGBA{0xE6, 0x9F, 0x00, 0xFF})
				img.Set(x, y+150, color.RGBA{0x00, 0x72, 0xB2, 0xFF})
			}
		}
	})
	if notBlank(blank) == nil || notBlank(speck) == nil {
		t.Error("a blank page passes as drawn")
	}
	if err := notBlank(drawn); err != nil {
		t.Errorf("a drawn page: %v", err)
	}
}
