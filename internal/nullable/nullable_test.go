package nullable

import (
	"encoding/json"
	"math"
	"testing"
)

func TestFloatJSON(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{{1.5, "1.5"}, {0, "0"}, {math.NaN(), "null"}, {math.Inf(1), "null"}, {math.Inf(-1), "null"}} {
		b, err := json.Marshal(Float(c.in))
		if err != nil || string(b) != c.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", c.in, b, err, c.want)
		}
	}
	var f Float
	if err := json.Unmarshal([]byte("null"), &f); err != nil || !math.IsNaN(float64(f)) {
		t.Errorf("null read as %v, %v; want NaN", f, err)
	}
	if err := json.Unmarshal([]byte("2.25"), &f); err != nil || f != 2.25 {
		t.Errorf("2.25 read as %v, %v", f, err)
	}
}

func TestValue(t *testing.T) {
	if Value(math.NaN()) != nil || Value(math.Inf(-1)) != nil || Value(3) != 3.0 {
		t.Error("Value does not turn undefined figures into NULL and keep the others")
	}
	if String("") != nil || String("x") != "x" {
		t.Error("String does not turn empty into NULL and keep the others")
	}
}
