// Package nullable is crmseg's one home for figures that may be undefined:
// a NaN or infinite float64 (a silhouette of one segment, a model that did
// not converge) is written as null, in JSON and in DuckDB tables alike,
// and a null read back is NaN. It imports the standard library only, so
// that the numerical packages may use it.
package nullable

import (
	"database/sql/driver"
	"encoding/json"
	"math"
)

// Float is a float64 written as JSON null when it is NaN or infinite, and
// read from null as NaN.
type Float float64

// MarshalJSON writes a NaN or infinite figure as null.
func (f Float) MarshalJSON() ([]byte, error) {
	if !defined(float64(f)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON reads null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}

// Value is v as a value for a DuckDB column: NULL (nil) when NaN or
// infinite.
func Value(v float64) driver.Value {
	if !defined(v) {
		return nil
	}
	return v
}

// String is s as a value for a DuckDB column: NULL (nil) when empty.
func String(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}

func defined(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
