package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestValidateReportsTimestampRules: validate names the rows the timestamp
// rules caught, how many and an example, and the rows and customers outside
// the window of an explicit as_of, which are not in the reject share.
func TestValidateReportsTimestampRules(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("customer_id,ts,amount\n")
	for i := range 40 {
		b.WriteString("C" + string(rune('a'+i%20)) + ",2025-0" + string(rune('1'+i%6)) + "-15,10\n")
	}
	b.WriteString("Cz,9999-12-31 23:59:59,5\nCa,0001-01-01,5\n")
	tx := filepath.Join(dir, "tx.csv")
	if err := os.WriteFile(tx, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("inputs:\n  transactions: tx.csv\ntoday: \"2025-07-01\"\nrejects:\n  max_share: 0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "validate", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{
		"42 read, 40 accepted, 2 rejected",
		"timestamp in the future                    1  " + tx + ` row 41, ts "9999-12-31 23:59:59"`,
		"timestamp far outside the data             1  " + tx + ` row 42, ts "0001-01-01"`,
		"as_of 2025-06-15",
		"customers: 20 ",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("summary lacks %q:\n%s", w, stdout)
		}
	}

	// Replayed as of 2025-03-31: the later rows are outside the window.
	code, stdout, stderr = run(t, "validate", "--config", cfg, "--as-of", "2025-03-31")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	for _, w := range []string{
		// 21 rows up to as_of, 20 after it (the 9999 row among them).
		"42 read, 21 accepted, 1 rejected (4.55%",
		// Four customers, Cz among them, bought only after as_of.
		"outside the window (after as_of 2025-03-31, not rejected): 20 transaction rows; 4 customers, not yet customers then",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("replay summary lacks %q:\n%s", w, stdout)
		}
	}
}

// TestValidateReportsBlocksDatesAndProducts: validate names the stray block
// of days it rejected, warns of a larger separated block, lists the
// customer dates set to null and the repeated product_ids rejected (the
// malformed cases 37, 38, 41 and 42).
func TestValidateReportsBlocksDatesAndProducts(t *testing.T) {
	cases := filepath.Join("..", "..", "engine", "testdata", "malformed")
	for _, c := range []struct {
		dir  string
		want []string
	}{
		{"37-default-as-of-stray-blocks", []string{
			"733 read, 731 accepted, 2 rejected",
			"timestamp far outside the data             2  ",
			`row 1, ts "2022-09-01 09:00:00"`,
			"as_of 2025-06-30;",
		}},
		{"38-default-as-of-separated-block", []string{
			"781 read, 781 accepted, 0 rejected",
			"warning: 50 rows (6.40%) dated 1970-01-01 to 1970-01-01 lie in a block separated from the rest by a gap of 19539 days (wider than 31 days; not rejected)",
		}},
		{"41-customer-dates-out-of-range", []string{
			"values set to null, the customers kept (first example):",
			"customers    signup_date far before the data                       2  ",
			`row 2, signup_date "0001-01-01"`,
			"customers    signup_date in the future                             1  ",
			"customers    birth_date gives an age below 0 or above 120          2  ",
			"customers: 20 (20 with an order)",
		}},
		{"42-duplicate-product-ids", []string{
			"products     duplicate product_id                       1  ",
			`row 4, product_id "P1001 "`,
		}},
	} {
		code, stdout, stderr := run(t, "validate", "--config", filepath.Join(cases, c.dir, "config.yaml"))
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.dir, code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s: summary lacks %q:\n%s", c.dir, w, stdout)
			}
		}
	}
}

// TestValidateRefusesWhatRunRefuses: a configuration run refuses before it
// reads a row, validate refuses too, with the same message and exit code:
// a feature the inputs cannot supply, a model file that is not there or
// was trained on other features, an output root whose latest is not a
// link, a metrics file in a directory that does not exist.
func TestValidateRefusesWhatRunRefuses(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("customer_id,ts,amount\n")
	for i := range 60 {
		b.WriteString("C" + string(rune('a'+i%20)) + ",2025-0" + string(rune('1'+i%6)) + "-1" + string(rune('0'+i%7)) + "," + string(rune('1'+i%9)) + "0\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "tx.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name, yaml string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("inputs:\n  transactions: tx.csv\ntoday: \"2025-07-01\"\n"+yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// A model trained on recency_days alone.
	model := filepath.Join(dir, "model.json")
	trainCfg := write("train.yaml", "output: train-out\nsegmentation:\n  k: 2\n  features: [{name: recency_days}]\n")
	if code, _, stderr := run(t, "train", "--config", trainCfg, "--model-out", model); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	if err := os.MkdirAll(filepath.Join(dir, "dir-out", "latest"), 0o755); err != nil {
		t.Fatal(err)
	}
	lastLine := func(stderr string) string {
		var last string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, "crmseg: ") {
				last = l
			}
		}
		return last
	}
	for _, c := range []struct{ name, yaml, want string }{
		{"feature", "output: out\nsegmentation:\n  features: [{name: recency_days}, {name: age}]\n",
			"segmentation.features: age needs input column birth_date, which the inputs do not have"},
		{"no-model", "output: out\nsegmentation:\n  model: nothing.json\n", "segmentation.model: open " + filepath.Join(dir, "nothing.json")},
		{"other-features", "output: out\nsegmentation:\n  model: model.json\n  features: [{name: recency_days}, {name: orders}]\n",
			"segmentation.model: the model file " + model + " was trained on the features recency_days; the configuration's segmentation.features list recency_days, orders: with orders"},
		{"latest", "output: dir-out\n", "latest is a directory, not the symbolic link"},
		{"metrics", "output: out\nmetrics_file: no-such-dir/crmseg.prom\n", "metrics_file: directory " + filepath.Join(dir, "no-such-dir") + " does not exist"},
	} {
		cfg := write(c.name+".yaml", c.yaml)
		runCode, _, runErr := run(t, "run", "--config", cfg)
		valCode, _, valErr := run(t, "validate", "--config", cfg)
		if runCode != exitUsage || !strings.Contains(runErr, c.want) {
			t.Errorf("%s: run exit %d, want %d and %q:\n%s", c.name, runCode, exitUsage, c.want, runErr)
		}
		if valCode != runCode || lastLine(valErr) != lastLine(runErr) {
			t.Errorf("%s: validate exit %d, %q; run exit %d, %q", c.name, valCode, lastLine(valErr), runCode, lastLine(runErr))
		}
	}
	// The model and the features it was trained on pass.
	cfg := write("fits.yaml", "output: out\nsegmentation:\n  model: model.json\n  features: [{name: recency_days}]\n")
	if code, _, stderr := run(t, "validate", "--config", cfg); code != 0 {
		t.Errorf("a fitting model: validate exit %d: %s", code, stderr)
	}

	// A category column no line fills: the default features leave
	// categories out, and a model trained on them is no misfit before the
	// rows are read.
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	cat := lines[0] + ",category\n" + strings.Join(lines[1:], ",\n") + ",\n"
	if err := os.WriteFile(filepath.Join(dir, "tx-cat.csv"), []byte(cat), 0o644); err != nil {
		t.Fatal(err)
	}
	catModel := filepath.Join(dir, "cat-model.json")
	catYAML := "inputs:\n  transactions: tx-cat.csv\ntoday: \"2025-07-01\"\noutput: cat-out\nsegmentation:\n  k: 2\n"
	if err := os.WriteFile(filepath.Join(dir, "cat.yaml"), []byte(catYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := run(t, "train", "--config", filepath.Join(dir, "cat.yaml"), "--model-out", catModel); code != 0 || !strings.Contains(stdout, "2 segments on 20 customers, 5 features") {
		t.Fatalf("train without categories: exit %d: %s%s", code, stderr, stdout)
	}
	for _, cmd := range []string{"validate", "run"} {
		if code, _, stderr := run(t, cmd, "--config", filepath.Join(dir, "cat.yaml"), "--model", catModel); code != 0 {
			t.Errorf("%s with the model trained without categories: exit %d: %s", cmd, code, stderr)
		}
	}
}

// TestConfigInitValidates: the template crmseg config init prints is a
// config file validate accepts as it is, beside the transactions file it
// names.
func TestConfigInitValidates(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := run(t, "config", "init")
	if code != 0 || !strings.Contains(stdout, "\n    path: transactions.csv\n") {
		t.Fatalf("config init: exit %d: %s%s", code, stderr, stdout)
	}
	cfg := filepath.Join(dir, "crmseg.yaml")
	if err := os.WriteFile(cfg, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("customer_id,ts,amount\n")
	for i := range 40 {
		b.WriteString("C" + string(rune('a'+i%20)) + ",2025-0" + string(rune('1'+i%6)) + "-15,10\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "transactions.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := run(t, "validate", "--config", cfg); code != 0 || !strings.Contains(stdout, "40 read, 40 accepted") {
		t.Errorf("validate of the template: exit %d: %s%s", code, stderr, stdout)
	}
	if code, _, stderr := run(t, "config", "init", "--out", "x"); code != exitUsage || !strings.Contains(stderr, "flag provided but not defined: -out") {
		t.Errorf("config init --out: exit %d: %s", code, stderr)
	}
}

// TestValidateRefusesDemographicLevels: a demographic of more levels than
// a demographic may have is refused by validate as by run (exit 2, naming
// it), and one of the most levels allowed passes both.
func TestValidateRefusesDemographicLevels(t *testing.T) {
	dir := t.TempDir()
	var tx, cust strings.Builder
	tx.WriteString("customer_id,ts,amount\n")
	cust.WriteString("customer_id,wide,most\n")
	for i := range 202 {
		id := "C" + strconv.Itoa(i)
		cust.WriteString(id + ",w" + strconv.Itoa(i%101) + ",m" + strconv.Itoa(i%100) + "\n")
		tx.WriteString(id + ",2025-0" + strconv.Itoa(1+i%6) + "-1" + strconv.Itoa(i%9) + "," + strconv.Itoa(10+i%50) + "\n")
	}
	for name, text := range map[string]string{"tx.csv": tx.String(), "cust.csv": cust.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		column string
		code   int
	}{{"wide", exitUsage}, {"most", 0}} {
		cfg := filepath.Join(dir, c.column+".yaml")
		yaml := "inputs:\n  transactions: tx.csv\n  customers: {path: cust.csv, attributes: [" + c.column + "]}\ntoday: \"2025-07-01\"\n" +
			"output: out-" + c.column + "\nsegmentation:\n  k: 2\n  demographics: [" + c.column + "]\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		want := "segmentation.demographics: wide has 101 distinct values, more than the 100 a demographic may have"
		for _, cmd := range []string{"validate", "run"} {
			code, _, stderr := run(t, cmd, "--config", cfg)
			if code != c.code || (c.code != 0 && !strings.Contains(stderr, want)) {
				t.Errorf("%s, demographic %s: exit %d, want %d:\n%s", cmd, c.column, code, c.code, stderr)
			}
		}
	}
}
