package scenario_test

import (
	"fmt"

	"github.com/crmseg/crmseg/engine/scenario"
)

func ExampleParseSet() {
	changes, err := scenario.ParseSet("segment=3 retention_12m=+5% new_customers=200")
	if err != nil {
		panic(err)
	}
	for _, c := range changes {
		fmt.Println(c.Segment, c)
	}
	_, err = scenario.ParseSet("segment=3 retention_12m=0.7")
	fmt.Println(err)
	// Output:
	// 3 retention_12m=+0.05
	// 3 new_customers=200
	// scenario: --set "segment=3 retention_12m=0.7": retention_12m: expected a signed change in share points, such as +0.05 or -2%, found "0.7" (a level to reach is not taken: write the change from the baseline)
}

// Two customers, one alive with probability 0.5 and one certainly alive,
// with probabilities 0.4 and 0.6 of a purchase in the horizon: halving the
// first one's odds of having dropped out (from 1 to 1/2) adds 2/15 of an
// active customer.
func ExampleDropoutFactor() {
	k, err := scenario.DropoutFactor([]float64{0.5, 1}, []float64{0.4, 0.6}, 2.0/15)
	fmt.Printf("%.6f %v\n", k, err)
	_, err = scenario.DropoutFactor([]float64{0.5, 1}, []float64{0.4, 0.6}, 0.5)
	fmt.Println(err)
	// Output:
	// 0.500000 <nil>
	// at most 0.4 more customers with a purchase (1 expected, 1.4 with every customer the model holds as lost kept), found 0.5
}

// A segment of two customers active in the last 12 months whose baseline of
// active customers (the sum of their probabilities of a purchase) is 1.
// Retention +0.05 adds 0.05 × 2 = 0.1 of them: the first customer's
// probability goes from 0.4 to 0.5, its odds of having dropped out times
// 0.6, so its purchases and value grow by 0.5/0.4 = 1.25, and the
// segment's revenue by (1.25 + 1)/2 = 1.125; with an order value of +5%,
// by 1.18125. At a cost of 50, the 181.25 more revenue, 15.10 a month,
// pays back in 3.31 months: ROI (181.25 − 50)/50.
func ExampleCompute() {
	run := &scenario.Run{ID: "r", PurchaseModel: "bg_nbd", Segments: []scenario.Segment{{ID: 1, Name: "A", Customers: 2}},
		Customers: []scenario.Customer{
			{Segment: 1, Active12m: true, Buyer: true, PAlive: 0.5, PPurchase: 0.4, Purchases: 1, Spend: 500, CLV: 470},
			{Segment: 1, Active12m: true, Buyer: true, PAlive: 1, PPurchase: 0.6, Purchases: 1, Spend: 500, CLV: 470},
		},
		Targets: []scenario.Target{
			{Segment: 1, Metric: "active_customers_12m", Unit: "customers", Method: "bg_nbd", Baseline: 1, Low: 0.5, High: 1.5},
			{Segment: 1, Metric: "revenue_12m", Unit: "currency", Method: "bg_nbd_gamma_gamma", Baseline: 1000, Low: 800, High: 1200},
			{Segment: 1, Metric: "retention_12m", Unit: "share", Method: "last_12m_projection", Baseline: 0.5, Low: 0.4, High: 0.6},
		}}
	changes, _ := scenario.ParseSet("segment=1 retention_12m=+0.05")
	more, _ := scenario.ParseSet("segment=1 avg_order_value=+5%")
	res, err := scenario.Compute(run, scenario.Request{Changes: append(changes, more...), Cost: 50})
	if err != nil {
		panic(err)
	}
	for _, r := range res.Rows {
		if r.Segment == 1 || r.Metric == scenario.MetricROI || r.Metric == scenario.MetricPayback {
			fmt.Printf("%d %-22s %8.2f -> %8.2f\n", r.Segment, r.Metric, r.Baseline, r.Scenario)
		}
	}
	// Output:
	// 0 roi                         NaN ->     2.63
	// 0 payback_months              NaN ->     3.31
	// 1 revenue_12m             1000.00 ->  1181.25
	// 1 active_customers_12m       1.00 ->     1.10
	// 1 predicted_clv_12m        940.00 ->  1110.38
	// 1 retention_12m              0.50 ->     0.55
}
