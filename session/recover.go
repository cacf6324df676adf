package session

import (
	"context"
	"errors"
	"strings"

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
		w.step(ctx, t, input{kind: inClaimed})
		return
	case store.Finished:
		w.forget(t)
		return
	}
	w.askLegs(t)
}

// askLegs asks FreeSWITCH about t's legs; the answer comes back as an
// inProbed input unless the session moved on meanwhile.
func (w *worker) askLegs(t *tracked) {
	e, s := w.e, t.s
	w.probes++
	r := &probed{seq: w.probes, version: s.Version}
	t.probe = r.seq
	e.senders.send(s.Node, s.ID, func(ctx context.Context) {
		r.callee = e.probe(ctx, s.Node, s.CalleeLeg)
		if s.State != store.DialingCallee && s.State != store.Confirming { // no caller leg yet
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
