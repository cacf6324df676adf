package session

import (
	"context"
	"sync"
	"time"
)

// steered is the set of sessions this replica's workers steer, for the
// reconciler: the workers own their maps, this is a copy it may read.
type steered struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func (s *steered) add(id string) {
	s.mu.Lock()
	s.ids[id] = struct{}{}
	s.mu.Unlock()
}

func (s *steered) remove(id string) {
	s.mu.Lock()
	delete(s.ids, id)
	s.mu.Unlock()
}

func (s *steered) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

func (s *steered) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.ids))
	for id := range s.ids {
		out = append(out, id)
	}
	return out
}

// reconciler compares, on a timer, the sessions the store says this
// replica owns with those its workers steer. A session owned but not
// steered (a claim or takeover whose reply was lost, a worker that let go
// too early) would otherwise wait forever; one steered but no longer owned
// would keep timers for a session another replica steers. Either is
// handed to its worker to look at again, once it was seen twice in a row:
// a claim or a step in flight between the two reads is not a difference.
type reconciler struct {
	e                *Engine
	unsteered, alien map[string]bool // differences seen on the last pass
}

func (e *Engine) reconcile(ctx context.Context) {
	r := &reconciler{e: e, unsteered: map[string]bool{}, alien: map[string]bool{}}
	tick := time.NewTicker(e.opt.ReconcileInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			r.pass(ctx)
		}
	}
}

func (r *reconciler) pass(ctx context.Context) {
	e := r.e
	before := e.steered.snapshot()
	ids, err := e.opt.Store.OwnedIDs(ctx, e.opt.Replica)
	if err != nil {
		e.opt.Metrics.RedisError("owned")
		return
	}
	owned := make(map[string]bool, len(ids))
	unsteered := map[string]bool{}
	for _, id := range ids {
		owned[id] = true
		if !e.steered.has(id) {
			unsteered[id] = true
			if r.unsteered[id] {
				r.adopt(ctx, id)
			}
		}
	}
	alien := map[string]bool{}
	for _, id := range before {
		if !owned[id] && e.steered.has(id) {
			alien[id] = true
			if r.alien[id] {
				e.log.Warn("reconcile: steering a session the store gives to no one here; looking again", "session", id)
				e.route(id, job{kind: jobRecheck, id: id})
			}
		}
	}
	r.unsteered, r.alien = unsteered, alien
}

// adopt hands a session the store says is ours, and nobody here steers,
// to its worker.
func (r *reconciler) adopt(ctx context.Context, id string) {
	e := r.e
	s, err := e.opt.Store.Get(ctx, id)
	if err != nil {
		e.log.Warn("reconcile: read an owned session", "session", id, "err", err)
		return
	}
	if s.Owner != e.opt.Replica || !s.State.Live() || e.steered.has(id) {
		return
	}
	e.log.Warn("reconcile: owned here but steered by no one; adopting", "session", id, "state", s.State)
	e.route(id, job{kind: jobAdopt, id: id, sess: s})
}
