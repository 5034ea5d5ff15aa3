// Package support says what an environment can do. It sits below every
// provider, fault and storage package so that all of them (and the scenario
// validator) speak of one thing when a scenario cannot run somewhere.
package support

import (
	"errors"
	"fmt"
)

// Unsupported says an environment cannot do an action, and why. The runner
// reports it as a void run with the reason, never as a pass.
type Unsupported struct {
	Action string
	Env    string
	Reason string
}

func (u *Unsupported) Error() string {
	return fmt.Sprintf("%s is not supported by provider %s: %s", u.Action, u.Env, u.Reason)
}

// IsUnsupported reports whether err is (or wraps) an *Unsupported.
func IsUnsupported(err error) bool {
	var u *Unsupported
	return errors.As(err, &u)
}
