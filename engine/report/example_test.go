package report_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/crmseg/crmseg/engine/report"
)

// A page of one section holding a table and a chart, as a page other than
// the run's report (a comparison of two runs) is built.
func ExamplePage_Render() {
	svg, err := report.LineChart(report.ChartSpec{XLabel: "month", YLabel: "share active", Label: "Retention of two segments"},
		[]report.Series{{Name: "1 Loyal", X: []float64{0, 1, 2}, Y: []float64{1, 0.6, 0.5}}, {Name: "2 New", X: []float64{0, 1, 2}, Y: []float64{1, 0.3, 0.2}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	page := report.Page{Title: "Two segments", Sections: []report.Section{{ID: "sizes", Title: "Sizes", Blocks: []report.Block{
		report.Table{ID: "sizes", Columns: []report.Column{{Title: "Segment"}, {Title: "Customers", Numeric: true}},
			Rows: [][]string{{"1 Loyal", report.Count(1200)}, {"2 New", report.Count(800)}}},
		report.Figure{ID: "retention", Caption: "The share of each segment's customers active each month.", SVG: svg},
	}}}}
	var b bytes.Buffer
	if err := page.Render(&b); err != nil {
		fmt.Println(err)
		return
	}
	html := b.String()
	table := html[strings.Index(html, `<div class="table-wrap">`):strings.Index(html, "<figure")]
	fmt.Print(table)
	fmt.Println(strings.Contains(html, `<figure data-chart="retention">`+"\n"+`<svg viewBox="0 0 453.5 255.1"`))
	// Output:
	// <div class="table-wrap"><table data-table="sizes">
	// <thead><tr><th scope="col">Segment</th><th scope="col" class="num">Customers</th></tr></thead>
	// <tbody>
	// <tr><td>1 Loyal</td><td class="num">1,200</td></tr>
	// <tr><td>2 New</td><td class="num">800</td></tr>
	// </tbody></table></div>
	// true
}

func ExampleNumber() {
	fmt.Println(report.Number(1234567.891, 2), report.Number(-0.04, 1), report.Percent(0.1234, 1), report.Count(20000))
	// Output: 1,234,567.89 0.0 12.3% 20,000
}
