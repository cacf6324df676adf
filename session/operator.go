package session

import (
	"context"
	"errors"
	"fmt"

	"bgcall/store"
)

// ErrNotWaiting: dial now applies to a session waiting for its next
// attempt; this one is being dialled, held, bridged or finished.
var ErrNotWaiting = errors.New("session is not waiting for an attempt")

// DialNow makes a waiting session due at once, whatever its backoff or
// quiet hours said: for an operator who knows B can be reached now. by
// names who asked, for the timeline and the log. A session a replica has
// already claimed is left alone: it is being dialled.
func (e *Engine) DialNow(ctx context.Context, id, by string) (store.Session, error) {
	for range 8 {
		s, err := e.opt.Store.Get(ctx, id)
		if err != nil {
			return store.Session{}, err
		}
		if s.State != store.Waiting || s.Owner != "" {
			return s, ErrNotWaiting
		}
		now := e.now()
		next := s
		next.DueAt, next.UpdatedAt = now, now
		note := "next attempt brought forward from " + s.DueAt.UTC().Format("15:04:05")
		if by != "" {
			note += " by " + by
		}
		entries := []store.Entry{{At: now, Kind: store.KindDialNow, State: store.Waiting, Attempt: s.Attempts + 1, Note: note}}
		got, err := e.opt.Store.Apply(ctx, next, s.Version, entries, now)
		if errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrFenced) {
			continue // it moved while we looked: look again
		}
		if err != nil {
			e.opt.Metrics.RedisError("apply")
			return store.Session{}, fmt.Errorf("dial now: %w", err)
		}
		e.logTransition(got, s.State, store.KindDialNow, "attempt", s.Attempts, "by", by)
		e.observe(got, entries)
		select {
		case e.wake <- struct{}{}:
		default:
		}
		return got, nil
	}
	return store.Session{}, fmt.Errorf("dial session %s now: it kept changing; try again", id)
}
