package local

import (
	"context"
	"errors"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/procid"
)

// retarget is a signal fault on an engine run, which can end on its own
// between the moment it is picked and the signal (a run lasts seconds):
// when the target is gone at Inject, the engine is picked again, up to
// a few times, instead of failing the run with "process is gone".
type retarget struct {
	*fault.Signal
	pick func(ctx context.Context) (*fault.Signal, error)
}

// retargetTries bounds the picks after the first target was gone.
const retargetTries = 5

func (r *retarget) Inject(ctx context.Context) error {
	err := r.Signal.Inject(ctx)
	for i := 0; i < retargetTries && errors.Is(err, procid.ErrGone); i++ {
		next, perr := r.pick(ctx)
		if perr != nil {
			return errors.Join(err, perr)
		}
		r.Signal = next
		err = r.Signal.Inject(ctx)
	}
	return err
}
