package engine

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// These tests read the registry and the embedded SQL only: no DuckDB.

// TestRegistryFiles: every embedded .sql file is a registered model or a
// declared other use, and every registered file exists, once.
func TestRegistryFiles(t *testing.T) {
	embedded := map[string]bool{}
	err := fs.WalkDir(sqlFS, "sql", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(p, ".sql") {
			t.Errorf("%s: not an .sql file", p)
			return nil
		}
		embedded[strings.TrimSuffix(strings.TrimPrefix(p, "sql/"), ".sql")] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int{}
	for _, m := range sqlModels {
		used[m.file]++
	}
	for f := range sqlOtherUses {
		used[f]++
	}
	for f := range embedded {
		if used[f] == 0 {
			t.Errorf("sql/%s.sql: not in the registry (sqlModels) nor in sqlOtherUses", f)
		}
	}
	for f, n := range used {
		if !embedded[f] {
			t.Errorf("%s: registered, but there is no sql/%s.sql", f, f)
		}
		if n > 1 {
			t.Errorf("%s: registered %d times", f, n)
		}
	}
	built := map[string]string{}
	for _, m := range sqlModels {
		if m.mat == matRead || m.mat == matCheck {
			continue
		}
		if other, ok := built[m.relation()]; ok {
			t.Errorf("%s and %s both build %s", other, m.file, m.relation())
		}
		built[m.relation()] = m.file
		if _, ok := goSources[m.relation()]; ok && m.stage != "" {
			t.Errorf("%s: builds %s, which goSources says Go makes", m.file, m.relation())
		}
	}
}

// TestRegistryDependencies: each model reads exactly the relations it
// declares, each declared relation is built by an earlier or the same
// stage or made by Go, bound parameters are named, and the stage and
// materialisation fit together.
func TestRegistryDependencies(t *testing.T) {
	stageOf := map[string]int{} // relation -> position of its stage; -1: built by Go on its own
	for _, m := range sqlModels {
		if m.mat == matRead || m.mat == matCheck {
			continue
		}
		stageOf[m.relation()] = slices.Index(buildStages, m.stage)
	}
	for src := range goSources {
		if _, ok := stageOf[src]; !ok {
			stageOf[src] = -1
		}
	}
	for _, m := range sqlModels {
		q, err := modelSQL(m.file)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, p := range checkModel(m, q) {
			t.Errorf("%s: %s", m.file, p)
		}
		switch {
		case m.stage != "" && !slices.Contains(buildStages, m.stage):
			t.Errorf("%s: stage %q is not one of %v", m.file, m.stage, buildStages)
		case m.stage == "" && m.mat == matCheck:
			t.Errorf("%s: a check needs a stage", m.file)
		case m.stage != "" && (m.mat == matRead || m.mat == matGoTable):
			t.Errorf("%s: a %s is run by Go, not by a stage", m.file, m.mat)
		}
		if m.stage == "" {
			continue
		}
		own := slices.Index(buildStages, m.stage)
		for _, d := range m.deps {
			if at, ok := stageOf[d]; ok && at > own {
				t.Errorf("%s (stage %s) reads %s, which a later stage (%s) builds", m.file, m.stage, d, buildStages[at])
			}
		}
	}
}

// checkModel compares a registered model's SQL with its declaration.
func checkModel(m sqlModel, q string) []string {
	var problems []string
	reads, creates := relationsRead(q)
	deps := slices.Clone(m.deps)
	slices.Sort(deps)
	if !slices.Equal(reads, deps) {
		problems = append(problems, fmt.Sprintf("reads %v but declares deps %v", reads, deps))
	}
	for _, d := range m.deps {
		if !isRelation(d) {
			problems = append(problems, fmt.Sprintf("dependency %s is neither built by a registered model nor a Go source (goSources)", d))
		}
	}
	switch {
	case m.mat == matGoTable && creates != m.relation():
		problems = append(problems, fmt.Sprintf("a go table's file must create %s, it creates %q", m.relation(), creates))
	case m.mat != matGoTable && creates != "":
		problems = append(problems, fmt.Sprintf("a %s's file must be a query, it creates %s", m.mat, creates))
	}
	if n := bindParams(q); n != len(m.params) {
		problems = append(problems, fmt.Sprintf("binds %d parameters, declares %d (%v)", n, len(m.params), m.params))
	}
	return problems
}

// isRelation reports whether a registered model builds the relation, or Go makes it.
func isRelation(name string) bool {
	if _, ok := goSources[name]; ok {
		return true
	}
	for _, m := range sqlModels {
		if m.relation() == name && m.mat != matRead && m.mat != matCheck {
			return true
		}
	}
	return false
}

// TestRegistryUndeclaredJoin: a join of a relation the model does not
// declare is caught.
func TestRegistryUndeclaredJoin(t *testing.T) {
	m, ok := registeredModel("marts/customer_segments")
	if !ok {
		t.Fatal("marts/customer_segments not registered")
	}
	q, err := modelSQL(m.file)
	if err != nil {
		t.Fatal(err)
	}
	if p := checkModel(*m, q); len(p) > 0 {
		t.Fatalf("as registered: %v", p)
	}
	i := strings.LastIndex(q, "select * from final")
	if i < 0 {
		t.Fatal("no final select")
	}
	bad := q[:i] + "select final.* from final\njoin foo on final.cust_idx = foo.cust_idx\n"
	p := checkModel(*m, bad)
	if len(p) == 0 || !strings.Contains(p[0], "foo") {
		t.Fatalf("join foo not caught: %v", p)
	}
}

// TestRegistryOrder: the dependencies have no cycle, and each stage builds
// every model after the models of the stage it reads.
func TestRegistryOrder(t *testing.T) {
	// No cycle over the whole registry.
	byRel := map[string]*sqlModel{}
	for i := range sqlModels {
		if m := &sqlModels[i]; m.mat != matRead && m.mat != matCheck {
			byRel[m.relation()] = m
		}
	}
	state := map[string]int{}
	var visit func(rel string, path []string)
	visit = func(rel string, path []string) {
		m, ok := byRel[rel]
		if !ok || state[rel] == 2 {
			return
		}
		if state[rel] == 1 {
			t.Errorf("dependency cycle: %s", strings.Join(append(path, rel), " -> "))
			return
		}
		state[rel] = 1
		for _, d := range m.deps {
			visit(d, append(path, rel))
		}
		state[rel] = 2
	}
	for rel := range byRel {
		visit(rel, nil)
	}

	for _, stage := range buildStages {
		order, err := modelOrder(stage)
		if err != nil {
			t.Fatal(err)
		}
		if len(order) == 0 {
			t.Errorf("stage %s builds nothing", stage)
		}
		pos := map[string]int{}
		for i, m := range order {
			pos[m.relation()] = i
		}
		for i, m := range order {
			for _, d := range m.deps {
				if j, ok := pos[d]; ok && j >= i {
					t.Errorf("stage %s: %s is built before %s, which it reads", stage, m.file, d)
				}
			}
		}
	}
	if _, err := modelOrderOf([]sqlModel{
		{file: "marts/a", stage: "x", mat: matTable, deps: []string{"b"}},
		{file: "marts/b", stage: "x", mat: matTable, deps: []string{"a"}},
	}, "x"); err == nil {
		t.Error("a cycle is not reported")
	}
}

// TestRelationsRead: the parser behind TestRegistryDependencies.
func TestRelationsRead(t *testing.T) {
	for _, c := range []struct {
		sql     string
		reads   []string
		creates string
	}{
		{"select * from a", []string{"a"}, ""},
		{"with x as (select * from a), y (c) as (select 1) select * from x join y on true left join b as bb on true", []string{"a", "b"}, ""},
		{"select * from a, params where a.x is distinct from params.y", []string{"a", "params"}, ""},
		{"select extract(year from ts), (select max(v) from c) from read_parquet('f.parquet') as f", []string{"c"}, ""},
		{"-- from comment\nselect 'from x' from \"Quoted Name\" q", []string{"Quoted Name"}, ""},
		{"select * from a where id in (select id from b) and exists (select 1 from c)", []string{"a", "b", "c"}, ""},
		{"create or replace table t (a integer)", nil, "t"},
		{"select * from (select * from a) as s cross join b", []string{"a", "b"}, ""},
		{"with l as not materialized (select * from a), m as materialized (select * from l) select * from m join b on true", []string{"a", "b"}, ""},
		{"select * from m union all select * from (unpivot (select id, g from f) on g into name d value v)", []string{"f", "m"}, ""},
	} {
		reads, creates := relationsRead(c.sql)
		if !slices.Equal(reads, c.reads) || creates != c.creates {
			t.Errorf("%q: reads %v creates %q, want %v %q", c.sql, reads, creates, c.reads, c.creates)
		}
	}
	if n := bindParams("select $1, $2::date, '$3'"); n != 2 {
		t.Errorf("bindParams: %d, want 2", n)
	}
}
