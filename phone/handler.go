package phone

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/percipia/eslgo"

	"bgcall/freeswitch"
	"bgcall/session"
	"bgcall/store"
)

// handle serves one channel the socket application handed over. Returning
// makes eslgo send exit and close, and FreeSWITCH then hangs the channel
// up (nobody asked it to resume the dialplan).
func (s *Server) handle(connCtx context.Context, conn *eslgo.Conn, data *eslgo.RawResponse) {
	ctx, cancel := context.WithTimeout(connCtx, s.opt.CallTimeout)
	defer cancel()
	c := newChannel(s, conn, data)
	defer c.close()
	defer s.release(connCtx, c)
	log := s.log.With("uuid", c.uuid, "caller", c.caller, "dialed", c.dialed)
	if c.uuid == "" {
		s.opt.Metrics.PhoneConnection("refused")
		log.Warn("socket connection without channel data; closing")
		return
	}
	if err := s.vouch(ctx, c); err != nil {
		s.opt.Metrics.PhoneConnection("refused")
		log.Warn("socket connection refused", "err", err)
		return
	}
	s.opt.Metrics.PhoneConnection("handled")
	if err := c.listen(ctx); err != nil {
		log.Warn("subscribe to the channel's events", "err", err)
		return
	}
	for _, fc := range s.featureCodes() {
		if digits, ok := strings.CutPrefix(c.dialed, fc.prefix); ok {
			s.feature(ctx, c, fc.run, digits)
			return
		}
	}
	s.offerInCall(ctx, c)
}

// featureCode is a prefix the dialplan hands over and what it does: run
// gets the dialling party's number and the digits after the prefix, and
// returns the prompt that says how it went.
type featureCode struct {
	prefix string
	run    func(ctx context.Context, party, digits string) string
}

// featureCodes returns the feature codes, the longest prefix first, so
// that none can hide another.
func (s *Server) featureCodes() []featureCode {
	codes := []featureCode{
		{s.opt.OnPrefix, func(ctx context.Context, caller, callee string) string {
			return s.switchOn(ctx, caller, callee, session.SourceFeatureCode, "")
		}},
		{s.opt.OffPrefix, s.switchOff},
		{s.opt.OptOutPrefix, s.optOut},
		{s.opt.OptInPrefix, s.optIn},
	}
	slices.SortStableFunc(codes, func(a, b featureCode) int { return len(b.prefix) - len(a.prefix) })
	return codes
}

// release lets FreeSWITCH end the connection and waits until eslgo has
// closed it: eslgo's disconnect watcher reads its reply table without a
// lock, and closing the connection from the handler's side as well races
// with it. connCtx is eslgo's own; it ends when eslgo closes the
// connection.
func (s *Server) release(connCtx context.Context, c *channel) {
	ctx, cancel := context.WithTimeout(connCtx, s.opt.CommandTimeout)
	defer cancel()
	if !c.gone {
		_ = c.command(ctx, rawCommand("exit"))
	}
	<-ctx.Done()
}

// vouch checks that the connection comes from a node of the pool and names
// a live channel there: whoever can reach the listener must not be able to
// switch anybody's background calls by pretending to be FreeSWITCH.
func (s *Server) vouch(ctx context.Context, c *channel) error {
	p := s.opt.Pool
	if p == nil {
		return nil
	}
	node := ""
	for _, h := range p.Health() {
		if h.Connected && h.CoreUUID != "" && h.CoreUUID == c.core {
			node = h.Name
		}
	}
	if node == "" {
		return fmt.Errorf("Core-UUID %q is no connected node's", c.core)
	}
	cmd, err := freeswitch.UUIDExists(c.uuid)
	if err != nil {
		return err
	}
	res, err := p.API(ctx, node, cmd)
	if err != nil {
		return fmt.Errorf("check channel on %s: %w", node, err)
	}
	if strings.TrimSpace(res) != "true" {
		return fmt.Errorf("channel %s does not exist on %s", c.uuid, node)
	}
	return nil
}

// feature carries out a feature code (*88<B>, *89[<B>], *87[<A>],
// *86[<A>]) with the digits after its prefix and tells the party who
// dialled it.
func (s *Server) feature(ctx context.Context, c *channel, run func(ctx context.Context, party, digits string) string, digits string) {
	if err := c.answer(ctx); err != nil {
		s.log.Debug("answer feature code", "uuid", c.uuid, "err", err)
		return
	}
	prompt := run(ctx, c.caller, digits)
	if err := c.play(ctx, prompt); err != nil {
		return
	}
	c.hangup(ctx, freeswitch.NormalClearing)
}

// switchOn creates the session A→B and returns the prompt that says how it
// went. callID, when set, is the call that led to it (the offer).
func (s *Server) switchOn(ctx context.Context, caller, callee, source, callID string) string {
	if freeswitch.ValidNumber(caller) != nil || freeswitch.ValidNumber(callee) != nil {
		return s.opt.Prompts.Invalid
	}
	sess, created, err := s.opt.Engine.Create(ctx, session.Request{Caller: caller, Callee: callee, Source: source})
	var ve *session.ValidationError
	switch {
	case err == nil:
		if err := s.opt.Store.ResetMissed(ctx, caller, callee, callID); err != nil {
			s.log.Warn("reset unanswered calls", "caller", caller, "callee", callee, "err", err)
		}
		s.log.Info("background call switched on from the phone", "session", sess.ID, "created", created,
			"caller", caller, "callee", callee, "source", source)
		return s.opt.Prompts.On
	case errors.As(err, &ve):
		return s.opt.Prompts.Invalid
	case errors.Is(err, session.ErrLimit):
		return s.opt.Prompts.Limit
	case errors.Is(err, session.ErrOptedOut):
		s.log.Info("background call refused: the callee opted out", "caller", caller, "callee", callee, "source", source)
		return s.opt.Prompts.Refused
	default:
		s.log.Error("switch background call on", "caller", caller, "callee", callee, "err", err)
		return s.opt.Prompts.Failed
	}
}

// switchOff cancels A's live sessions to callee, or all of them when
// callee is empty.
func (s *Server) switchOff(ctx context.Context, caller, callee string) string {
	if freeswitch.ValidNumber(caller) != nil || (callee != "" && freeswitch.ValidNumber(callee) != nil) {
		return s.opt.Prompts.Invalid
	}
	var live []store.Session
	f := store.Filter{Caller: caller, Callee: callee, Limit: 1000}
	for {
		page, next, err := s.opt.Engine.List(ctx, f)
		if err != nil {
			s.log.Error("list sessions to switch off", "caller", caller, "err", err)
			return s.opt.Prompts.Failed
		}
		for _, ss := range page {
			if ss.State.Live() {
				live = append(live, ss)
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	cancelled := 0
	for _, ss := range live {
		_, err := s.opt.Engine.CancelBy(ctx, ss.ID, false, "phone (feature code from A)")
		switch {
		case err == nil:
			cancelled++
		case errors.Is(err, session.ErrFinished), errors.Is(err, store.ErrNotFound):
			// Ended by itself meanwhile.
		default:
			s.log.Warn("switch background call off", "session", ss.ID, "err", err)
		}
	}
	if cancelled == 0 {
		return s.opt.Prompts.NotFound
	}
	s.log.Info("background calls switched off from the phone", "caller", caller, "callee", callee, "cancelled", cancelled)
	return s.opt.Prompts.Off
}

// optOut records, from callee's phone, that callee refuses background
// calls from caller (from every caller when caller is empty), which ends
// the live ones it covers.
func (s *Server) optOut(ctx context.Context, callee, caller string) string {
	if freeswitch.ValidNumber(callee) != nil || (caller != "" && freeswitch.ValidNumber(caller) != nil) || caller == callee {
		return s.opt.Prompts.Invalid
	}
	res, err := s.opt.Engine.OptOut(ctx, callee, caller, "phone")
	if err != nil {
		s.log.Error("opt out of background calls", "callee", callee, "caller", caller, "err", err)
		return s.opt.Prompts.Failed
	}
	s.log.Info("opted out of background calls from the phone", "callee", callee, "caller", caller,
		"added", res.Added, "cancelled", len(res.Cancelled))
	return s.opt.Prompts.OptedOut
}

// optIn removes, from callee's phone, callee's opt-out from caller, or
// every opt-out of callee when caller is empty.
func (s *Server) optIn(ctx context.Context, callee, caller string) string {
	if freeswitch.ValidNumber(callee) != nil || (caller != "" && freeswitch.ValidNumber(caller) != nil) || caller == callee {
		return s.opt.Prompts.Invalid
	}
	n, err := s.opt.Engine.OptIn(ctx, callee, caller)
	if err != nil {
		s.log.Error("opt in to background calls", "callee", callee, "caller", caller, "err", err)
		return s.opt.Prompts.Failed
	}
	s.log.Info("opted in to background calls from the phone", "callee", callee, "caller", caller, "removed", n)
	return s.opt.Prompts.OptedIn
}
