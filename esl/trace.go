package esl

import (
	"context"
	"time"
)

// A CommandTrace, attached to a command's context with WithCommandTrace,
// hears when the command is written to FreeSWITCH's socket: after it waited
// for a connection and for the commands ahead of it there. A reaction time
// measured to that moment is this replica's own, free of the network and of
// FreeSWITCH's work.
type CommandTrace struct {
	// Written is called at most once, on the goroutine writing to the
	// socket, once the command's bytes went out; at is when they were
	// handed to the socket, which FreeSWITCH may have read before the call.
	// It must not block. It is not called for a command that never left.
	Written func(at time.Time)
}

type traceKey struct{}

// WithCommandTrace returns a context whose commands report to t.
func WithCommandTrace(ctx context.Context, t *CommandTrace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

func commandTrace(ctx context.Context) *CommandTrace {
	t, _ := ctx.Value(traceKey{}).(*CommandTrace)
	if t == nil || t.Written == nil {
		return nil
	}
	return t
}
