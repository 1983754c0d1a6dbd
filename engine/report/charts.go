package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Palette is the colours of series, in order: Okabe & Ito's palette for
// colour-blind readers (2008), less its yellow, too pale on white paper,
// and black, kept for text and axes. A series is never told apart by its
// colour alone: it has its glyph (Glyphs) and its dashes too.
var Palette = []color.Color{
	color.RGBA{0xE6, 0x9F, 0x00, 0xFF}, // orange
	color.RGBA{0x00, 0x72, 0xB2, 0xFF}, // blue
	color.RGBA{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	color.RGBA{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	color.RGBA{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	color.RGBA{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
}

// Glyphs are the markers of series, in order, beside Palette's colours.
var Glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PyramidGlyph{},
	draw.CrossGlyph{}, draw.RingGlyph{}, draw.PlusGlyph{}, draw.BoxGlyph{},
}

// dashes are the line patterns of series, in order.
var dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)},
	{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)}, {vg.Points(12), vg.Points(4)}}

// SeriesColor, SeriesGlyph and SeriesDashes are the colour, marker and
// line pattern of the i-th series (0-based); pages give each segment the
// same ones in every chart.
func SeriesColor(i int) color.Color { return Palette[i%len(Palette)] }

// SeriesGlyph is the marker of the i-th series.
func SeriesGlyph(i int) draw.GlyphDrawer { return Glyphs[i%len(Glyphs)] }

// SeriesDashes is the line pattern of the i-th series.
func SeriesDashes(i int) []vg.Length { return dashes[i%len(dashes)] }

// ChartSpec is what every chart takes besides its data: its axes' labels,
// its size (zero: 16 × 9 cm), where its legend goes, and a short text for
// readers who do not see it (the SVG's aria-label; the Figure's caption
// says what it shows).
type ChartSpec struct {
	XLabel, YLabel string
	Width, Height  vg.Length
	// XTicks, when set, names the x positions 0, 1, 2, ...
	XTicks []string
	// YMin and YMax, when not both zero, fix the y axis.
	YMin, YMax float64
	Label      string
}

func (s ChartSpec) size() (vg.Length, vg.Length) {
	w, h := s.Width, s.Height
	if w == 0 {
		w = 16 * vg.Centimeter
	}
	if h == 0 {
		h = 9 * vg.Centimeter
	}
	return w, h
}

// chart is a plot being built and its legend, drawn to the right of the
// plot rather than over its data.
type chart struct {
	p       *plot.Plot
	spec    ChartSpec
	legend  plot.Legend
	entries []string
}

// sansSerif is the font of every text of a chart.
func sansSerif(f *font.Font, size vg.Length) {
	f.Variant = "Sans"
	if size > 0 {
		f.Size = size
	}
}

// newChart is a plot with the axes' labels and fonts every chart shares.
func newChart(s ChartSpec) *chart {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = s.XLabel, s.YLabel
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font} {
		sansSerif(f, vg.Points(11))
	}
	for _, f := range []*font.Font{&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font} {
		sansSerif(f, vg.Points(9))
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = numberTicks{}, numberTicks{}
	if s.XTicks != nil {
		p.NominalX(s.XTicks...)
	}
	if s.YMin != 0 || s.YMax != 0 {
		p.Y.Min, p.Y.Max = s.YMin, s.YMax
	}
	c := &chart{p: p, spec: s, legend: plot.NewLegend()}
	sansSerif(&c.legend.TextStyle.Font, vg.Points(9))
	c.legend.Top, c.legend.Left = true, true
	c.legend.Padding = vg.Points(4)
	return c
}

// addLegend adds an entry to the chart's legend.
func (c *chart) addLegend(name string, thumbs ...plot.Thumbnailer) {
	c.legend.Add(name, thumbs...)
	c.entries = append(c.entries, name)
}

// numberTicks are gonum/plot's default ticks, with thousands separated.
type numberTicks struct{}

func (numberTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" && math.Abs(ts[i].Value) >= 1000 {
			ts[i].Label = Number(ts[i].Value, 0)
		}
	}
	return ts
}

// svg draws the chart as an SVG element to put inline in a page: without
// the XML prologue, sized by its viewBox so that it scales to the page,
// labelled for screen readers; the legend, if any, to the right.
func (c *chart) svg() ([]byte, error) {
	w, h := c.spec.size()
	cv := vgsvg.New(w, h)
	dc := draw.New(cv)
	if len(c.entries) > 0 {
		var lw vg.Length
		for _, e := range c.entries {
			lw = max(lw, c.legend.TextStyle.Width(e))
		}
		lw += c.legend.ThumbnailWidth + vg.Points(16)
		legendArea := draw.Crop(dc, w-lw, 0, vg.Points(6), -vg.Points(6))
		c.legend.Draw(legendArea)
		dc = draw.Crop(dc, 0, -lw, 0, 0)
	}
	c.p.Draw(dc)
	var b bytes.Buffer
	if _, err := cv.WriteTo(&b); err != nil {
		return nil, err
	}
	out := b.Bytes()
	start := bytes.Index(out, []byte("<svg"))
	end := bytes.IndexByte(out[max(start, 0):], '>')
	if start < 0 || end < 0 {
		return nil, fmt.Errorf("report: the SVG canvas wrote no <svg> element")
	}
	var res bytes.Buffer
	fmt.Fprintf(&res, `<svg viewBox="0 0 %s %s" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="%s">`,
		svgNum(w.Points()), svgNum(h.Points()), attrEscape(c.spec.Label))
	// The text is measured with Liberation Sans (gonum/plot's own fonts); a
	// reader without it gets a sans-serif of about its width rather than
	// the browser's default serif.
	res.Write(bytes.ReplaceAll(out[start+end+1:], []byte("font-family:Liberation Sans;"), []byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")))
	return res.Bytes(), nil
}

func svgNum(x float64) string { return fmt.Sprintf("%.4g", x) }

func attrEscape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&#34;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Series is one line of a LineChart: its name (in the legend) and its
// points; a NaN y leaves a gap.
type Series struct {
	Name string
	X, Y []float64
}

// LineChart draws each series as a line with a marker on each point, in
// its colour, glyph and dashes (SeriesColor, SeriesGlyph, SeriesDashes
// of its index), with a legend.
func LineChart(s ChartSpec, series []Series) ([]byte, error) {
	c := newChart(s)
	p := c.p
	for i, sr := range series {
		var pts plotter.XYs
		named := false
		flush := func() error {
			if len(pts) == 0 {
				return nil
			}
			l, sc, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			l.Color, l.Width, l.Dashes = SeriesColor(i), vg.Points(1.5), SeriesDashes(i)
			sc.Color, sc.Shape, sc.Radius = SeriesColor(i), SeriesGlyph(i), vg.Points(3)
			p.Add(l, sc)
			if !named {
				c.addLegend(sr.Name, l, sc)
				named = true
			}
			pts = nil
			return nil
		}
		for j := range sr.X {
			if math.IsNaN(sr.Y[j]) || math.IsInf(sr.Y[j], 0) {
				if err := flush(); err != nil {
					return nil, err
				}
				continue
			}
			pts = append(pts, plotter.XY{X: sr.X[j], Y: sr.Y[j]})
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return c.svg()
}

// Range is one row of a RangeChart: a label and five figures of a
// distribution (Low and High the whiskers' ends, Q1 and Q3 the box's, Mid
// a tick), any of which may be NaN (not drawn), and Mark, a figure drawn
// as a diamond (NaN: none).
type Range struct {
	Label                  string
	Low, Q1, Mid, Q3, High float64
	Mark                   float64
}

// RangeChart draws one horizontal row per range, the first on top, each
// labelled on the y axis and in its series' colour (SeriesColor of its
// index): a whisker from Low to High, a box from Q1 to Q3, a tick at Mid
// and a diamond at Mark. The legend names the parts: midName the tick,
// markName the diamond (empty: no legend entry), boxName the box and
// whiskerName the whisker.
func RangeChart(s ChartSpec, rows []Range, midName, boxName, whiskerName, markName string) ([]byte, error) {
	c := newChart(s)
	p := c.p
	labels := make([]string, len(rows))
	for i, r := range rows {
		labels[len(rows)-1-i] = r.Label
	}
	p.NominalY(labels...)
	rp := &rangePlotter{rows: rows}
	p.Add(rp)
	if s.YMin == 0 && s.YMax == 0 {
		p.Y.Min, p.Y.Max = -0.6, float64(len(rows))-0.4
	}
	add := func(name string, th plot.Thumbnailer) {
		if name != "" {
			c.addLegend(name, th)
		}
	}
	add(midName, thumb(func(c *draw.Canvas) {
		x := c.Center().X
		c.StrokeLine2(draw.LineStyle{Color: color.Black, Width: vg.Points(2.5)}, x, c.Min.Y, x, c.Max.Y)
	}))
	add(boxName, thumb(func(c *draw.Canvas) {
		c.FillPolygon(color.Gray{0xD0}, []vg.Point{c.Min, {X: c.Max.X, Y: c.Min.Y}, c.Max, {X: c.Min.X, Y: c.Max.Y}})
	}))
	add(whiskerName, thumb(func(c *draw.Canvas) {
		y := c.Center().Y
		c.StrokeLine2(draw.LineStyle{Color: color.Black, Width: vg.Points(1)}, c.Min.X, y, c.Max.X, y)
	}))
	add(markName, thumb(func(c *draw.Canvas) {
		c.DrawGlyph(draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: diamond{}}, c.Center())
	}))
	return c.svg()
}

type thumb func(c *draw.Canvas)

func (t thumb) Thumbnail(c *draw.Canvas) { t(c) }

type rangePlotter struct{ rows []Range }

func (rp *rangePlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, r := range rp.rows {
		for _, v := range []float64{r.Low, r.Q1, r.Mid, r.Q3, r.High, r.Mark} {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				xmin, xmax = math.Min(xmin, v), math.Max(xmax, v)
			}
		}
	}
	if xmin > xmax {
		xmin, xmax = 0, 1
	}
	return xmin, xmax, 0, float64(len(rp.rows) - 1)
}

func (rp *rangePlotter) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	ok := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	half := vg.Points(7)
	for i, r := range rp.rows {
		y := trY(float64(len(rp.rows) - 1 - i))
		col := SeriesColor(i)
		if ok(r.Low) && ok(r.High) {
			c.StrokeLine2(draw.LineStyle{Color: color.Black, Width: vg.Points(1)}, trX(r.Low), y, trX(r.High), y)
			for _, v := range []float64{r.Low, r.High} {
				c.StrokeLine2(draw.LineStyle{Color: color.Black, Width: vg.Points(1)}, trX(v), y-half/2, trX(v), y+half/2)
			}
		}
		if ok(r.Q1) && ok(r.Q3) {
			box := []vg.Point{{X: trX(r.Q1), Y: y - half}, {X: trX(r.Q3), Y: y - half}, {X: trX(r.Q3), Y: y + half}, {X: trX(r.Q1), Y: y + half}}
			c.FillPolygon(lighten(col), box)
			c.StrokeLines(draw.LineStyle{Color: col, Width: vg.Points(1)}, append(box, box[0]))
		}
		if ok(r.Mid) {
			c.StrokeLine2(draw.LineStyle{Color: color.Black, Width: vg.Points(2.5)}, trX(r.Mid), y-half, trX(r.Mid), y+half)
		}
		if ok(r.Mark) {
			c.DrawGlyph(draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: diamond{}}, vg.Point{X: trX(r.Mark), Y: y})
		}
	}
}

// lighten mixes a colour with three parts of white, for fills under text
// and lines.
func lighten(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8((v>>8 + 3*255) / 4) }
	return color.RGBA{mix(r), mix(g), mix(b), 0xFF}
}

// diamond is a filled diamond glyph.
type diamond struct{}

func (diamond) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	c.FillPolygon(sty.Color, []vg.Point{{X: pt.X, Y: pt.Y + r}, {X: pt.X + r, Y: pt.Y}, {X: pt.X, Y: pt.Y - r}, {X: pt.X - r, Y: pt.Y}})
}

// ColorScale gives a heatmap cell's colour for its value; NaN is grey.
type ColorScale func(v float64) color.Color

// Diverging is a blue–white–vermillion scale for figures around zero (such
// as z-scores): white at zero, full blue at -limit and below, full
// vermillion at +limit and above.
func Diverging(limit float64) ColorScale {
	if limit <= 0 {
		limit = 1
	}
	return func(v float64) color.Color {
		if math.IsNaN(v) {
			return color.Gray{0xC8}
		}
		t := math.Max(-1, math.Min(1, v/limit))
		end := [3]float64{0xD5, 0x5E, 0x00} // vermillion
		if t < 0 {
			end, t = [3]float64{0x00, 0x72, 0xB2}, -t // blue
		}
		return mix(end, t)
	}
}

// Sequential is a white-to-blue scale for figures from zero up (counts,
// shares): white at zero, full blue at top and above.
func Sequential(top float64) ColorScale {
	if top <= 0 {
		top = 1
	}
	return func(v float64) color.Color {
		if math.IsNaN(v) {
			return color.Gray{0xC8}
		}
		return mix([3]float64{0x00, 0x72, 0xB2}, math.Max(0, math.Min(1, v/top)))
	}
}

// mix is white moved a share t of the way to the colour end.
func mix(end [3]float64, t float64) color.Color {
	m := func(e float64) uint8 { return uint8(math.Round(255 + (e-255)*t)) }
	return color.RGBA{m(end[0]), m(end[1]), m(end[2]), 0xFF}
}

// Heatmap draws a grid of cells, rows labelled on the y axis (the first on
// top) and columns on the x axis, each cell coloured by scale and holding
// its value as text (format), so that no figure is told by colour alone. A
// NaN cell is grey and holds "–".
func Heatmap(s ChartSpec, rowLabels, colLabels []string, values [][]float64, scale ColorScale, format func(float64) string) ([]byte, error) {
	c := newChart(s)
	p := c.p
	p.NominalX(colLabels...)
	labels := make([]string, len(rowLabels))
	for i, l := range rowLabels {
		labels[len(rowLabels)-1-i] = l
	}
	p.NominalY(labels...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YTop
	p.X.Min, p.X.Max = -0.5, float64(len(colLabels))-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(rowLabels))-0.5
	p.X.Padding, p.Y.Padding = 0, 0
	p.Add(&heatPlotter{values: values, scale: scale, format: format})
	return c.svg()
}

type heatPlotter struct {
	values [][]float64
	scale  ColorScale
	format func(float64) string
}

func (hp *heatPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	cols := 0
	for _, r := range hp.values {
		cols = max(cols, len(r))
	}
	return -0.5, float64(cols) - 0.5, -0.5, float64(len(hp.values)) - 0.5
}

func (hp *heatPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.TextStyle{Color: color.Black, Font: p.X.Tick.Label.Font, XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: p.TextHandler}
	sty.Font.Size = vg.Points(8)
	n := len(hp.values)
	for i, row := range hp.values {
		y := float64(n - 1 - i)
		for j, v := range row {
			x := float64(j)
			cell := []vg.Point{{X: trX(x - 0.5), Y: trY(y - 0.5)}, {X: trX(x + 0.5), Y: trY(y - 0.5)}, {X: trX(x + 0.5), Y: trY(y + 0.5)}, {X: trX(x - 0.5), Y: trY(y + 0.5)}}
			fill, text := hp.scale(v), "–"
			if !math.IsNaN(v) {
				text = hp.format(v)
			}
			c.FillPolygon(fill, cell)
			c.StrokeLines(draw.LineStyle{Color: color.White, Width: vg.Points(1)}, append(cell, cell[0]))
			sty.Color = color.Black
			if luminance(fill) < 0.45 {
				sty.Color = color.White
			}
			c.FillText(sty, vg.Point{X: trX(x), Y: trY(y)}, text)
		}
	}
}

func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xFFFF
}
