package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDocumentedSegments runs the demo and the three public datasets as
// docs/segments.md shows them, and checks that each run publishes the
// segments the page's table for it lists: IDs, names, objectives, sizes
// and historical LTV. It pins the naming and objective rules on real data,
// and keeps the page true. The public configs read ../shared/data beside
// the project; without it only the demo is checked.
func TestDocumentedSegments(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo and three public datasets")
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "segments.md"))
	if err != nil {
		t.Fatal(err)
	}
	tables := documentedSegments(t, string(doc))
	data := filepath.Join("..", "..", "..", "shared", "data")
	for _, name := range []string{"demo", "online_retail", "completejourney", "cdnow_master"} {
		t.Run(name, func(t *testing.T) {
			want, ok := tables[name]
			if !ok {
				t.Fatalf("docs/segments.md has no table marked <!-- segments: %s -->", name)
			}
			dir := t.TempDir()
			args := []string{"demo", "--out", dir}
			root := filepath.Join(dir, "out")
			if name != "demo" {
				if _, err := os.Stat(data); err != nil {
					t.Skipf("public datasets not found at %s: %v", data, err)
				}
				config := filepath.Join("..", "..", "datasets", "public", name+".yaml")
				root = dir
				args = []string{"run", "--config", config, "--out", root, "--no-progress"}
			}
			if code, _, stderr := run(t, args...); code != 0 {
				t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, stderr)
			}
			got := publishedSegments(t, filepath.Join(root, "latest", "segments.parquet"))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s publishes\n%s\ndocs/segments.md lists\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// documentedSegments reads the tables of docs/segments.md, each after a
// line <!-- segments: NAME -->, as rows "id | segment | objective |
// customers | historical LTV" with the code marks and the numbers'
// thousands separators taken out.
func documentedSegments(t *testing.T, doc string) map[string][]string {
	t.Helper()
	marker := regexp.MustCompile(`^<!-- segments: (\S+) -->$`)
	out := map[string][]string{}
	name := ""
	for _, line := range strings.Split(doc, "\n") {
		if m := marker.FindStringSubmatch(line); m != nil {
			name = m[1]
			continue
		}
		if name == "" {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if len(out[name]) > 0 {
				name = ""
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.ReplaceAll(strings.TrimSpace(cells[i]), "`", "")
			if i >= 3 {
				cells[i] = strings.ReplaceAll(cells[i], ",", "") // thousands
			}
		}
		if _, err := strconv.Atoi(cells[0]); err != nil {
			continue // the header and its rule
		}
		out[name] = append(out[name], strings.Join(cells, " | "))
	}
	return out
}

// publishedSegments reads a run's segments table as documentedSegments
// reads the page's.
func publishedSegments(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT segment_id, segment_name, objective, customers, historical_ltv FROM read_parquet($1) ORDER BY segment_id", path)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, customers int64
		var name, objective string
		var ltv float64
		if err := rows.Scan(&id, &name, &objective, &customers, &ltv); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d | %s | %s | %d | %.2f", id, name, objective, customers, ltv))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
