package scoring

import (
	"math"
	"slices"
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

// TestCheckDataStrayEarlyCustomer: the start of an export of an
// established base is not moved by a few stray first purchases dated
// before it (a test order, a row of another export). Measured from the
// single earliest first purchase, one customer three weeks before the
// rest hid that 40% of the customers first bought in the data's first week
// (The Complete Journey's sample with one basket line added on
// 2016-12-10 passed the check and was fitted).
func TestCheckDataStrayEarlyCustomer(t *testing.T) {
	var rows []RFM
	for i := range 500 {
		T := 52.0 - float64(i%7)/7 // 40% in the first week of 52
		if i%5 >= 2 {
			T = 52 - float64(1+i%51) // the others spread over the year
		}
		rows = append(rows, RFM{X: float64(i % 4), TX: float64(i%4) * 0.5, T: T})
	}
	if c := CheckData(rows, DataLimits{}); c.Sufficient() || c.StartShare < 0.35 {
		t.Fatalf("established base: share %v, problems %q", c.StartShare, c.Problems)
	}
	for _, stray := range [][]RFM{
		{{X: 1, TX: 10, T: 55}},                           // one customer three weeks earlier
		{{X: 0, T: 60}, {X: 2, TX: 30, T: 57}, {T: 53.5}}, // three, scattered before the start
	} {
		c := CheckData(append(slices.Clone(rows), stray...), DataLimits{})
		if c.Sufficient() || c.StartShare < 0.35 {
			t.Errorf("%d stray early customers: first-week share %v, problems %q; want the established base refused", len(stray), c.StartShare, c.Problems)
		}
	}
}

// TestSpendFrequencyCorrelation works a correlation out by hand: repeat
// counts 1, 2, 3 with mean spends 10, 30, 20 (weights 1) have deviations
// (-1, 0, 1) and (-10, 10, 0): covariance sum 10, variance sums 2 and 200,
// r = 10 / sqrt(400) = 0.5. A weight of 2 counts a row twice; customers
// without a repeat purchase do not count.
func TestSpendFrequencyCorrelation(t *testing.T) {
	rows := []Spend{{X: 1, ZBar: 10}, {X: 2, ZBar: 30}, {X: 3, ZBar: 20}, {X: 0, ZBar: 0}}
	if r, n := SpendFrequencyCorrelation(rows); math.Abs(r-0.5) > 1e-12 || n != 3 {
		t.Errorf("r = %v over %v buyers, want 0.5 over 3", r, n)
	}
	twice := []Spend{{X: 1, ZBar: 10, Weight: 2}, {X: 2, ZBar: 30}, {X: 3, ZBar: 20}}
	same := []Spend{{X: 1, ZBar: 10}, {X: 1, ZBar: 10}, {X: 2, ZBar: 30}, {X: 3, ZBar: 20}}
	a, na := SpendFrequencyCorrelation(twice)
	b, nb := SpendFrequencyCorrelation(same)
	if math.Abs(a-b) > 1e-12 || na != nb {
		t.Errorf("weight 2: r = %v over %v, want the duplicated row's %v over %v", a, na, b, nb)
	}
	if r, _ := SpendFrequencyCorrelation([]Spend{{X: 1, ZBar: 10}, {X: 1, ZBar: 20}}); !math.IsNaN(r) {
		t.Errorf("repeat counts that do not vary: r = %v, want NaN", r)
	}
}
