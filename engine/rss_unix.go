//go:build unix

package engine

import (
	"runtime"
	"syscall"
)

// maxRSS is getrusage's peak resident set size of the process in bytes.
// On Linux it follows VmHWM, resets included.
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) // bytes there
	}
	return int64(ru.Maxrss) * 1024 // kilobytes on Linux and the BSDs
}
