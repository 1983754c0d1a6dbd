package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrNotText is wrapped by InspectCSV and InspectText when a file cannot be
// read as delimited text: empty, not UTF-8, or a broken header.
var ErrNotText = errors.New("not a readable text file")

// OpenText opens a file, decompressing it when it is gzip (by its magic
// bytes, whatever its name). A directory or a broken gzip stream wraps
// ErrNotText. The caller calls the returned close function.
func OpenText(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w: it is a directory", path, ErrNotText)
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w: broken gzip stream: %v", path, ErrNotText, err)
		}
		return zr, func() error { return errors.Join(zr.Close(), f.Close()) }, nil
	}
	return br, f.Close, nil
}

// firstLine returns the first line of a text file (without its line end),
// checking that it is UTF-8.
func firstLine(path string) (string, error) {
	r, closeFn, err := OpenText(path)
	if err != nil {
		return "", err
	}
	defer closeFn()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("%s: %w: %v", path, ErrNotText, err)
	}
	line = strings.TrimRight(line, "\r\n")
	line = strings.TrimPrefix(line, "\ufeff") // a byte-order mark is not part of the first name
	if strings.TrimSpace(line) == "" {
		return "", fmt.Errorf("%s: %w: empty file or empty first line", path, ErrNotText)
	}
	if !utf8.ValidString(line) {
		return "", fmt.Errorf("%s: %w: the first line is not UTF-8 text", path, ErrNotText)
	}
	if strings.IndexByte(line, 0) >= 0 {
		return "", fmt.Errorf("%s: %w: binary content (NUL byte) in the first line", path, ErrNotText)
	}
	return line, nil
}

// InspectCSV reads the first record of a CSV file (gzip too) and returns the
// column names: the header's, or "1", "2", ... when header is false. A
// header with an empty or repeated name is an error, since its columns
// could not be told apart.
func InspectCSV(path string, delimiter rune, header bool) ([]FileColumn, error) {
	line, err := firstLine(path)
	if err != nil {
		return nil, err
	}
	names, err := ParseCSVHeader(line, delimiter)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: header: %v", path, ErrNotText, err)
	}
	return textColumns(path, names, header)
}

// ParseCSVHeader splits one CSV line into fields with RFC 4180 quoting.
func ParseCSVHeader(line string, delimiter rune) ([]string, error) {
	if delimiter == 0 {
		delimiter = ','
	}
	if !validDelim(delimiter) {
		return nil, fmt.Errorf("delimiter %q cannot separate CSV fields", delimiter)
	}
	cr := csv.NewReader(strings.NewReader(line))
	cr.Comma = delimiter
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	rec, err := cr.Read()
	if err != nil {
		return nil, err
	}
	return rec, nil
}

func validDelim(r rune) bool {
	return r != '"' && r != '\r' && r != '\n' && r != utf8.RuneError && utf8.ValidRune(r)
}

// InspectText reads the first line of a text file whose columns are
// separated by runs of white space (gzip too) and returns the column names:
// the header's, or "1", "2", ... when header is false.
func InspectText(path string, header bool) ([]FileColumn, error) {
	line, err := firstLine(path)
	if err != nil {
		return nil, err
	}
	return textColumns(path, strings.Fields(line), header)
}

func textColumns(path string, fields []string, header bool) ([]FileColumn, error) {
	cols := make([]FileColumn, len(fields))
	seen := map[string]bool{}
	for i, f := range fields {
		name := strconv.Itoa(i + 1)
		if header {
			name = strings.TrimSpace(f)
			if name == "" {
				return nil, fmt.Errorf("%s: %w: header column %d has no name", path, ErrNotText, i+1)
			}
			key := strings.ToLower(name)
			if seen[key] {
				return nil, fmt.Errorf("%s: %w: header names column %q twice", path, ErrNotText, name)
			}
			seen[key] = true
		}
		cols[i] = FileColumn{Name: name, Family: "text", Type: "text"}
	}
	return cols, nil
}
