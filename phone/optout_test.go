package phone_test

import (
	"context"
	"testing"

	"bgcall/fssim"
	"bgcall/phone"
	"bgcall/session"
	"bgcall/store"
)

// TestOptOutCodes: B dials *87 and hears the confirmation; A's *88<B> is
// refused with its own prompt and creates nothing; *86 lets A in again.
// *87<A> refuses A alone.
func TestOptOutCodes(t *testing.T) {
	r := newRig(t)
	r.node.SetDefault(fssim.Behavior{Action: fssim.NoAnswer})
	p := phone.DefaultPrompts()
	ctx := context.Background()
	dial := func(from, to, want string) {
		t.Helper()
		if got := r.heard(r.call(fssim.CallOptions{From: from, To: to})); len(got) != 1 || got[0] != want {
			t.Errorf("%s dials %s: heard %q, want %q", from, to, got, want)
		}
	}
	optOuts := func(callee string) []store.OptOut {
		t.Helper()
		list, err := r.eng.OptOuts(ctx, callee)
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	dial("7002", "*87", p.OptedOut)
	if list := optOuts("7002"); len(list) != 1 || list[0].Caller != "" || list[0].By != "phone" {
		t.Fatalf("7002's opt-outs after *87: %+v; want one from every caller, by phone", list)
	}
	dial("7001", "*887002", p.Refused)
	if list := r.sessions("7001"); len(list) != 0 {
		t.Errorf("a refused *88 created sessions: %+v", list)
	}
	dial("7002", "*86", p.OptedIn)
	if list := optOuts("7002"); len(list) != 0 {
		t.Fatalf("7002's opt-outs after *86: %+v; want none", list)
	}
	dial("7001", "*887002", p.On)

	// From one caller: that caller's live session ends, another's runs.
	dial("7002", "*877001", p.OptedOut)
	if list := optOuts("7002"); len(list) != 1 || list[0].Caller != "7001" {
		t.Fatalf("7002's opt-outs after *877001: %+v; want one from 7001", list)
	}
	r.waitFor("7001's session cancelled", func() bool {
		list := r.sessions("7001")
		return len(list) == 1 && list[0].Outcome == store.Cancelled
	})
	dial("7001", "*887002", p.Refused)
	dial("7003", "*887002", p.On)
	dial("7002", "*867001", p.OptedIn)
	dial("7001", "*887002", p.On)

	for _, to := range []string{"*871", "*877002", "*86x1"} {
		uuid := r.call(fssim.CallOptions{From: "7002", To: to})
		if got := r.heard(uuid); len(got) != 1 || got[0] != p.Invalid {
			t.Errorf("7002 dials %s: heard %q, want %q", to, got, p.Invalid)
		}
	}
	if list := optOuts("7002"); len(list) != 0 {
		t.Errorf("invalid codes stored opt-outs: %+v", list)
	}
}

// TestNoOfferForAnOptedOutCallee: A's unanswered calls to a B who opted
// out bring no offer; the threshold call ends with the bridge's cause.
func TestNoOfferForAnOptedOutCallee(t *testing.T) {
	offers := &offerLog{}
	r := newRig(t, func(_ *session.Options, po *phone.Options) {
		po.OfferThreshold = 2
		po.OfferNotifier = offers
	})
	r.node.SetSubscriber("7102", fssim.Behavior{Action: fssim.Busy, Ring: simSecond})
	if _, err := r.eng.OptOut(context.Background(), "7102", "7101", "api"); err != nil {
		t.Fatal(err)
	}
	r.missCall("7101", "7102", 1, fssim.CallOptions{DTMF: "1"})
	uuid := r.missCall("7101", "7102", 2, fssim.CallOptions{DTMF: "1"})
	if got := r.heard(uuid); len(got) != 0 {
		t.Errorf("the threshold call to an opted-out callee: caller heard %q, want nothing", got)
	}
	// Without the hook, no offer by message either. The watcher counts
	// calls one at a time, so once 7103's offer is sent, one for 7101's
	// threshold call before it would have been too.
	r.missCall("7104", "7102", 1, fssim.CallOptions{Socket: "-"})
	if _, err := r.eng.OptOut(context.Background(), "7102", "7104", "api"); err != nil {
		t.Fatal(err)
	}
	r.missCall("7104", "7102", 2, fssim.CallOptions{Socket: "-"})
	r.missCall("7103", "7102", 1, fssim.CallOptions{Socket: "-"})
	r.missCall("7103", "7102", 2, fssim.CallOptions{Socket: "-"})
	r.waitFor("the offer to 7103", func() bool { return len(offers.list()) > 0 })
	if got := offers.list(); len(got) != 1 || got[0].Caller != "7103" {
		t.Errorf("offers by message: %+v; want one, to 7103 (7102 opted out of 7101 and 7104 only)", got)
	}
	if list := r.sessions("7101"); len(list) != 0 {
		t.Errorf("sessions of 7101: %+v", list)
	}
}
