package session

import (
	"context"
	"errors"
	"strings"
	"time"

	"bgcall/freeswitch"
	"bgcall/store"
)

// legStatus is what FreeSWITCH says of a leg right now.
type legStatus struct {
	exists, answered, bridged bool
	err                       error // the node could not be asked
}

// probe asks node about leg. uuid_dump is one round trip that answers both
// "is it there" and "has it answered".
func (e *Engine) probe(ctx context.Context, node, leg string) legStatus {
	if leg == "" {
		return legStatus{}
	}
	cmd := "uuid_dump " + leg
	if err := freeswitch.ValidUUID(leg); err != nil {
		return legStatus{err: err}
	}
	out, err := e.opt.Pool.API(ctx, node, cmd)
	if err != nil {
		var fe *freeswitch.Error
		if errors.As(err, &fe) {
			return legStatus{} // -ERR No such channel!
		}
		return legStatus{err: err}
	}
	return legStatus{exists: true, answered: strings.Contains(out, "Answer-State: answered"),
		bridged: strings.Contains(out, "variable_bridge_uuid: ") || strings.Contains(out, "Other-Leg-Unique-ID: ")}
}

// adopt takes up a session whose events this replica did not follow (a
// takeover, or this replica's own restart): it asks FreeSWITCH what is
// really live before doing anything, so no second leg ever overlaps one
// that is still up. The asking goes through the senders; the answer comes
// back as a job, and decide acts on it.
func (w *worker) adopt(ctx context.Context, t *tracked) {
	e, s := w.e, t.s
	e.log.Info("adopting session", "session", s.ID, "state", s.State, "node", s.Node)
	switch s.State {
	case store.Waiting:
		// Claimed by the lost replica but not started: it is due, and ours.
		w.start(ctx, t)
		return
	case store.Finished:
		w.forget(t)
		return
	}
	w.probes++
	r := &probed{seq: w.probes, version: s.Version}
	t.probe = r.seq
	e.senders.send(s.Node, s.ID, func(ctx context.Context) {
		r.callee = e.probe(ctx, s.Node, s.CalleeLeg)
		if s.State != store.DialingCallee {
			r.caller = e.probe(ctx, s.Node, s.CallerLeg)
		}
		if ctx.Err() != nil {
			return // stopping: whoever takes the session over asks again
		}
		w.report(job{kind: jobProbed, id: s.ID, probed: r})
	})
}

// probed is what FreeSWITCH said of an adopted session's legs.
type probed struct {
	seq            uint64 // matches tracked.probe while it is the answer awaited
	version        int64  // the session's version when it was asked
	callee, caller legStatus
}

// decide takes up an adopted session from what FreeSWITCH said of its
// legs, unless the session moved on meanwhile (its events came through: a
// step was stored or refused, or A answered and the bridge is on its way):
// then the answer is stale and the session is already being steered.
func (w *worker) decide(ctx context.Context, t *tracked, r *probed) {
	if t == nil || t.probe != r.seq || t.s.Version != r.version || t.recheck || t.bridging {
		return
	}
	t.probe = 0
	e, s, b, a := w.e, t.s, r.callee, r.caller
	// B's originate returned long ago if B answered, and its job may have
	// gone to the replica that steered the session then.
	t.calleeParked = b.answered
	switch s.State {
	case store.DialingCallee:
		switch {
		case b.err != nil:
			w.setTimer(t, e.opt.LegGrace) // ask again
		case !b.exists:
			// Doomed, in case its originate is still on its way: the next
			// attempt must never overlap it.
			e.closer.doom(s.ID, s.CalleeLeg, s.Node, t.policy.RingTime)
			w.calleeAttemptEnded(ctx, t, freeswitch.Cause(""), "leg gone when the session was taken over")
		case b.answered:
			w.calleeAnswered(ctx, t, time.Time{})
		default:
			w.setTimer(t, t.policy.RingTime+e.opt.LegGrace)
		}
	case store.CalleeHold:
		switch {
		case b.err != nil || a.err != nil:
			w.setTimer(t, e.opt.LegGrace)
		case !b.exists:
			w.calleeLeft(ctx, t, freeswitch.Cause(""))
		case !a.exists:
			// The lost replica stored A's leg but it is not up: never
			// dialled, or already over. B is still holding, so dial A
			// again under a new name (the old one is doomed, in case its
			// originate is still on its way).
			e.closer.doom(s.ID, s.CallerLeg, s.Node, t.policy.CallerRingTime)
			e.legs.remove(s.CallerLeg)
			w.dialCaller(ctx, t, time.Time{}, s, store.Entry{Kind: "caller_redial", Leg: "caller", Node: s.Node, UUID: s.CallerLeg,
				Note: "A's leg was not up when the session was taken over"})
		case a.bridged && b.bridged:
			w.bridged(ctx, t) // bridged before the step was stored
		case a.answered:
			w.bridge(ctx, t, time.Time{})
		default:
			w.playHold(ctx, t)
			w.setTimer(t, t.policy.CallerRingTime+e.opt.LegGrace)
		}
	case store.Bridged:
		switch {
		case b.err != nil || a.err != nil:
			w.setTimer(t, e.opt.LegGrace)
		case !b.exists || !a.exists:
			w.hungUpWhileBridged(ctx, t, !b.exists, freeswitch.Cause(""))
		}
		// Both up: they are talking; the hangup event will end it.
	}
}

// recheck reads t's session again after a step was refused or failed, and
// takes it up from what is stored and what FreeSWITCH says, if this
// replica still owns it; otherwise it lets go.
func (w *worker) recheck(ctx context.Context, t *tracked) {
	e := w.e
	t.recheck = false
	fresh, err := e.opt.Store.Get(ctx, t.s.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.opt.Metrics.RedisError("get")
		t.recheck = true
		w.setTimer(t, e.opt.LegGrace)
		return
	}
	w.forget(t)
	if err != nil || fresh.Owner != e.opt.Replica || !fresh.State.Live() {
		return // finished, cancelled, or steered elsewhere
	}
	w.adopt(ctx, w.track(fresh))
}
