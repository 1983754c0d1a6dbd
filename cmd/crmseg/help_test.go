package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// commandTree is crmseg's commands as the source dispatches them: the
// cases of Main's switch on args[0] and, for a command whose function
// switches on args[0] in turn (plan commit, plan show), its subcommands.
// It is read from the source so that a command added to the switch is in
// the tests below without a list to keep.
func commandTree(t *testing.T) [][]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]*ast.FuncDecl{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				funcs[fd.Name.Name] = fd
			}
		}
	}
	// cases are the commands a function's switch on args[0] dispatches,
	// each with the cmd function its case calls ("" for none).
	cases := func(fd *ast.FuncDecl) map[string]string {
		out := map[string]string{}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			sw, ok := n.(*ast.SwitchStmt)
			if !ok || switchTag(sw.Tag) != "args[0]" {
				return true
			}
			for _, s := range sw.Body.List {
				cc := s.(*ast.CaseClause)
				var called string
				ast.Inspect(cc, func(n ast.Node) bool {
					if c, ok := n.(*ast.CallExpr); ok && called == "" {
						if id, ok := c.Fun.(*ast.Ident); ok && strings.HasPrefix(id.Name, "cmd") {
							called = id.Name
						}
					}
					return true
				})
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok {
						name, _ := strconv.Unquote(lit.Value)
						out[name] = called
					}
				}
			}
			return false
		})
		return out
	}
	var tree [][]string
	var walk func(path []string, fd *ast.FuncDecl)
	walk = func(path []string, fd *ast.FuncDecl) {
		for name, called := range cases(fd) {
			if strings.HasPrefix(name, "-") || name == "help" || name == "version" {
				continue // help and version have no help of their own
			}
			p := append(slices.Clone(path), name)
			tree = append(tree, p)
			if sub := funcs[called]; sub != nil {
				walk(p, sub)
			}
		}
	}
	walk(nil, funcs["Main"])
	sort.Slice(tree, func(i, j int) bool { return strings.Join(tree[i], " ") < strings.Join(tree[j], " ") })
	if len(tree) < 10 {
		t.Fatalf("found only the commands %v in the source", tree)
	}
	return tree
}

// switchTag renders a switch's tag as source, enough to recognise args[0].
func switchTag(e ast.Expr) string {
	if ix, ok := e.(*ast.IndexExpr); ok {
		if id, ok := ix.X.(*ast.Ident); ok {
			if lit, ok := ix.Index.(*ast.BasicLit); ok {
				return id.Name + "[" + lit.Value + "]"
			}
		}
	}
	return ""
}

// TestEveryCommandHasAnExample: crmseg help names every command and shows
// examples, and every command's -h (a command with subcommands, and each
// subcommand) ends with an example of that command.
func TestEveryCommandHasAnExample(t *testing.T) {
	code, stdout, _ := run(t, "help")
	if code != 0 || !regexp.MustCompile(`\nExample:\n  crmseg \w+`).MatchString(stdout) {
		t.Errorf("crmseg help: exit %d, no example:\n%s", code, stdout)
	}
	for _, path := range commandTree(t) {
		if len(path) == 1 && !regexp.MustCompile(`(?m)^  `+regexp.QuoteMeta(path[0])+` `).MatchString(stdout) {
			t.Errorf("crmseg help does not list %s", path[0])
		}
		code, _, stderr := run(t, append(slices.Clone(path), "-h")...)
		cmd := strings.Join(path, " ")
		example := regexp.MustCompile(`\nExample:\n(  crmseg .*\n)+$`).FindString(stderr)
		if code != 0 || example == "" || !strings.Contains(example, "  crmseg "+cmd+" ") {
			t.Errorf("crmseg %s -h: exit %d, want an example of %q at the end:\n%s", cmd, code, "crmseg "+cmd, stderr)
		}
		if n := len(regexp.MustCompile(`(?m)^Examples?:$`).FindAllString(stderr, -1)); n != 1 {
			t.Errorf("crmseg %s -h: %d blocks of examples, want one (at the end):\n%s", cmd, n, stderr)
		}
	}
}

// TestRunFlagsPerCommand: run, train and validate list only the flags they
// use: train neither assigns with a model nor publishes, validate fits
// nothing.
func TestRunFlagsPerCommand(t *testing.T) {
	logging := []string{"log-format", "log-level", "no-progress"}
	for cmd, want := range map[string][]string{
		"run": {"config", "customers", "transactions", "products", "out", "k", "seed", "as-of", "threads", "cpuprofile",
			"model", "algorithm", "metrics-file", "keep-runs", "reset-segments"},
		"train": {"config", "customers", "transactions", "products", "out", "k", "seed", "as-of", "threads", "cpuprofile",
			"algorithm", "model-out", "reset-segments"},
		"validate": {"config", "customers", "transactions", "products", "out", "as-of", "threads", "model"},
	} {
		_, _, stderr := run(t, cmd, "-h")
		got := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(stderr, -1)
		var names []string
		for _, m := range got {
			names = append(names, m[1])
		}
		want = append(want, logging...)
		slices.Sort(names)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("%s -h lists %v, want %v", cmd, names, want)
		}
	}
	// A flag a command does not list is refused, not ignored.
	for _, c := range [][]string{{"validate", "--k", "3"}, {"validate", "--seed", "2"}, {"train", "--model", "m.json"}, {"train", "--keep-runs", "3"}} {
		code, _, stderr := run(t, c...)
		if code != exitUsage || !strings.Contains(stderr, "flag provided but not defined") {
			t.Errorf("%v: exit %d: %s", c, code, stderr)
		}
	}
}
