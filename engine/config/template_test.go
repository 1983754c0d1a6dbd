package config

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// templateKeys are the dotted keys of a template's lines, set or commented
// out ("#key: value"), each with the description line above it.
func templateKeys(t *testing.T, tmpl string) map[string]string {
	t.Helper()
	keyLine := regexp.MustCompile(`^( *)#?([a-z0-9_]+):`)
	keys := map[string]string{}
	var stack []string
	var help string
	for _, line := range strings.Split(tmpl, "\n") {
		if d, ok := strings.CutPrefix(strings.TrimLeft(line, " "), "# "); ok {
			help = d
			continue
		}
		m := keyLine.FindStringSubmatch(line)
		if m == nil {
			help = ""
			continue
		}
		depth := len(m[1]) / 2
		stack = append(stack[:min(depth, len(stack))], m[2])
		keys[strings.Join(stack, ".")] = help
		help = ""
	}
	return keys
}

// configKeys are the keys of the config file, read from Config's fields:
// through structs and pointers to structs, not into lists and maps. The
// keys of an input file (InputSpec) are returned as "inputs.*.KEY".
func configKeys(t reflect.Type, prefix string, out *[]string) {
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		*out = append(*out, key)
		ft := t.Field(i).Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == reflect.TypeFor[InputSpec]():
			if !strings.Contains(prefix, "*") {
				configKeys(ft, "inputs.*", out)
			}
		case ft.Kind() == reflect.Struct:
			configKeys(ft, key, out)
		}
	}
}

// TestTemplateHasEveryKey: the template of crmseg config init has a line,
// with a description above it, for every key Config knows (an input
// file's keys under at least one input), and no description of a key
// Config does not know.
func TestTemplateHasEveryKey(t *testing.T) {
	got := templateKeys(t, Template())
	var want []string
	configKeys(reflect.TypeFor[Config](), "", &want)
	want = slices.Compact(slices.Sorted(slices.Values(want)))
	if len(want) < 60 {
		t.Fatalf("found only %d keys in Config: %v", len(want), want)
	}
	for _, k := range want {
		if inner, ok := strings.CutPrefix(k, "inputs.*."); ok {
			found := false
			for g := range got {
				found = found || regexp.MustCompile(`^inputs\.[a-z]+\.`+inner+`$`).MatchString(g)
			}
			if !found {
				t.Errorf("the template shows the input key %s under no input", inner)
			}
			continue
		}
		help, ok := got[k]
		switch {
		case !ok:
			t.Errorf("the template lacks the key %s (add it to keyDocs)", k)
		case len(help) < 10:
			t.Errorf("key %s: description %q (describe it in keyDocs)", k, help)
		}
	}
	for k := range keyDocs {
		if _, ok := got[k]; !ok {
			t.Errorf("keyDocs describes %s, which the template does not show (a key Config does not have?)", k)
		}
	}
}

// TestTemplateDecodesToDefaults: the template as printed decodes without a
// problem to DefaultConfig (with its transactions path) and validates; with
// every commented-out line set, it still decodes without a problem (every
// example is of its key's type).
func TestTemplateDecodesToDefaults(t *testing.T) {
	tmpl := Template()
	var got Config
	if err := DecodeConfig([]byte(tmpl), &got); err != nil || len(got.decodeProblems) > 0 {
		t.Fatalf("template: %v %v", err, got.decodeProblems)
	}
	got.keyLines = nil
	want := DefaultConfig()
	want.Inputs.Transactions.Path = "transactions.csv"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the template decodes to\n%+v\nwant the defaults\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("template: %v", err)
	}

	set := regexp.MustCompile(`(?m)^( *)#([a-z0-9_-])`).ReplaceAllString(tmpl, "$1$2")
	all := DefaultConfig()
	if err := DecodeConfig([]byte(set), &all); err != nil || len(all.decodeProblems) > 0 {
		t.Fatalf("every line set: %v %v\n%s", err, all.decodeProblems, set)
	}
	if all.Segmentation.ChooseK == nil || all.AsOf != "2025-12-31" || len(all.Segmentation.Features) != len(DefaultFeatures) ||
		all.Inputs.Customers.Path != "customers.csv" || all.Inputs.Transactions.Columns["ts"] != "InvoiceDate" {
		t.Errorf("every line set: %+v", all)
	}
}
