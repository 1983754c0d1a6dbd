// Package sqlquote quotes names and strings for DuckDB's SQL. Identifiers
// that come from the configuration or the input are always quoted; values
// are bound as parameters wherever DuckDB takes one, and quoted as
// literals only where it does not (COPY targets, ATTACH paths, SET values).
package sqlquote

import "strings"

// Ident quotes an SQL identifier.
func Ident(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Literal quotes an SQL string literal.
func Literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
