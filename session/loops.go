package session

import (
	"context"
	"time"

	"bgcall/freeswitch"
	"bgcall/store"
)

// dispatch hands every FreeSWITCH event to whoever follows its leg: a
// closing leg's closer, the worker of the session it belongs to, or the
// sweeper and Options.Observe. Events of one session keep their order: one dispatcher, one
// FIFO per worker.
func (e *Engine) dispatch(ctx context.Context) {
	events := e.opt.Pool.Events()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			e.closer.observe(&ev)
			leg := ev.UniqueID
			if ev.Name == freeswitch.EventBackgroundJob {
				leg = ev.JobUUID
			}
			if id, ok := e.legs.get(leg); ok {
				ev := ev
				e.route(id, job{kind: jobEvent, ev: &ev})
				continue
			}
			e.orphans.observe(&ev)
			if e.opt.Observe != nil {
				e.opt.Observe(&ev)
			}
		}
	}
}

// schedule claims due sessions and starts their next callee attempt. It
// sleeps until the earliest due time the store reports (or PollInterval,
// or a local Create's wake-up), so it never polls per session.
func (e *Engine) schedule(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var ready readyStarts
	for {
		wait := e.opt.PollInterval
		switch {
		case e.isDraining():
		case e.backedUp():
			// Work already claimed drains in milliseconds, since no worker
			// waits for FreeSWITCH: look again soon (asking nothing of
			// Redis) rather than leave due sessions a whole poll late.
			wait = min(wait, backedUpRecheck)
		default:
			now := e.now()
			starts := ready.fill(e, now)
			claimed, next, err := e.opt.Store.ClaimAndStart(ctx, e.opt.Replica, now, e.opt.ClaimBatch, starts)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// The script may have run: its legs must never be offered
				// to another session.
				ready.discard()
				e.opt.Metrics.RedisError("claim")
				e.log.Error("claim due sessions", "err", err)
			}
			for _, s := range claimed {
				e.opt.Metrics.SchedulerLag(now.Sub(s.DueAt))
				if s.State == store.DialingCallee {
					ready.used(s.CalleeLeg)
				}
				e.route(s.ID, job{kind: jobClaimed, sess: s})
			}
			if len(claimed) == e.opt.ClaimBatch {
				continue // more are due
			}
			if !next.IsZero() {
				wait = min(wait, max(next.Sub(now), 0))
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
}

// lease renews this replica's lease and takes over the sessions of
// replicas whose lease ran out. On the way out it hands its own sessions
// over at once rather than making the others wait for the lease to lapse.
func (e *Engine) lease(ctx context.Context) {
	tick := time.NewTicker(e.opt.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := e.opt.Store.Release(rctx, e.opt.Replica); err != nil {
				e.log.Warn("release sessions on stop", "err", err)
			}
			cancel()
			return
		case <-tick.C:
		}
		now := e.now()
		if err := e.opt.Store.Heartbeat(ctx, e.opt.Replica, now); err != nil {
			e.opt.Metrics.RedisError("heartbeat")
			e.log.Error("renew replica lease", "err", err)
			continue
		}
		taken, err := e.opt.Store.TakeOver(ctx, e.opt.Replica, now)
		if err != nil {
			e.opt.Metrics.RedisError("takeover")
			e.log.Error("take over sessions of lost replicas", "err", err)
			continue
		}
		for _, s := range taken {
			e.log.Warn("took over session from a lost replica", "session", s.ID, "state", s.State, "node", s.Node)
			e.route(s.ID, job{kind: jobAdopt, sess: s})
		}
	}
}

// readyStarts are callee attempts prepared for the scheduler's next claim,
// which begins as many as it claims sessions (store.ClaimAndStart): a node
// each, picked as for any attempt, and a fresh leg. Those a claim does not
// use are kept for the next one, so a claim of one session costs one pick;
// they are picked afresh once they are older than startsFresh, so that a
// node's health is never judged on old news.
type readyStarts struct {
	starts []store.Start
	at     time.Time
}

// Per claim at most claimStarts attempts begin in the claim itself; under a
// backlog the rest of a batch is claimed and started by the worker.
const (
	claimStarts = 8
	startsFresh = 250 * time.Millisecond
)

func (r *readyStarts) fill(e *Engine, now time.Time) []store.Start {
	if now.Sub(r.at) > startsFresh {
		r.starts = r.starts[:0]
		r.at = now
	}
	for len(r.starts) < min(claimStarts, e.opt.ClaimBatch) {
		node, err := e.opt.Pool.Pick()
		if err != nil {
			break // no node: the worker defers what is claimed
		}
		r.starts = append(r.starts, store.Start{Node: node, CalleeLeg: newUUID()})
	}
	return r.starts
}

func (r *readyStarts) discard() { r.starts = r.starts[:0] }

// used drops the start a claim began with leg.
func (r *readyStarts) used(leg string) {
	for i, st := range r.starts {
		if st.CalleeLeg == leg {
			r.starts = append(r.starts[:i], r.starts[i+1:]...)
			return
		}
	}
}

// backedUpRecheck is how soon a backed-up scheduler looks again.
const backedUpRecheck = 2 * time.Millisecond

// backedUp reports whether sessions already claimed wait for a worker, or
// commands for FreeSWITCH, in such numbers that claiming more would only
// make every session late: under overload the scheduler stops taking work
// (it stays due in the store, for this replica or another) instead of
// letting queues grow until everything times out.
func (e *Engine) backedUp() bool {
	queued := 0
	for _, w := range e.workers {
		queued += len(w.inbox)
	}
	return queued > e.opt.ClaimBatch || e.senders.backlog() > 1024
}
