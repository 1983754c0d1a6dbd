package engine

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// modulePath is the import path of this module; modRoot is its directory
// as seen from this package's tests.
const (
	modulePath = "github.com/crmseg/crmseg"
	modRoot    = ".."
)

// TestPackageBoundaries enforces the package layout (docs/architecture.md)
// for every package under each root, sub-packages included: the numerical
// packages (segment, scoring) import only the standard library, gonum and
// internal/nullable (standard library only); datasets and its sub-packages
// link neither DuckDB nor the engine; the engine's configuration and run
// record (engine/config, engine/manifest) do not link DuckDB; the shared
// helpers under internal (but the benchmarks') import the standard library
// only; and the segmentation control (engine/segmentation) and the
// scenarios' computation (engine/scenario) link neither DuckDB, Arrow nor
// the engine package. Only the engine's pipeline and run store (and
// the commands above them) link the DuckDB driver, which keeps the other
// test binaries fast to build. A root's rule holds for what its packages
// import directly (tests included) and for everything they reach through
// the module's own packages (non-test files), so datasets/synth importing
// a module package that links DuckDB fails as a direct import would. The
// benchmark-only code in internal/bench may link anything, and no package
// outside it imports it but from its tests: it stays out of the crmseg
// binary.
func TestPackageBoundaries(t *testing.T) {
	// internal/nullable imports the standard library only (checked as it
	// is reached).
	numerical := func(p string) bool {
		return isStdlib(p) || strings.HasPrefix(p, "gonum.org/v1/gonum/") || p == modulePath+"/internal/nullable"
	}
	allowed := map[string]func(path string) bool{
		"segment": numerical,
		"scoring": numerical,
		"datasets": func(p string) bool {
			return !strings.Contains(p, "duckdb") && p != modulePath+"/engine" && !strings.HasPrefix(p, modulePath+"/engine/")
		},
		// The shared helpers are leaves: the standard library only, so
		// that every package, the kernels included, may use them.
		"internal/durable":  isStdlib,
		"internal/sqlquote": isStdlib,
		"internal/nullable": isStdlib,
		"internal/cli":      isStdlib,
		"engine/config":     noDuckDB,
		"engine/manifest":   noDuckDB,
		// The segmentation control works on Go arrays: DuckDB, Arrow and
		// the engine stay outside, so its tests build without DuckDB.
		"engine/segmentation": func(p string) bool {
			return noDuckDB(p) && !strings.Contains(p, "arrow-go")
		},
		// The scenarios' computation works on the run's figures as Go
		// values, as the segmentation control does.
		"engine/scenario": func(p string) bool {
			return noDuckDB(p) && !strings.Contains(p, "arrow-go")
		},
		// The report pages are drawn from plain Go values, with the
		// standard library and gonum/plot only: the engine gathers the
		// figures.
		"engine/report": func(p string) bool {
			return isStdlib(p) || strings.HasPrefix(p, "gonum.org/v1/plot") || p == modulePath+"/engine/report" // its examples
		},
	}
	for root, ok := range allowed {
		root := filepath.FromSlash(root)
		pkgs := packageDirs(t, filepath.Join(modRoot, root))
		if len(pkgs) == 0 {
			t.Errorf("%s has no Go packages", root)
		}
		for _, dir := range pkgs {
			for _, imp := range imports(t, dir, true) {
				if !ok(imp.path) {
					t.Errorf("%s imports %s, which %s and its sub-packages may not", imp.file, imp.path, root)
					continue
				}
				if inModule(imp.path) {
					checkReached(t, imp.path, ok, root, dir, map[string]bool{})
				}
			}
		}
	}

	// internal/bench is for the benchmarks only: outside it, only tests
	// may import it.
	benchPath := modulePath + "/internal/bench"
	for _, dir := range packageDirs(t, modRoot) {
		if rel, _ := filepath.Rel(modRoot, dir); rel == filepath.Join("internal", "bench") || strings.HasPrefix(rel, filepath.Join("internal", "bench")+string(filepath.Separator)) {
			continue
		}
		for _, imp := range imports(t, dir, false) {
			if imp.path == benchPath || strings.HasPrefix(imp.path, benchPath+"/") {
				t.Errorf("%s imports %s: benchmark-only code, for tests and internal/bench/cmd only", imp.file, imp.path)
			}
		}
	}
}

// noDuckDB: a package that does not link the DuckDB driver, directly or
// through the engine's packages that do.
func noDuckDB(p string) bool {
	return !strings.Contains(p, "duckdb") && p != modulePath+"/engine" && p != modulePath+"/engine/store"
}

// checkReached checks, against ok, the imports of the module package path
// (non-test files) and, recursively, of the module packages it imports: what
// a package of root reaches from dir through it.
func checkReached(t *testing.T, path string, ok func(string) bool, root, from string, seen map[string]bool) {
	t.Helper()
	if seen[path] {
		return
	}
	seen[path] = true
	dir := filepath.Join(modRoot, filepath.FromSlash(strings.TrimPrefix(path, modulePath)))
	for _, imp := range imports(t, dir, false) {
		if !ok(imp.path) {
			t.Errorf("%s reaches %s through %s (%s), which %s and its sub-packages may not", from, imp.path, path, imp.file, root)
			continue
		}
		if inModule(imp.path) {
			checkReached(t, imp.path, ok, root, from, seen)
		}
	}
}

func inModule(path string) bool {
	return path == modulePath || strings.HasPrefix(path, modulePath+"/")
}

// packageDirs lists root and every directory below it that holds Go files,
// skipping what the go command skips: testdata and names starting with . or _.
func packageDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		files, err := filepath.Glob(filepath.Join(p, "*.go"))
		if err != nil {
			return err
		}
		if len(files) > 0 {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

type importRef struct{ file, path string }

// imports returns the imports of the Go files in dir, with the test files
// when tests is set.
func imports(t *testing.T, dir string, tests bool) []importRef {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var refs []importRef
	for _, f := range files {
		if !tests && strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			refs = append(refs, importRef{f, strings.Trim(imp.Path.Value, `"`)})
		}
	}
	return refs
}

// isStdlib reports whether an import path is in the standard library: its
// first element has no dot.
func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}
