//go:build !linux

package engine

// physicalMemory is the machine's memory in bytes; 0 when unknown (here:
// always, and DuckDB's own default applies).
func physicalMemory() int64 { return 0 }
