package segmentation

import (
	"github.com/crmseg/crmseg/engine/manifest"
	"github.com/crmseg/crmseg/scoring"
)

// LifecycleWindows returns the windows a segment's status is judged over
// when the data's first order is historyDays before as_of: new is a first
// order in the last third of the history, active an order in the last
// half, each at most 365 days. With four years of history or more both are
// the last 12 months; in a one-year export they are the last four and six
// months, so that a customer who first bought a year ago is not new.
func LifecycleWindows(historyDays int) manifest.Lifecycle {
	historyDays = max(historyDays, 0)
	return manifest.Lifecycle{
		HistoryDays: historyDays,
		NewDays:     min(365, max(historyDays/3, 1)),
		ActiveDays:  min(365, max(historyDays/2, 1)),
	}
}

// valueTier places a segment's mean historical value against the
// population's: High at 1.5 times or more, Low at half or less, Mid
// between.
func valueTier(value, popValue float64) string {
	switch {
	case value >= 1.5*popValue:
		return scoring.TierHigh
	case value <= 0.5*popValue:
		return scoring.TierLow
	}
	return scoring.TierMid
}

// lifecycleStatus is a segment's status from the share of its customers
// who are new and active (LifecycleWindows): new when half or more are new,
// active when 60% or more are active, lapsing at 25% or more, lapsed
// below.
func lifecycleStatus(newShare, activeShare float64) string {
	switch {
	case newShare >= 0.5:
		return scoring.StatusNew
	case activeShare >= 0.6:
		return scoring.StatusActive
	case activeShare >= 0.25:
		return scoring.StatusLapsing
	}
	return scoring.StatusLapsed
}
