package engine

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
)

// Peak resident memory, for the manifest's per-stage and per-run figures.
//
// On Linux, each stage's peak is its own: writing 5 to /proc/self/clear_refs
// resets the kernel's high-water mark of the process's resident set (VmHWM
// in /proc/self/status) at the stage's start, and VmHWM at its end is the
// highest the resident set reached during the stage. Where clear_refs is not
// writable (another system, a locked-down container), a stage's figure is
// getrusage's maxrss: the process's peak so far, which never goes down.
// Both are process-wide: memory other goroutines (or another run in the same
// process) hold during the stage counts.
//
// Resetting VmHWM also resets what getrusage reports on Linux, so the
// process's peak is kept here: every reading is folded into rssPeak.max, and
// PeakRSS is the highest of it and the current readings.

// Values of Manifest.StagePeakRSS: how the per-stage peaks were measured.
const (
	StagePeakRSSStage  = "stage"        // each stage's own peak (VmHWM reset at its start)
	StagePeakRSSSoFar  = "run_so_far"   // the process's peak up to the stage's end (getrusage maxrss)
	StagePeakRSSAbsent = "not_measured" // no figure on this system
)

var rssPeak struct {
	sync.Mutex
	max int64 // the highest reading so far, across resets
}

// PeakRSS is the process's peak resident set size in bytes since it
// started, including before any VmHWM reset; 0 where it is not measured.
func PeakRSS() int64 {
	rssPeak.Lock()
	defer rssPeak.Unlock()
	return foldPeakRSS()
}

// foldPeakRSS folds the current readings into rssPeak.max and returns it;
// the caller holds rssPeak.
func foldPeakRSS() int64 {
	rssPeak.max = max(rssPeak.max, vmHWM(), maxRSS())
	return rssPeak.max
}

// startStagePeakRSS begins a stage's measurement: it resets VmHWM where it
// can and says how the stage's peak will be measured.
func startStagePeakRSS() string {
	rssPeak.Lock()
	defer rssPeak.Unlock()
	foldPeakRSS()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err == nil && vmHWM() > 0 {
		return StagePeakRSSStage
	}
	if maxRSS() > 0 {
		return StagePeakRSSSoFar
	}
	return StagePeakRSSAbsent
}

// stagePeakRSS is the peak of the stage begun with startStagePeakRSS, as
// that call said it would be measured, in bytes.
func stagePeakRSS(how string) int64 {
	rssPeak.Lock()
	defer rssPeak.Unlock()
	var v int64
	switch how {
	case StagePeakRSSStage:
		v = vmHWM()
	case StagePeakRSSSoFar:
		v = maxRSS()
	}
	// Folded in: PeakRSS is never below a stage's figure.
	rssPeak.max = max(rssPeak.max, v)
	foldPeakRSS()
	return v
}

// vmHWM is VmHWM of /proc/self/status in bytes: the resident set's
// high-water mark since the process started or VmHWM was last reset; 0
// where there is no such file.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:"))
		if !ok {
			continue
		}
		kb, ok := bytes.CutSuffix(bytes.TrimSpace(rest), []byte(" kB"))
		if !ok {
			return 0
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(kb)), 10, 64)
		if err != nil {
			return 0
		}
		return n * 1024
	}
	return 0
}
