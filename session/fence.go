package session

import (
	"context"
	"sync"
	"time"

	"bgcall/esl"
)

// leaseFence keeps FreeSWITCH's side effects behind the replica's lease, as
// the store keeps its writes behind the session's fence. A replica that was
// paused (SIGSTOP, a stalled VM, a long GC) or cut off from Redis past its
// lease may have lost its sessions to another replica, which may have
// bridged the very legs this one still has timers for. So a command goes to
// FreeSWITCH only while the last renewal is recent enough, measured on the
// monotonic clock from before that renewal was sent; and after a lapse the
// replica asks the store about every session it steers before it acts again.
type leaseFence struct {
	ttl    time.Duration
	margin time.Duration

	mu    sync.Mutex
	until time.Time // monotonic; commands may go before this
	// rechecking is set while the sessions steered across a lapse are
	// asked about again: nothing goes to FreeSWITCH until they all were.
	rechecking bool
}

func newLeaseFence(ttl time.Duration) *leaseFence {
	// A renewal is sent every ttl/3, so a held lease is renewed well
	// within the ttl less the margin; the margin covers the time between
	// the check and the command, and clocks that run at slightly
	// different rates.
	return &leaseFence{ttl: ttl, margin: ttl / 5}
}

// held reports whether commands may go to FreeSWITCH now.
func (f *leaseFence) held() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.rechecking && time.Now().Before(f.until)
}

// renewed records a renewal sent at sent and acknowledged. It returns true
// if the lease had lapsed before it: the caller must then recheck every
// session and call resume.
func (f *leaseFence) renewed(sent time.Time) (lapsed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lapsed = !f.until.IsZero() && !sent.Before(f.until)
	if lapsed {
		f.rechecking = true
	}
	f.until = sent.Add(f.ttl - f.margin)
	return lapsed
}

// resume lets commands go again once the sessions were rechecked.
func (f *leaseFence) resume() {
	f.mu.Lock()
	f.rechecking = false
	f.mu.Unlock()
}

// mayAct reports whether a command for session id may go to FreeSWITCH,
// and says why when it may not. The context it returns asks the fence once
// more when the command's turn comes on the node's connection, just before
// it is written (esl.WithGate): the process may be paused, or the command
// held up, between this check and the write, long enough for the lease to
// pass to another replica.
func (e *Engine) mayAct(ctx context.Context, what, id string) (context.Context, bool) {
	if e.fence.held() {
		return esl.WithGate(ctx, e.fence.held), true
	}
	e.log.Warn("lease not held: command withheld", "command", what, "session", id)
	return ctx, false
}

// renew heartbeats the lease and, if it had lapsed, has every worker ask
// the store about each session it steers (recheck lets go of those another
// replica took meanwhile) before commands may go again.
func (e *Engine) renew(ctx context.Context) error {
	sent := time.Now()
	if err := e.opt.Store.Heartbeat(ctx, e.opt.Replica, e.now()); err != nil {
		return err
	}
	if !e.fence.renewed(sent) {
		return nil
	}
	e.log.Warn("lease lapsed (paused or cut off from Redis): commands to FreeSWITCH withheld until every session is checked again",
		"lapse", time.Since(sent), "live_sessions", e.Live())
	for _, w := range e.workers {
		done := make(chan struct{})
		select {
		case w.inbox <- job{kind: jobRecheckAll, done: done}:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.fence.resume()
	e.log.Info("lease regained: sessions checked again", "live_sessions", e.Live())
	return nil
}
