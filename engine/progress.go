package engine

// Progress follows one long step of a run for a progress display. A run
// reports to one Progress at a time, from one goroutine.
type Progress interface {
	// Add reports n more units of the step done.
	Add(n int)
	// Done ends the step, whether all its units were done or it failed.
	// Calls after the first do nothing.
	Done()
}

// Steps a run reports progress for, with their units.
const (
	StepLoad     = "loading inputs"       // inputs loaded and staging models built
	StepRestarts = "k-means restarts"     // restarts of the k-means fit
	StepChooseK  = "choosing k"           // restarts of every k-means fit (each k, each bootstrap)
	StepFit      = "fitting value models" // customer-value models fitted
	StepWrite    = "writing tables"       // output tables written
)

type noProgress struct{}

func (noProgress) Add(int) {}
func (noProgress) Done()   {}

// progress starts a step of total units (0 when not known in advance).
func (r *run) progress(step string, total int) Progress {
	if r.opts.Progress != nil {
		if p := r.opts.Progress(step, total); p != nil {
			return p
		}
	}
	return noProgress{}
}
