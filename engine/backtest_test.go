package engine

import (
	"testing"
	"time"
)

func TestSpanBefore(t *testing.T) {
	end := time.Date(1998, 6, 30, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ span, want string }{
		{"39w", "1997-09-30"}, // the CDNOW calibration end
		{"273d", "1997-09-30"},
		{"6m", "1997-12-30"},
		{"1d", "1998-06-29"},
	} {
		if _, _, ok := parseSpan(c.span); !ok {
			t.Errorf("%s: not a span", c.span)
			continue
		}
		if got := spanBefore(end, c.span).Format(time.DateOnly); got != c.want {
			t.Errorf("%s before 1998-06-30 = %s, want %s", c.span, got, c.want)
		}
	}
	for _, bad := range []string{"", "0w", "39", "w", "-3m", "3y", "39 w", "12345d"} {
		if _, _, ok := parseSpan(bad); ok {
			t.Errorf("%q accepted as a span", bad)
		}
	}
}
