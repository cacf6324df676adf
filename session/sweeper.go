package session

import (
	"context"
	"sync"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/store"
)

// sweeper hangs up legs tagged with a session that is finished or unknown
// (left behind by a crash between a store step and a hangup). It only sees
// legs no worker or closer of this replica follows, checks each against the
// store once the grace has passed, then again at doubling intervals, so the
// legs of other replicas' live sessions cost one batched lookup now and
// then, never a poll per session.
type sweeper struct {
	e  *Engine
	mu sync.Mutex
	m  map[string]*orphan
}

type orphan struct {
	session, node string
	next          time.Time
	wait          time.Duration
}

func newSweeper(e *Engine) *sweeper { return &sweeper{e: e, m: make(map[string]*orphan)} }

func (s *sweeper) observe(ev *esl.Event) {
	if ev.UniqueID == "" {
		return
	}
	switch ev.Name {
	case freeswitch.EventChannelHangup, freeswitch.EventChannelHangupComplete, freeswitch.EventChannelDestroy, esl.EventChannelGone:
		s.mu.Lock()
		delete(s.m, ev.UniqueID)
		s.mu.Unlock()
		return
	case freeswitch.EventChannelCreate, freeswitch.EventChannelAnswer, freeswitch.EventChannelPark:
	default:
		return
	}
	id := ev.Var(VarSession)
	if id == "" {
		return // not ours: never touched
	}
	s.mu.Lock()
	if _, ok := s.m[ev.UniqueID]; !ok {
		g := s.e.opt.OrphanGrace
		s.m[ev.UniqueID] = &orphan{session: id, node: ev.Node, next: s.e.now().Add(g), wait: g}
	}
	s.mu.Unlock()
}

func (s *sweeper) run(ctx context.Context) {
	tick := time.NewTicker(max(s.e.opt.OrphanGrace/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.sweep(ctx)
		}
	}
}

func (s *sweeper) sweep(ctx context.Context) {
	now := s.e.now()
	due := map[string]*orphan{}
	var ids []string
	s.mu.Lock()
	for leg, o := range s.m {
		if !now.Before(o.next) {
			if _, mine := s.e.legs.get(leg); mine || s.e.closer.has(leg) {
				delete(s.m, leg)
				continue
			}
			due[leg] = o
			ids = append(ids, o.session)
		}
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	states, err := s.e.opt.Store.Lookup(ctx, ids)
	if err != nil {
		s.e.opt.Metrics.RedisError("lookup")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for leg, o := range due {
		st, known := states[o.session]
		if !known || st == store.Finished {
			s.e.log.Warn("hanging up a leg whose session is gone", "leg", leg, "session", o.session, "node", o.node, "known", known)
			s.e.closer.doom(o.session, leg, o.node, 0)
			delete(s.m, leg)
			continue
		}
		o.wait *= 2
		o.next = now.Add(o.wait)
	}
}
