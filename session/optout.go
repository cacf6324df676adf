package session

import (
	"context"
	"errors"
	"fmt"

	"bgcall/freeswitch"
	"bgcall/store"
)

// A callee (B) can refuse background calls: from every caller, or from
// one caller (A). Create refuses a request the callee's opt-outs cover
// (ErrOptedOut, nothing stored). OptOut records one and cancels the live
// sessions it covers, so that opting out stops the ringing at once: a
// session waiting for its next attempt, or ringing B, or B on hold while
// A's phone rings, is cancelled through the ordinary cancel (its timeline
// says by whom); a bridged one, where A and B are talking, is left alone.
//
// A request and an opt-out racing each other: Create checks the opt-outs
// before it stores the session and again after, and OptOut lists the live
// sessions after it stored the opt-out. Whichever comes second sees the
// other, so a session the opt-out covers never outlives the two; when the
// check after storing finds it, the session is cancelled and Create
// returns ErrOptedOut.

// OptOutResult is what OptOut did.
type OptOutResult struct {
	OptOut store.OptOut // the opt-out as stored: an earlier one is kept as it was
	Added  bool         // false: that opt-out existed already
	// Cancelled are the live sessions the opt-out covers that it cancelled.
	Cancelled []string
	// Bridged are the covered sessions left alone: A and B are talking.
	Bridged []string
}

// OptOut records that callee refuses background calls from caller (from
// every caller when caller is empty), recorded by by ("phone", "api",
// "cli:alice", ...), and cancels the live sessions it covers.
func (e *Engine) OptOut(ctx context.Context, callee, caller, by string) (OptOutResult, error) {
	if err := validOptOutParties(callee, caller); err != nil {
		return OptOutResult{}, err
	}
	o, added, err := e.opt.Store.AddOptOut(ctx, store.OptOut{Callee: callee, Caller: caller, By: by}, e.now())
	if err != nil {
		e.opt.Metrics.RedisError("optout")
		return OptOutResult{}, err
	}
	res := OptOutResult{OptOut: o, Added: added}
	e.log.Info("callee opted out of background calls", "callee", callee, "caller", caller, "by", by, "added", added)
	live, err := e.liveSessions(ctx, store.Filter{Caller: caller, Callee: callee})
	if err != nil {
		return res, fmt.Errorf("opt-out of %s stored; its live sessions were not cancelled: %w", callee, err)
	}
	for _, s := range live {
		switch err := e.cancelOptedOut(ctx, s.ID, o); {
		case err == nil:
			res.Cancelled = append(res.Cancelled, s.ID)
		case errors.Is(err, ErrBridged):
			res.Bridged = append(res.Bridged, s.ID)
		case errors.Is(err, ErrFinished), errors.Is(err, store.ErrNotFound):
			// Ended by itself meanwhile.
		default:
			return res, fmt.Errorf("opt-out of %s stored, but a live session of it was not cancelled: %w", callee, err)
		}
	}
	return res, nil
}

// OptIn removes callee's opt-out from caller, or every opt-out of callee
// when caller is empty, and returns how many it removed.
func (e *Engine) OptIn(ctx context.Context, callee, caller string) (int, error) {
	if err := validOptOutParties(callee, caller); err != nil {
		return 0, err
	}
	var n int
	var err error
	if caller == "" {
		n, err = e.opt.Store.RemoveOptOuts(ctx, callee)
	} else {
		var removed bool
		removed, err = e.opt.Store.RemoveOptOut(ctx, callee, caller)
		if removed {
			n = 1
		}
	}
	if err != nil {
		e.opt.Metrics.RedisError("optout")
		return 0, err
	}
	e.log.Info("callee opted in to background calls again", "callee", callee, "caller", caller, "removed", n)
	return n, nil
}

// OptOuts returns callee's opt-outs, the one from every caller first.
func (e *Engine) OptOuts(ctx context.Context, callee string) ([]store.OptOut, error) {
	if err := validOptOutParties(callee, ""); err != nil {
		return nil, err
	}
	list, err := e.opt.Store.OptOuts(ctx, callee)
	if err != nil {
		e.opt.Metrics.RedisError("optout")
	}
	return list, err
}

func validOptOutParties(callee, caller string) error {
	var problems []error
	if err := freeswitch.ValidNumber(callee); err != nil {
		problems = append(problems, &ValidationError{"callee", err.Error()})
	}
	if caller != "" {
		if err := freeswitch.ValidNumber(caller); err != nil {
			problems = append(problems, &ValidationError{"caller", err.Error()})
		} else if caller == callee {
			problems = append(problems, &ValidationError{"caller", "is the callee's own number"})
		}
	}
	return errors.Join(problems...)
}

// liveSessions lists the live sessions f matches (its State is ignored).
// It walks f's sessions once, finished ones included, rather than once per
// live state: a session moving back while the states are read one after
// another (dialing_callee, then waiting again after an unanswered attempt)
// would be in neither read.
func (e *Engine) liveSessions(ctx context.Context, f store.Filter) ([]store.Session, error) {
	var out []store.Session
	f.State, f.Cursor, f.Limit = "", "", 1000
	for range 100 { // bound the walk; a callee's sessions within the retention are far fewer
		page, next, err := e.opt.Store.List(ctx, f)
		if err != nil {
			e.opt.Metrics.RedisError("list")
			return nil, err
		}
		for _, s := range page {
			if s.State.Live() {
				out = append(out, s)
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return out, nil
}

// cancelOptedOut cancels session id because of opt-out o; its timeline
// names the opt-out.
func (e *Engine) cancelOptedOut(ctx context.Context, id string, o store.OptOut) error {
	by := "opt-out of " + o.Callee
	if o.Caller != "" {
		by += " from " + o.Caller
	}
	if o.By != "" {
		by += " (" + o.By + ")"
	}
	_, err := e.CancelBy(ctx, id, false, by)
	return err
}

// optedOutError is ErrOptedOut for opt-out o, naming it and the way back:
// "callee 1002 opted out of background calls from every caller (since
// 2026-03-14 09:00:00Z, by phone); ...".
func optedOutError(o store.OptOut) error {
	return fmt.Errorf("callee %s %w from %s; %s can opt in again from its phone, an operator with: bgcall optout remove %s",
		o.Callee, ErrOptedOut, o.Describe(), o.Callee, o.Callee)
}
