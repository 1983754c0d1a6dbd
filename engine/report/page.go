// Package report draws crmseg's HTML pages (a run's report.html, and
// pages built the same way, such as a comparison of two runs) from plain Go
// values: a Page of Sections, each a list of Blocks (Paragraph, Table,
// Figure), written as one self-contained HTML file. The style sheet is
// inline, with a print style sheet; charts are inline SVG drawn with
// gonum/plot in a colour-blind-safe palette (Okabe & Ito), every series told
// apart by a marker or a label as well as by its colour, and every chart
// carries a sentence saying what it shows. Nothing is loaded from anywhere:
// no script, font or image, so a page opens from a mail attachment.
//
// The same values give the same bytes: nothing depends on map order, the
// clock or the machine.
//
// The package does not link DuckDB: the engine gathers a run's figures and
// hands them over as Go values.
package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
)

// Page is one HTML page: a title, a line under it, a list of facts (label
// and value pairs, such as the run's ID and as-of date) and its sections,
// in reading order, with a table of contents.
type Page struct {
	Title    string
	Subtitle string
	Facts    []Fact
	Sections []Section
}

// Fact is a label and its value, shown at the top of a page.
type Fact struct{ Label, Value string }

// Section is a titled part of a page. ID is its anchor (letters, digits
// and '-'), unique within the page; Intro, when set, is its first paragraph.
type Section struct {
	ID     string
	Title  string
	Intro  string
	Blocks []Block
}

// Block is what a section holds: a Paragraph, a Table or a Figure.
type Block interface {
	render(w *bytes.Buffer)
}

// Paragraph is a paragraph of plain text.
type Paragraph string

func (p Paragraph) render(w *bytes.Buffer) {
	w.WriteString("<p>")
	w.WriteString(template.HTMLEscapeString(string(p)))
	w.WriteString("</p>\n")
}

// Column is a table's column: its heading, and whether it holds numbers
// (aligned right).
type Column struct {
	Title   string
	Numeric bool
}

// Table is a table with a caption. ID names it in the page (the
// data-table attribute, which tests find it by); each row has one cell
// per column.
type Table struct {
	ID      string
	Caption string
	Columns []Column
	Rows    [][]string
}

func (t Table) render(w *bytes.Buffer) {
	fmt.Fprintf(w, "<div class=\"table-wrap\"><table data-table=\"%s\">\n", template.HTMLEscapeString(t.ID))
	if t.Caption != "" {
		fmt.Fprintf(w, "<caption>%s</caption>\n", template.HTMLEscapeString(t.Caption))
	}
	w.WriteString("<thead><tr>")
	for _, c := range t.Columns {
		fmt.Fprintf(w, "<th scope=\"col\"%s>%s</th>", numClass(c.Numeric), template.HTMLEscapeString(c.Title))
	}
	w.WriteString("</tr></thead>\n<tbody>\n")
	for _, row := range t.Rows {
		w.WriteString("<tr>")
		for j, cell := range row {
			num := j < len(t.Columns) && t.Columns[j].Numeric
			fmt.Fprintf(w, "<td%s>%s</td>", numClass(num), template.HTMLEscapeString(cell))
		}
		w.WriteString("</tr>\n")
	}
	w.WriteString("</tbody></table></div>\n")
}

func numClass(num bool) string {
	if num {
		return ` class="num"`
	}
	return ""
}

// Figure is a chart: its SVG (from one of the chart functions), a title,
// and the sentence saying what it shows, as its caption. ID names it in
// the page (the data-chart attribute).
type Figure struct {
	ID      string
	Title   string
	Caption string
	SVG     []byte
}

func (f Figure) render(w *bytes.Buffer) {
	fmt.Fprintf(w, "<figure data-chart=\"%s\">\n", template.HTMLEscapeString(f.ID))
	if f.Title != "" {
		fmt.Fprintf(w, "<h3>%s</h3>\n", template.HTMLEscapeString(f.Title))
	}
	w.Write(f.SVG)
	fmt.Fprintf(w, "<figcaption>%s</figcaption>\n</figure>\n", template.HTMLEscapeString(f.Caption))
}

// Render writes the page as one self-contained HTML document.
func (p Page) Render(out io.Writer) error {
	var w bytes.Buffer
	w.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	w.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	// No request leaves the page, whatever it holds.
	w.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n")
	fmt.Fprintf(&w, "<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n", template.HTMLEscapeString(p.Title), styleSheet)
	fmt.Fprintf(&w, "<h1>%s</h1>\n", template.HTMLEscapeString(p.Title))
	if p.Subtitle != "" {
		fmt.Fprintf(&w, "<p class=\"subtitle\">%s</p>\n", template.HTMLEscapeString(p.Subtitle))
	}
	if len(p.Facts) > 0 {
		w.WriteString("<dl class=\"facts\">\n")
		for _, f := range p.Facts {
			fmt.Fprintf(&w, "<div><dt>%s</dt><dd>%s</dd></div>\n", template.HTMLEscapeString(f.Label), template.HTMLEscapeString(f.Value))
		}
		w.WriteString("</dl>\n")
	}
	if len(p.Sections) > 1 {
		w.WriteString("<nav><ol>\n")
		for _, s := range p.Sections {
			fmt.Fprintf(&w, "<li><a href=\"#%s\">%s</a></li>\n", template.HTMLEscapeString(s.ID), template.HTMLEscapeString(s.Title))
		}
		w.WriteString("</ol></nav>\n")
	}
	w.WriteString("</header>\n<main>\n")
	for _, s := range p.Sections {
		fmt.Fprintf(&w, "<section id=\"%s\">\n<h2>%s</h2>\n", template.HTMLEscapeString(s.ID), template.HTMLEscapeString(s.Title))
		if s.Intro != "" {
			Paragraph(s.Intro).render(&w)
		}
		for _, b := range s.Blocks {
			b.render(&w)
		}
		w.WriteString("</section>\n")
	}
	w.WriteString("</main>\n</body>\n</html>\n")
	_, err := out.Write(w.Bytes())
	return err
}

// styleSheet is every page's style: readable on screen and on paper (the
// print rules keep a chart or a table row on one page and drop the
// navigation), in dark text on white.
const styleSheet = `:root { --ink: #1a1a1a; --muted: #555; --rule: #ccc; --band: #f3f3f3; }
* { box-sizing: border-box; }
body { font-family: "Helvetica Neue", Arial, "Liberation Sans", sans-serif; color: var(--ink); background: #fff;
  margin: 0 auto; max-width: 62rem; padding: 1.5rem; line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-bottom: .2rem; border-bottom: 2px solid var(--ink); }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
.subtitle { color: var(--muted); margin: 0 0 1rem; }
dl.facts { display: flex; flex-wrap: wrap; gap: .4rem 1.6rem; margin: 0 0 1rem; }
dl.facts div { display: flex; gap: .4rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 600; }
nav ol { columns: 2; margin: .5rem 0; padding-left: 1.4rem; }
a { color: #0059a0; }
.table-wrap { overflow-x: auto; margin: .8rem 0; }
table { border-collapse: collapse; font-size: .9rem; min-width: 50%; }
caption { text-align: left; color: var(--muted); padding-bottom: .3rem; caption-side: top; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); }
tbody tr:nth-child(even) { background: var(--band); }
.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0 1.4rem; }
figure svg { display: block; width: 100%; max-width: 46rem; height: auto; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; max-width: 46rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3 { break-after: avoid; page-break-after: avoid; }
  figure, tr, dl.facts { break-inside: avoid; page-break-inside: avoid; }
  tbody tr:nth-child(even) { background: none; }
  .table-wrap { overflow: visible; }
}
`

// Number formats x with the given decimals and thousands separators
// (1234567.8 with 0: "1,234,568"); NaN and infinities are "–".
func Number(x float64, decimals int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	s := strconv.FormatFloat(math.Abs(x), 'f', decimals, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if x < 0 && strings.Trim(s, "0.") != "" {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// Percent formats a share (0.123) as a percentage with the given decimals
// ("12.3%"); NaN and infinities are "–".
func Percent(share float64, decimals int) string {
	if math.IsNaN(share) || math.IsInf(share, 0) {
		return "–"
	}
	return strconv.FormatFloat(share*100, 'f', decimals, 64) + "%"
}

// Count formats a count with thousands separators.
func Count(n int64) string { return Number(float64(n), 0) }
