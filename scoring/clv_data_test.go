package scoring

import (
	"strings"
	"testing"
)

func TestCheckData(t *testing.T) {
	// Simulated BG/NBD customers acquired over 12 weeks: every limit met.
	rows, _ := simulateBGNBD(2000, BGNBD{0.4, 6, 0.7, 3}, GammaGamma{5, 4, 15}, 7)
	c := CheckData(rows, DataLimits{})
	if !c.Sufficient() || c.Customers != 2000 || c.RepeatBuyers == 0 || c.Span != 39 || c.DistinctX < 3 {
		t.Errorf("simulated data: %+v", c)
	}
	if c.StartShare < 0.05 || c.StartShare > 0.12 {
		t.Errorf("first-week share %v, want about 7/84 = 0.083", c.StartShare)
	}

	// Ten customers over three weeks, all starting on the first day: every
	// limit fails, and each says what it found.
	var tiny []RFM
	for i := range 10 {
		tiny = append(tiny, RFM{X: float64(i % 2), TX: float64(i%2) * 2, T: 3})
	}
	tiny = append(tiny, RFM{X: 0, T: 0}) // no history yet: not counted
	c = CheckData(tiny, DataLimits{})
	want := []string{"10 customers whose first purchase is before the end date (a history to fit), need 50", "5 repeat buyers, need 30",
		"a calibration span of 3 weeks, need 8 weeks", "2 distinct numbers of repeat purchases, need 3", "100.0% of the customers first bought within 1 week of"}
	if c.Sufficient() || len(c.Problems) != len(want) {
		t.Fatalf("tiny data: %q", c.Problems)
	}
	for i, w := range want {
		if !strings.HasPrefix(c.Problems[i], w) {
			t.Errorf("problem %d = %q, want %q...", i, c.Problems[i], w)
		}
	}

	// Weights count customers; limits can be lowered.
	c = CheckData([]RFM{{X: 0, T: 10, Weight: 50}, {X: 1, TX: 5, T: 20, Weight: 60}, {X: 4, TX: 8, T: 12, Weight: 10}}, DataLimits{})
	if c.Customers != 120 || c.RepeatBuyers != 70 || c.StartShare != 0.5 || c.Sufficient() {
		t.Errorf("weighted: %+v", c)
	}
	if c := CheckData(tiny, DataLimits{MinCustomers: 5, MinRepeatBuyers: 5, MinSpan: 2, MinDistinctX: 2, MaxStartShare: 1}); !c.Sufficient() {
		t.Errorf("lowered limits: %q", c.Problems)
	}
}
