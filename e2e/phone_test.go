package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/e2e"
	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/callrec"
	"bgcall/internal/uuid"
)

// The phone side: what A does from an unmodified phone, through the
// dialplan hooks of deploy/freeswitch and FreeSWITCH's socket application
// to bgcall's phone listener.

func TestPhoneSimulator(t *testing.T)      { runPhone(t, simulator) }
func TestPhoneRealFreeSWITCH(t *testing.T) { runPhone(t, realFreeSWITCH) }

func runPhone(t *testing.T, start func(*testing.T) *backend) {
	t.Parallel()
	b := start(t)
	together(t, map[string]func(*testing.T){
		"feature_codes": func(t *testing.T) { testFeatureCodes(t, b) },
		"offer":         func(t *testing.T) { testOffer(t, b) },
		"optout":        func(t *testing.T) { testOptOut(t, b) },
	})
}

// phoneCall is a call from A's phone.
type phoneCall struct {
	b      *backend
	phone  string // A's leg, the phone's own end (what DTMF is keyed on)
	dialed string
}

// dial places a call from A's phone to digits, as a phone registered to
// FreeSWITCH would: on FreeSWITCH a loopback call whose -b channel runs
// the dialplan, on the simulator its Call.
func (b *backend) dial(ctx context.Context, t *testing.T, from, digits string) phoneCall {
	t.Helper()
	if b.sim != nil {
		id, err := b.sim.Call(fssim.CallOptions{From: from, To: digits, Socket: b.daemon.PhoneAddr(), Timeout: bridgeTimeout})
		if err != nil {
			t.Fatalf("call %s→%s: %v", from, digits, err)
		}
		return phoneCall{b: b, phone: id, dialed: digits}
	}
	id := uuid.New()
	if _, err := b.ctl.BGAPI(ctx, fmt.Sprintf("originate {origination_uuid=%s,origination_caller_id_number=%s,origination_caller_id_name=%s}loopback/%s/default &park()",
		id, from, from, digits)); err != nil {
		t.Fatalf("call %s→%s: %v", from, digits, err)
	}
	return phoneCall{b: b, phone: id, dialed: digits}
}

// handled returns the channel the dialplan ran the call on, the one the
// socket application hands to bgcall: A's own leg on the simulator, the
// -b channel of the loopback call on FreeSWITCH.
func (p phoneCall) handled(ctx context.Context) (callrec.Channel, error) {
	if p.b.sim != nil {
		if _, err := p.b.rec.WaitEvent(ctx, p.phone, freeswitch.EventChannelCreate); err != nil {
			return callrec.Channel{}, err
		}
		ch, _ := p.b.rec.Channel(p.phone)
		return ch, nil
	}
	found, err := p.b.rec.WaitChannels(ctx, 1, func(ch callrec.Channel) bool {
		return ch.Direction == "inbound" && ch.Var("other_loopback_leg_uuid") == p.phone
	})
	if err != nil {
		return callrec.Channel{}, fmt.Errorf("the call to %s never ran the dialplan: %w", p.dialed, err)
	}
	return found[0], nil
}

// wait waits for the call to be over and returns its handled channel as
// it ended.
func (p phoneCall) wait(ctx context.Context) (callrec.Channel, error) {
	h, err := p.handled(ctx)
	if err != nil {
		return h, err
	}
	for _, id := range []string{h.UUID, p.phone} {
		if _, err := p.b.rec.WaitEvent(ctx, id, freeswitch.EventChannelDestroy); err != nil {
			return h, fmt.Errorf("the call to %s: %w", p.dialed, err)
		}
	}
	h, _ = p.b.rec.Channel(h.UUID)
	return h, nil
}

// key sends digits from A's phone, as real DTMF.
func (p phoneCall) key(ctx context.Context, digits string) error {
	if p.b.sim != nil {
		return p.b.sim.SendDTMF(p.phone, digits)
	}
	reply, err := p.b.fs.API(ctx, "uuid_send_dtmf "+p.phone+" "+digits)
	if err == nil && !strings.HasPrefix(reply, "+OK") {
		err = fmt.Errorf("uuid_send_dtmf: %s", strings.TrimSpace(reply))
	}
	return err
}

// heard checks that A's call was answered, played prompt in full and was
// hung up by bgcall.
func heard(t *testing.T, p phoneCall, prompt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := p.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkPrompt(h, prompt, true, false, func(format string, args ...any) { t.Errorf("dialled %s: "+format, append([]any{p.dialed}, args...)...) })
	if h.Answered.IsZero() || h.HangupCause != freeswitch.NormalClearing {
		t.Errorf("dialled %s: answered %v, hung up %s; want answered, then NORMAL_CLEARING", p.dialed, !h.Answered.IsZero(), h.HangupCause)
	}
}

// testFeatureCodes: *88<B> switches a background call on, *89<B> off,
// *89 all of A's off, each confirmed with its prompt.
func testFeatureCodes(t *testing.T, b *backend) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	callee := e2e.FarEnd{Kind: e2e.NoAnswer}
	a := b.subscriber(answers)
	b1, b2, b3 := b.subscriber(callee), b.subscriber(callee), b.subscriber(callee)
	c := b.follow(ctx, t, a)

	on := func(callee string, known ...string) string {
		t.Helper()
		heard(t, b.dial(ctx, t, a, "*88"+callee), phonePrompts.On)
		if err := c.waitNewSession(ctx, known...); err != nil {
			t.Fatal(err)
		}
		s, err := b.api.Get(ctx, c.id)
		if err != nil || s.Callee != callee || s.Source != "feature_code" {
			t.Fatalf("session after *88%s: %+v, %v; want one to %s from the feature code", callee, s, err, callee)
		}
		return s.ID
	}
	cancelled := func(id string) {
		t.Helper()
		c.id = id
		if s, err := c.waitSession(ctx, "the cancel", func(s api.Session) bool { return s.State == "finished" }); err != nil || s.Outcome != "cancelled" {
			t.Errorf("session %s: %s, %v; want cancelled", id, s.Outcome, err)
		}
		if err := c.waitLegsDown(ctx); err != nil {
			t.Error(err)
		}
	}

	first := on(b1)
	heard(t, b.dial(ctx, t, a, "*89"+b1), phonePrompts.Off)
	cancelled(first)

	second := on(b2, first)
	third := on(b3, first, second)
	heard(t, b.dial(ctx, t, a, "*89"), phonePrompts.Off)
	cancelled(second)
	cancelled(third)

	heard(t, b.dial(ctx, t, a, "*89"), phonePrompts.NotFound)
}

// testOffer: A calls B, who does not answer, offerAfter times; the last
// time bgcall offers a background call in the call, A keys 1, and the
// background call it switches on completes.
func testOffer(t *testing.T, b *backend) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := b.subscriber(answers)
	callee := b.subscriber(e2e.FarEnd{Kind: e2e.AnswerOnAttempt, Ring: 200 * time.Millisecond, Before: offerAfter})
	c := b.follow(ctx, t, a)

	for i := 1; i < offerAfter; i++ {
		// Below the threshold the call ends as it would have: A's phone
		// sees B's NO_ANSWER, and nobody answers it.
		p := b.dial(ctx, t, a, callee)
		h, err := p.wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Answered.IsZero() || h.HangupCause != freeswitch.NoAnswer || len(h.Playbacks) > 0 {
			t.Fatalf("unanswered call %d: answered %v, hung up %s, played %v; want NO_ANSWER and nothing played",
				i, !h.Answered.IsZero(), h.HangupCause, h.Playbacks)
		}
	}

	p := b.dial(ctx, t, a, callee)
	h, err := p.handled(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.rec.WaitFor(ctx, func(*callrec.Recorder) bool {
		ch, _ := b.rec.Channel(h.UUID)
		return ch.Has(freeswitch.EventPlaybackStart) || !ch.HungUp.IsZero()
	}); err != nil {
		t.Fatalf("call %d: no offer: %v", offerAfter, err)
	}
	if err := p.key(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if h, err = p.wait(ctx); err != nil {
		t.Fatal(err)
	}
	checkPrompt(h, phonePrompts.Offer, true, false, func(format string, args ...any) { t.Errorf("the offer: "+format, args...) })
	checkPrompt(h, phonePrompts.On, true, false, func(format string, args ...any) { t.Errorf("after 1: "+format, args...) })
	if !h.Has(freeswitch.EventDTMF) {
		t.Errorf("the offer's call saw no DTMF: %v", h.Names())
	}

	if err := c.waitNewSession(ctx); err != nil {
		t.Fatal(err)
	}
	if err := talkThenHangUp("caller")(ctx, c); err != nil {
		t.Fatal(err)
	}
	final, err := c.waitSession(ctx, "the outcome", func(s api.Session) bool { return s.State == "finished" })
	if err != nil {
		t.Fatal(err)
	}
	if final.Source != "offer" || final.Callee != callee {
		t.Errorf("session %+v, want one to %s from the offer", final, callee)
	}
	if err := c.waitLegsDown(ctx); err != nil {
		t.Fatal(err)
	}
	ok := true
	judge(ctx, c, final, want{outcome: "completed", attempts: 1, answered: true, bridged: true, endedBy: "caller"},
		func(format string, args ...any) { ok = false; t.Errorf(format, args...) })
	if !ok {
		t.Logf("%s", c.report())
	}
}
