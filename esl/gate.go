package esl

import (
	"context"
	"errors"
)

// ErrWithheld is the error of a command whose gate (WithGate) was closed
// when its turn came: it was not written to FreeSWITCH.
var ErrWithheld = errors.New("withheld: its gate was closed when its turn came, so it was not sent")

type gateKey struct{}

// WithGate returns a context whose commands may go to FreeSWITCH only while
// open reports true. The gate is asked on the goroutine that writes to the
// socket, when the command's turn comes, just before its bytes go out:
// whatever the caller checked before (a lease, say) may have changed while
// the command waited for a connection, for the commands ahead of it, or
// while the whole process was paused. open must be quick and must not
// block.
func WithGate(ctx context.Context, open func() bool) context.Context {
	return context.WithValue(ctx, gateKey{}, open)
}

// GateOpen reports whether ctx's commands may go now: true without a gate.
func GateOpen(ctx context.Context) bool {
	open, _ := ctx.Value(gateKey{}).(func() bool)
	return open == nil || open()
}
