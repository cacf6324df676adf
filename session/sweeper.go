package session

import (
	"context"
	"sync"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/store"
)

// sweeper hangs up legs tagged with a session that no longer wants them:
// the session is finished (a crash between a store step and a hangup), or
// it is live but the leg is neither of the two it steers now (left over
// from an earlier attempt, which must never overlap the next one). It only
// sees legs no worker or closer of this replica follows, checks each
// against the store once the grace has passed, then again at doubling
// intervals, so the legs of other replicas' live sessions cost one batched
// lookup now and then, never a poll per session.
//
// It never cuts a bridged leg: A and B talking end their call themselves.
// Nor an answered leg whose session the store does not know: after Redis
// lost data the session may be gone while its call goes on; that leg is
// logged and left to its far end and to park_timeout. A ringing leg of an
// unknown session is hung up: nobody will answer for it.
type sweeper struct {
	e         *Engine
	mu        sync.Mutex
	m         map[string]*orphan
	bySession map[string]map[string]struct{} // the legs of m by session
}

type orphan struct {
	session, node     string
	next              time.Time
	wait              time.Duration
	answered, bridged bool
}

func newSweeper(e *Engine) *sweeper {
	return &sweeper{e: e, m: make(map[string]*orphan), bySession: make(map[string]map[string]struct{})}
}

func (s *sweeper) observe(ev *esl.Event) {
	if ev.UniqueID == "" {
		return
	}
	switch ev.Name {
	case freeswitch.EventChannelHangup, freeswitch.EventChannelHangupComplete, freeswitch.EventChannelDestroy, esl.EventChannelGone:
		s.mu.Lock()
		s.drop(ev.UniqueID)
		s.mu.Unlock()
		return
	case freeswitch.EventChannelCreate, freeswitch.EventChannelAnswer, freeswitch.EventChannelPark,
		freeswitch.EventChannelBridge, freeswitch.EventChannelUnbridge:
	default:
		return
	}
	id := ev.Var(VarSession)
	if id == "" {
		return // not ours: never touched
	}
	if d := ev.Header(freeswitch.HeaderCallDirection); d != "" && d != "outbound" {
		// bgcall originates outbound legs only; an inbound channel with
		// the tag copied it (mod_loopback's far half does): not a leg.
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.m[ev.UniqueID]
	if !ok {
		g := s.e.opt.OrphanGrace
		o = &orphan{session: id, node: ev.Node, next: s.e.now().Add(g), wait: g}
		s.m[ev.UniqueID] = o
		if s.bySession[id] == nil {
			s.bySession[id] = make(map[string]struct{})
		}
		s.bySession[id][ev.UniqueID] = struct{}{}
	}
	switch ev.Name {
	case freeswitch.EventChannelAnswer:
		o.answered = true
	case freeswitch.EventChannelBridge, freeswitch.EventChannelUnbridge:
		// One event tells of both sides.
		bridged := ev.Name == freeswitch.EventChannelBridge
		for _, leg := range []string{ev.UniqueID, ev.Header(freeswitch.HeaderBridgeAUniqueID), ev.Header(freeswitch.HeaderBridgeBUniqueID)} {
			if side := s.m[leg]; side != nil {
				side.answered = side.answered || bridged
				side.bridged = bridged
			}
		}
	}
	if ev.AnswerState == "answered" {
		o.answered = true
	}
}

// tagged returns the legs tagged with session id that are up, by node, as
// far as this replica's events tell.
func (s *sweeper) tagged(id string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	legs := make(map[string]string, len(s.bySession[id]))
	for leg := range s.bySession[id] {
		legs[leg] = s.m[leg].node
	}
	return legs
}

// drop forgets leg; s.mu must be held.
func (s *sweeper) drop(leg string) {
	o := s.m[leg]
	if o == nil {
		return
	}
	delete(s.m, leg)
	if legs := s.bySession[o.session]; legs != nil {
		delete(legs, leg)
		if len(legs) == 0 {
			delete(s.bySession, o.session)
		}
	}
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
				s.drop(leg)
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
	known, err := s.e.opt.Store.LegsOf(ctx, ids)
	if err != nil {
		s.e.opt.Metrics.RedisError("lookup")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for leg, o := range due {
		sess, ok := known[o.session]
		why := s.unwanted(leg, o, sess, ok)
		switch {
		case why == "":
			o.wait *= 2
			o.next = now.Add(o.wait)
			continue
		case o.bridged || (!ok && o.answered):
			s.e.log.Warn("leaving up a leg whose session does not want it: not bgcall's to cut", "leg", leg,
				"session", o.session, "node", o.node, "why", why, "bridged", o.bridged, "answered", o.answered)
		default:
			s.e.log.Warn("hanging up a leg whose session does not want it", "leg", leg, "session", o.session,
				"node", o.node, "why", why)
			s.e.closer.doom(o.session, leg, o.node, 0)
		}
		s.drop(leg)
	}
}

// unwanted says why leg, tagged with o.session, is not wanted by it (sess,
// if known), or "" if the session still steers it.
func (s *sweeper) unwanted(leg string, o *orphan, sess store.Legs, known bool) string {
	switch {
	case !known:
		return "session unknown to the store"
	case sess.State == store.Finished:
		return "session finished"
	case leg != sess.CalleeLeg && leg != sess.CallerLeg:
		return "leg of an earlier attempt"
	}
	return ""
}
