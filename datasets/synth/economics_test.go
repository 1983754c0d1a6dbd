package synth

import (
	"math"
	"path/filepath"
	"testing"
)

// The truth of the acquisition channels holds on the data the generator
// writes: each channel's share of customers, mean acquisition cost and mean
// net spend to date, within the sampling error of 20,000 customers.
func TestAcquisitionTruth(t *testing.T) {
	dir, _ := generate(t, Config{Customers: 20000, Seed: 3})
	customers := readRows[customerRow](t, filepath.Join(dir, "customers.parquet"))
	lines := readRows[transactionRow](t, filepath.Join(dir, "transactions.parquet"))
	channel := map[string]string{}
	n, cost, spend := map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, c := range customers {
		channel[c.CustomerID] = c.AcquisitionChannel
		n[c.AcquisitionChannel]++
		cost[c.AcquisitionChannel] += c.AcquisitionCost
	}
	for _, l := range lines {
		spend[channel[l.CustomerID]] += l.Amount
	}
	truth := Acquisition(Config{}, 12, 0.01)
	if len(truth) != len(AcquisitionChannels) {
		t.Fatalf("%d channels, want %d", len(truth), len(AcquisitionChannels))
	}
	var shares float64
	for _, e := range truth {
		c := e.Channel
		shares += e.Share
		share, cac, value := n[c]/float64(len(customers)), cost[c]/n[c], spend[c]/n[c]
		t.Logf("%-12s share %.3f (truth %.3f)  CAC %6.2f (%5.2f)  value to date %6.1f (%6.1f)  to 12 months after %6.1f",
			c, share, e.Share, cac, e.CAC, value, e.ValueToDate, e.HorizonValue)
		if math.Abs(share-e.Share) > 0.01 {
			t.Errorf("%s: %.3f of the customers, truth %.3f", c, share, e.Share)
		}
		if math.Abs(cac-e.CAC) > 0.03*e.CAC {
			t.Errorf("%s: mean acquisition cost %.2f, truth %.2f", c, cac, e.CAC)
		}
		if math.Abs(value/e.ValueToDate-1) > 0.12 {
			t.Errorf("%s: mean net spend to date %.1f, truth %.1f", c, value, e.ValueToDate)
		}
		if !(e.HorizonValue > e.ValueToDate) {
			t.Errorf("%s: value to 12 months after the end %.1f, not above the value to date %.1f", c, e.HorizonValue, e.ValueToDate)
		}
		var mix float64
		for _, p := range e.GroupMix {
			mix += p
		}
		if math.Abs(mix-1) > 1e-9 {
			t.Errorf("%s: group mix sums to %g", c, mix)
		}
	}
	if math.Abs(shares-1) > 1e-9 {
		t.Errorf("channel shares sum to %g", shares)
	}
}
