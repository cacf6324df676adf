package phone

import (
	"context"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/session"
	"bgcall/store"
)

// unanswered reports whether a bridge's originate_disposition counts as a
// call B did not take. ORIGINATOR_CANCEL counts only once B was ringing
// (the caller's leg then has a progress time): a caller who gives up
// before anything rang did not miss B.
func unanswered(disposition, progressTime string) bool {
	switch freeswitch.Cause(disposition) {
	case freeswitch.NoAnswer, freeswitch.UserBusy, freeswitch.NoUserResponse:
		return true
	case freeswitch.OriginatorCancel:
		return progressTime != "" && progressTime != "0"
	}
	return false
}

// Observe takes an event no session claimed; plug it into
// session.Options.Observe. It never blocks: hangups of ordinary calls are
// queued for the watcher, everything else is ignored. A nil Server
// ignores everything, so the hook may be set before the Server exists.
func (s *Server) Observe(ev *esl.Event) {
	if s == nil || ev.Name != freeswitch.EventChannelHangupComplete || ev.Header(freeswitch.HeaderCallDirection) != "inbound" {
		return
	}
	if ev.Var("originate_disposition") == "" {
		return // no bridge ran on this call
	}
	select {
	case s.events <- ev:
	default:
		s.log.Warn("unanswered-call watcher is behind; a hangup was not counted", "uuid", ev.UniqueID)
	}
}

func (s *Server) watch(ctx context.Context) {
	for {
		select {
		case ev := <-s.events:
			s.account(ctx, ev)
		case <-ctx.Done():
			return
		}
	}
}

// account counts one ordinary call's outcome from its caller's leg.
func (s *Server) account(ctx context.Context, ev *esl.Event) {
	a, b := ev.Header("Caller-Caller-ID-Number"), ev.Header("Caller-Destination-Number")
	if freeswitch.ValidNumber(a) != nil || freeswitch.ValidNumber(b) != nil || a == b {
		return
	}
	disp := ev.Var("originate_disposition")
	if disp == "SUCCESS" {
		if err := s.opt.Store.ResetMissed(ctx, a, b, ev.UniqueID); err != nil {
			s.log.Warn("reset unanswered calls", "caller", a, "callee", b, "err", err)
		}
		return
	}
	if !unanswered(disp, ev.Header("Caller-Channel-Progress-Time")) {
		return
	}
	now := s.opt.Clock()
	n, err := s.opt.Store.Missed(ctx, a, b, ev.UniqueID, s.opt.OfferWindow, now)
	if err != nil {
		s.log.Warn("count unanswered call", "caller", a, "callee", b, "err", err)
		return
	}
	// A call that reached the listener had its offer in the call.
	if n == s.opt.OfferThreshold && s.opt.OfferNotifier != nil && ev.Var("socket_host") == "" && !s.refuses(ctx, b, a) {
		s.opt.OfferNotifier.SendOffer(ctx, Offer{Caller: a, Callee: b, Missed: n, At: now})
	}
}

// offerInCall serves a failed ordinary call the dialplan handed over:
// count it, and from the threshold on offer a background call.
func (s *Server) offerInCall(ctx context.Context, c *channel) {
	disp := c.variable("originate_disposition")
	cause := freeswitch.Cause(disp)
	a, b := c.caller, c.dialed
	if disp == "" || disp == "SUCCESS" || freeswitch.ValidNumber(a) != nil || freeswitch.ValidNumber(b) != nil || a == b ||
		!unanswered(disp, c.header("Caller-Channel-Progress-Time")) {
		c.hangup(ctx, cause)
		return
	}
	n, err := s.opt.Store.Missed(ctx, a, b, c.uuid, s.opt.OfferWindow, s.opt.Clock())
	if err != nil {
		s.log.Warn("count unanswered call", "caller", a, "callee", b, "err", err)
		c.hangup(ctx, cause)
		return
	}
	if s.opt.OfferThreshold < 0 || n < s.opt.OfferThreshold || s.refuses(ctx, b, a) {
		// Below the threshold, or for a callee who opted out, the call
		// ends as it would have: the caller's phone shows the bridge's
		// own cause.
		c.hangup(ctx, cause)
		return
	}
	if err := c.answer(ctx); err != nil {
		return
	}
	s.opt.Metrics.PhoneOffer("made")
	digit, err := c.readDigit(ctx, s.opt.Prompts.Offer, s.opt.DigitTimeout)
	if err != nil {
		s.opt.Metrics.PhoneOffer("declined")
		return
	}
	if digit != "1" {
		s.opt.Metrics.PhoneOffer("declined")
		s.log.Info("background call offer declined", "caller", a, "callee", b, "missed", n, "key", digit)
		c.hangup(ctx, freeswitch.NormalClearing)
		return
	}
	s.opt.Metrics.PhoneOffer("accepted")
	prompt := s.switchOn(ctx, a, b, session.SourceOffer, c.uuid)
	if err := c.play(ctx, prompt); err != nil {
		return
	}
	c.hangup(ctx, freeswitch.NormalClearing)
}

// followSessions ends the run of unanswered calls of every pair that gets
// a background call by other means (the API, the CLI, another replica's
// phone server). Missing a change (the subscription is pub/sub) leaves a
// count that the next answered call or the window ends.
func (s *Server) followSessions(ctx context.Context) {
	changes, stop := s.opt.Engine.Watch(ctx)
	defer stop()
	for {
		select {
		case ch, ok := <-changes:
			if !ok {
				return
			}
			for _, e := range ch.Entries {
				if e.Kind != store.KindCreated {
					continue
				}
				if err := s.opt.Store.ResetMissed(ctx, ch.Session.Caller, ch.Session.Callee, ""); err != nil && ctx.Err() == nil {
					s.log.Warn("reset unanswered calls", "caller", ch.Session.Caller, "callee", ch.Session.Callee, "err", err)
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// refuses reports whether callee opted out of background calls from
// caller, so that caller is not offered what would be refused. When the
// store cannot tell, the offer is made: accepting it checks again.
func (s *Server) refuses(ctx context.Context, callee, caller string) bool {
	_, out, err := s.opt.Store.OptedOut(ctx, callee, caller)
	if err != nil {
		s.log.Warn("check opt-outs before the offer", "caller", caller, "callee", callee, "err", err)
	}
	return out
}
