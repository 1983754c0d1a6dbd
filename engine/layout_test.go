package engine

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageBoundaries enforces the layout of DESIGN: the numerical
// packages import only the standard library and gonum, and nothing but
// engine (and the command above it) links the DuckDB driver, which keeps
// their test binaries fast to build.
func TestPackageBoundaries(t *testing.T) {
	allowed := map[string]func(path string) bool{
		"segment": pure,
		"scoring": pure,
		"datasets": func(p string) bool {
			return !strings.Contains(p, "duckdb") && !strings.HasPrefix(p, "github.com/crmseg/crmseg/engine")
		},
	}
	for pkg, ok := range allowed {
		files, err := filepath.Glob(filepath.Join("..", pkg, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Errorf("package %s has no Go files", pkg)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p := strings.Trim(imp.Path.Value, `"`)
				if !ok(p) {
					t.Errorf("%s imports %s, which package %s may not", f, p, pkg)
				}
			}
		}
	}
}

// pure says what the numerical packages may import: the standard library,
// gonum, and internal/nullable, which imports the standard library only.
func pure(p string) bool {
	return isStdlib(p) || strings.HasPrefix(p, "gonum.org/v1/gonum/") || p == "github.com/crmseg/crmseg/internal/nullable"
}

// isStdlib reports whether an import path is in the standard library: its
// first element has no dot.
func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}
