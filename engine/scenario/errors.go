package scenario

import "fmt"

// Error is a scenario that cannot be computed as asked: a malformed or
// unknown change, a segment the run does not have, a change that takes a
// share out of [0, 1] or asks more of the models than they can give, a
// change the run cannot carry (its value models were not used, a metric it
// leaves out), a run that cannot be read. What names the flag or argument
// with its value; Problem says what was expected and what was found.
// Nothing was written.
type Error struct {
	What    string
	Problem string
}

func (e *Error) Error() string {
	return fmt.Sprintf("scenario: %s: %s", e.What, e.Problem)
}
