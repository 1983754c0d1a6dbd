package engine

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// sqlToken is one token of an SQL text: a word (lowercased unless quoted),
// or a single punctuation character.
type sqlToken struct {
	text   string
	word   bool
	quoted bool
}

// tokenizeSQL splits SQL into words and punctuation, dropping comments,
// string literals and whitespace.
func tokenizeSQL(q string) []sqlToken {
	var out []sqlToken
	r := []rune(q)
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '-' && i+1 < len(r) && r[i+1] == '-':
			for i < len(r) && r[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(r) && r[i+1] == '*':
			i += 2
			for i+1 < len(r) && !(r[i] == '*' && r[i+1] == '/') {
				i++
			}
			i += 2
		case c == '\'':
			i++
			for i < len(r) {
				if r[i] == '\'' {
					if i+1 < len(r) && r[i+1] == '\'' {
						i += 2
						continue
					}
					break
				}
				i++
			}
			i++
			out = append(out, sqlToken{text: "''"})
		case c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(r) {
				if r[j] == '"' {
					if j+1 < len(r) && r[j+1] == '"' {
						b.WriteRune('"')
						j += 2
						continue
					}
					break
				}
				b.WriteRune(r[j])
				j++
			}
			out = append(out, sqlToken{text: b.String(), word: true, quoted: true})
			i = j + 1
		case c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c) || c == '$':
			j := i
			for j < len(r) && (r[j] == '_' || r[j] == '$' || unicode.IsLetter(r[j]) || unicode.IsDigit(r[j])) {
				j++
			}
			out = append(out, sqlToken{text: strings.ToLower(string(r[i:j])), word: true})
			i = j
		default:
			out = append(out, sqlToken{text: string(c)})
			i++
		}
	}
	return out
}

// sqlKeywords are words that never name a relation or a function call
// whose parentheses could hold FROM (extract(x from y) and the like).
var sqlKeywords = map[string]bool{
	"materialized": true, "pivot": true, "unpivot": true, "select": true, "from": true, "where": true, "join": true, "on": true, "using": true, "as": true, "and": true,
	"or": true, "not": true, "in": true, "exists": true, "with": true, "recursive": true, "union": true, "all": true,
	"by": true, "name": false, "group": true, "order": true, "having": true, "qualify": true, "window": true,
	"over": true, "filter": true, "partition": true, "left": true, "right": true, "full": true, "outer": true,
	"inner": true, "cross": true, "semi": true, "anti": true, "asof": true, "positional": true, "natural": true,
	"lateral": true, "limit": true, "offset": true, "case": true, "when": true, "then": true, "else": true,
	"end": true, "is": true, "null": true, "distinct": true, "except": true, "intersect": true, "values": true,
	"table": true, "view": true, "create": true, "replace": true, "temp": true, "temporary": true, "insert": true,
	"into": true, "set": true, "update": true, "delete": true, "returning": true, "between": true, "like": true,
	"ilike": true, "any": true, "some": true, "array": true, "struct": true, "interval": true, "cast": false,
}

// relationsRead returns the relations a query reads: the names after FROM
// and JOIN (and after the commas of a FROM list) that are not its own CTE
// names, nor table functions (read_parquet(...), range(...)). FROM inside
// a function call's parentheses (extract(year from ts)) is not a relation.
// It also returns the relation a CREATE statement creates, if any.
func relationsRead(q string) (reads []string, creates string) {
	toks := tokenizeSQL(q)
	ctes := map[string]bool{}
	// A CTE: after WITH or a comma, name as ( or name (columns) as (.
	for i := 1; i+2 < len(toks); i++ {
		prev := toks[i-1].text
		if !toks[i].word || sqlKeywords[toks[i].text] || (prev != "with" && prev != "," && prev != "recursive") {
			continue
		}
		j := i + 1
		if toks[j].text == "(" {
			for j < len(toks) && toks[j].text != ")" {
				j++
			}
			j++
		}
		if j+1 < len(toks) && toks[j].text == "as" {
			k := j + 1
			if toks[k].text == "not" && k+1 < len(toks) {
				k++
			}
			if toks[k].text == "materialized" && k+1 < len(toks) {
				k++
			}
			if toks[k].text == "(" {
				ctes[toks[i].text] = true
			}
		}
	}
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].text == "create" {
			j := i + 1
			for j < len(toks) && (toks[j].text == "or" || toks[j].text == "replace" || toks[j].text == "temp" || toks[j].text == "temporary") {
				j++
			}
			if j+1 < len(toks) && (toks[j].text == "table" || toks[j].text == "view") {
				creates = toks[j+1].text
			}
		}
	}
	// The kind of each open parenthesis: a function call's or a group's.
	var parens []bool // true: function call
	seen := map[string]bool{}
	relation := func(i int) int {
		// toks[i] starts a relation; returns the index after it and its alias.
		if i >= len(toks) {
			return i
		}
		t := toks[i]
		if t.text == "lateral" {
			return i
		}
		if !t.word || sqlKeywords[t.text] || unicode.IsDigit([]rune(t.text)[0]) {
			return i
		}
		name := t.text
		j := i + 1
		for j+1 < len(toks) && toks[j].text == "." && toks[j+1].word { // schema.table
			name += "." + toks[j+1].text
			j += 2
		}
		if j < len(toks) && toks[j].text == "(" { // a table function
			return j
		}
		if !ctes[name] {
			seen[name] = true
		}
		if j < len(toks) && toks[j].text == "as" {
			j++
		}
		if j < len(toks) && toks[j].word && !sqlKeywords[toks[j].text] {
			j++ // alias
		}
		return j
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.text == "(":
			call := i > 0 && toks[i-1].word && !toks[i-1].quoted && !sqlKeywords[toks[i-1].text]
			parens = append(parens, call)
		case t.text == ")":
			if len(parens) > 0 {
				parens = parens[:len(parens)-1]
			}
		case t.word && !t.quoted && (t.text == "from" || t.text == "join"):
			if len(parens) > 0 && parens[len(parens)-1] {
				continue // extract(epoch from ts)
			}
			if i > 0 && toks[i-1].text == "distinct" {
				continue // a is distinct from b
			}
			j := relation(i + 1)
			for t.text == "from" && j < len(toks) && toks[j].text == "," {
				j = relation(j + 1)
			}
			i = j - 1
		}
	}
	for n := range seen {
		reads = append(reads, n)
	}
	sort.Strings(reads)
	return reads, creates
}

// bindParams returns the highest $n parameter a query binds.
func bindParams(q string) int {
	n := 0
	for _, t := range tokenizeSQL(q) {
		if m := paramPattern.FindStringSubmatch(t.text); m != nil {
			k := 0
			for _, d := range m[1] {
				k = k*10 + int(d-'0')
			}
			n = max(n, k)
		}
	}
	return n
}

var paramPattern = regexp.MustCompile(`^\$([0-9]+)$`)
