package session

import (
	"context"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
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
			if ev.Name == esl.EventNodeUp {
				e.nodeBack(ctx, ev.Node)
			}
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

// nodeBack has every worker look again at the sessions it steers on node,
// whose event socket was down: events of their legs may have been lost
// meanwhile (an answer, a bridge), and the reconnect reports only the
// channels that are gone.
func (e *Engine) nodeBack(ctx context.Context, node string) {
	for _, w := range e.workers {
		select {
		case w.inbox <- job{kind: jobNodeBack, node: node}:
		case <-ctx.Done():
			return
		}
	}
}

// schedule claims due sessions and starts their next callee attempt. It
// sleeps until the earliest due time the store reports (or PollInterval,
// or a local Create's wake-up), so it never polls per session.
func (e *Engine) schedule(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	lastClaimed, lostClaim := 0, false
	for {
		wait := e.opt.PollInterval
		switch {
		case e.isDraining():
		case e.backedUp():
			// Work already claimed drains in milliseconds, since no worker
			// waits for FreeSWITCH: look again soon (asking nothing of
			// Redis) rather than leave due sessions a whole poll late.
			wait = min(wait, backedUpRecheck)
		case lostClaim:
			// A claim whose reply was lost may have claimed sessions that
			// are now owned here and known to no worker.
			if err := e.adoptOwned(ctx); err != nil {
				e.log.Error("look for sessions a failed claim may have taken", "err", err)
			} else {
				lostClaim = false
			}
		default:
			now := e.now()
			nodes := e.pickNodes(min(lastClaimed+1, claimStarts, e.opt.ClaimBatch))
			claimed, next, err := e.opt.Store.ClaimAndStart(ctx, e.opt.Replica, now, e.opt.ClaimBatch, nodes)
			lastClaimed = len(claimed)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				e.opt.Metrics.RedisError("claim")
				e.log.Error("claim due sessions", "err", err)
				lostClaim = true
			}
			for _, s := range claimed {
				e.opt.Metrics.SchedulerLag(now.Sub(s.DueAt))
				e.route(s.ID, job{kind: jobClaimed, sess: s})
			}
			e.claims.Add(1)
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

// lease renews this replica's lease. On the way out it hands its own
// sessions over at once rather than making the others wait for the lease
// to lapse. It does nothing else: a renewal held up behind a slow call
// (a takeover whose reply was lost waits out the client's retries) would
// let the lease lapse and withhold every command of a healthy replica.
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
		if err := e.renew(ctx); err != nil {
			if ctx.Err() != nil {
				continue
			}
			e.opt.Metrics.RedisError("heartbeat")
			e.log.Error("renew replica lease", "err", err)
			continue
		}
		e.leaseRounds.Add(1)
	}
}

// takeOver takes over, unless draining, the sessions of replicas whose
// lease ran out, as often as the lease is renewed, while this replica's
// own lease is held.
func (e *Engine) takeOver(ctx context.Context) {
	tick := time.NewTicker(e.opt.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if e.isDraining() || !e.fence.held() {
			// Going away: sessions of lost replicas are for one that
			// stays, or they would be handed over twice. Not sure of its
			// own lease: it may be the lost one.
			continue
		}
		taken, err := e.opt.Store.TakeOver(ctx, e.opt.Replica, e.now())
		if err != nil {
			if ctx.Err() != nil {
				return
			}
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

// pickNodes chooses the nodes of up to k callee attempts that the next claim
// begins itself (store.ClaimAndStart), as many as the last claim found work
// plus one: every pick counts as load on its node for a moment (see
// esl.Pool.Pick), so an idle replica does not pick eight nodes per poll.
// Fewer when no node is connected: the worker defers what is claimed.
func (e *Engine) pickNodes(k int) []string {
	if e.checksBeforeCallee() {
		return nil // A is asked first: the worker begins the attempt (busy.go)
	}
	nodes := make([]string, 0, k)
	for range k {
		node, err := e.opt.Pool.Pick()
		if err != nil {
			break
		}
		nodes = append(nodes, node)
	}
	return nodes
}

// Per claim at most claimStarts attempts begin in the claim itself; under a
// backlog the rest of a batch is claimed and started by the worker.
const claimStarts = 8

// backedUpRecheck is how soon a backed-up scheduler looks again.
const backedUpRecheck = 2 * time.Millisecond

// backedUp reports whether sessions already claimed wait for a worker, or
// commands for FreeSWITCH, in such numbers that claiming more would only
// make every session late: under overload the scheduler stops taking work
// (it stays due in the store, for this replica or another) instead of
// letting queues grow until everything times out. Commands count per
// node, and only the least backed-up node's: new attempts go to the node
// with the least load (esl.Pool.Pick), so one slow node must not stop the
// claims that the others can serve.
func (e *Engine) backedUp() bool {
	queued := 0
	for _, w := range e.workers {
		queued += len(w.inbox)
	}
	return queued > e.opt.ClaimBatch || e.senders.leastBacklog() > maxNodeBacklog
}

// maxNodeBacklog is how many commands may wait for the least backed-up
// node before the scheduler stops claiming.
const maxNodeBacklog = 1024
