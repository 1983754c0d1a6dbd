package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzCSVHeader writes arbitrary fields as a CSV record with encoding/csv
// and checks that the header parser reads back the same fields.
func FuzzCSVHeader(f *testing.F) {
	f.Add("customer_id,ts,amount", ',')
	f.Add(`"a,b";"c""d";e`, ';')
	f.Add("InvoiceNo\tStockCode\tQuantity", '\t')
	f.Fuzz(func(t *testing.T, line string, delim rune) {
		fields, err := ParseCSVHeader(line, delim)
		if err != nil || !validDelim(delim) || delim == 0 {
			return
		}
		for _, fl := range fields {
			if strings.ContainsAny(fl, "\r\n") || !strings.ContainsFunc(fl, func(r rune) bool { return r != ' ' }) {
				return // a header is one line; blank fields are not names
			}
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Comma = delim
		if err := w.Write(fields); err != nil {
			return // encoding/csv refuses this delimiter
		}
		w.Flush()
		again, err := ParseCSVHeader(strings.TrimRight(buf.String(), "\r\n"), delim)
		if err != nil {
			t.Fatalf("re-reading %q: %v", buf.String(), err)
		}
		if !slices.Equal(again, fields) {
			t.Fatalf("round trip of %q: got %q, want %q", buf.String(), again, fields)
		}
	})
}

func TestInspectCSV(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("\ufeffa;\"b;c\";d\r\n1;2;3\n"))
	zw.Close()
	cols, err := InspectCSV(write("x.csv.gz", gz.Bytes()), ';', true)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"a", "b;c", "d"}) {
		t.Errorf("gzip, BOM, quoted delimiter: names %q", names)
	}
	cols, err = InspectCSV(write("y.csv", []byte("1,2,3\n")), ',', false)
	if err != nil || len(cols) != 3 || cols[2].Name != "3" {
		t.Errorf("headerless: %v %v", cols, err)
	}
	for name, data := range map[string][]byte{
		"empty.csv":  nil,
		"dup.csv":    []byte("a,A\n"),
		"blank.csv":  []byte("a,,b\n"),
		"latin1.csv": []byte("caf\xe9,b\n"),
		"bad.csv.gz": {0x1f, 0x8b, 0, 1, 2},
	} {
		if _, err := InspectCSV(write(name, data), ',', true); !errors.Is(err, ErrNotText) {
			t.Errorf("%s: error %v, want ErrNotText", name, err)
		}
	}
	cols, err = InspectText(write("w.txt", []byte("  id   date  amount\n 1 2 3\n")), true)
	if err != nil || len(cols) != 3 || cols[1].Name != "date" {
		t.Errorf("text header: %v %v", cols, err)
	}
}
