package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"bgcall/freeswitch"
	"bgcall/store"
)

// Cancel switches a session off (claim 6): no new attempt starts after it
// returns, a ringing leg is hung up, B on hold hears a short prompt first.
// An originate being written to FreeSWITCH when the cancel comes holds
// the cancel back until it is written (milliseconds; see beginSending), so
// no leg is dialled after a cancel was acknowledged; its leg is hung up as
// soon as it shows up.
// A bridged call is left alone (ErrBridged) unless endBridged is set.
//
// Any replica may cancel any session: the cancel is one version-checked
// step in the store, so the replica steering the session finds its next
// step refused and lets go, and the legs are torn down from here.
func (e *Engine) Cancel(ctx context.Context, id string, endBridged bool) (store.Session, error) {
	return e.CancelBy(ctx, id, endBridged, "")
}

// CancelBy is Cancel that records who asked for it (by: "cli:alice",
// "phone", "web", ...) on the session's timeline and in the log.
func (e *Engine) CancelBy(ctx context.Context, id string, endBridged bool, by string) (store.Session, error) {
	// A leg's originate on its way (see beginSending) holds the cancel
	// back for milliseconds, or until the mark lapses if its replica died.
	sending := time.Now().Add(e.sendingHold + time.Second)
	wait := 5 * time.Millisecond
	for moved := 0; moved < 8; {
		s, err := e.opt.Store.Get(ctx, id)
		if err != nil {
			return store.Session{}, err
		}
		switch {
		case s.State == store.Finished:
			return s, ErrFinished
		case s.State == store.Bridged && !endBridged:
			return s, ErrBridged
		}
		now := e.now()
		var cause freeswitch.Cause
		if s.State != store.Waiting { // a leg was live: it is cancelled
			cause = freeswitch.OriginatorCancel
		}
		note := "cancelled while " + string(s.State)
		if by != "" {
			note += " by " + by
		}
		next, entries := finishing(s, now, store.Cancelled, cause, "switched off",
			store.Entry{At: now, Kind: store.KindCancelled, State: store.Finished, Node: s.Node, Note: note})
		next.UpdatedAt = now
		for i := range entries {
			entries[i].At, entries[i].State = now, store.Finished
		}
		got, err := e.opt.Store.ApplyCancel(ctx, next, s.Version, entries, now)
		switch {
		case errors.Is(err, store.ErrSending) && time.Now().Before(sending):
			// Acknowledged after the originate left, the teardown below
			// finds its leg to hang up.
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return store.Session{}, fmt.Errorf("cancel session %s: %w", id, ctx.Err())
			}
			wait = min(2*wait, 100*time.Millisecond)
			continue
		case errors.Is(err, store.ErrSending):
			return store.Session{}, fmt.Errorf("cancel session %s: %w, for longer than its mark lasts (%v); try again", id, store.ErrSending, e.sendingHold)
		case errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrFenced):
			moved++
			continue // it moved while we looked: look again
		}
		if err != nil {
			e.opt.Metrics.RedisError("cancel")
			return store.Session{}, fmt.Errorf("cancel: %w", err)
		}
		e.tearDown(s)
		e.opt.Metrics.SessionFinished(string(store.Cancelled), s.Attempts, now.Sub(s.CreatedAt))
		e.logTransition(got, s.State, store.KindCancelled, "attempt", s.Attempts, "node", s.Node, "callee_leg", s.CalleeLeg,
			"caller_leg", s.CallerLeg, "outcome", got.Outcome, "by", by)
		e.observe(got, entries)
		return got, nil
	}
	return store.Session{}, fmt.Errorf("cancel session %s: it kept changing; try again", id)
}
