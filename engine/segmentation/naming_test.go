package segmentation

import "testing"

func TestTraitWords(t *testing.T) {
	for _, c := range []struct {
		name string
		z    float64
		want string
	}{
		{"category=books", 1, "books buyers"},
		{"channel=app", -1, "rarely app"},
		{"acquisition_channel=social", 1, "via social"},
		{"income_band=high_income", 1, "high income"},
		{"income_band=low", -1, "few low income"},
		{"household_size=2", 1, "household size 2"},
		{"kids_count=1", -0.8, "few kids count 1"},
		{"recency_days", 1.2, "long since last order"},
		{"orders_per_year", -0.6, "infrequent"},
		{"loyalty_points", 2, "high loyalty_points"},
	} {
		if got := traitWords(c.name, c.z); got != c.want {
			t.Errorf("traitWords(%q, %v) = %q, want %q", c.name, c.z, got, c.want)
		}
	}
}
