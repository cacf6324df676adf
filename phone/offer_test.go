package phone_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"bgcall/fssim"
	"bgcall/metrics"
	"bgcall/phone"
	"bgcall/session"
)

// missCall places an ordinary call A→B that B does not take, through the
// dialplan with the hook, and waits until it has been counted.
func (r *rig) missCall(a, b string, want int, o fssim.CallOptions) string {
	r.t.Helper()
	o.From, o.To = a, b
	uuid := r.call(o)
	r.waitFor("unanswered call counted", func() bool { return r.missed(a, b) == want })
	return uuid
}

func TestOfferOnTheThresholdCallAndOne(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.BuildInfo{})
	r := newRig(t, func(_ *session.Options, po *phone.Options) { po.Metrics = m })
	r.node.SetSubscriber("4002", fssim.Behavior{Action: fssim.Busy, Ring: simSecond})
	p := phone.DefaultPrompts()

	for i := 1; i <= 2; i++ {
		uuid := r.missCall("4001", "4002", i, fssim.CallOptions{DTMF: "1"})
		if got := r.heard(uuid); len(got) != 0 {
			t.Errorf("unanswered call %d (below the threshold): caller heard %q, want nothing", i, got)
		}
		if ch := r.node.Chats(); len(ch) != 0 {
			t.Errorf("call %d: messages sent: %+v", i, ch)
		}
	}
	if list := r.sessions("4001"); len(list) != 0 {
		t.Fatalf("sessions before the offer: %+v", list)
	}

	uuid := r.call(fssim.CallOptions{From: "4001", To: "4002", DTMF: "1"})
	got := r.heard(uuid)
	if len(got) != 2 || got[0] != p.Offer || got[1] != p.On {
		t.Fatalf("third unanswered call: caller heard %q, want the offer then the confirmation", got)
	}
	list := r.sessions("4001")
	if len(list) != 1 || list[0].Callee != "4002" || list[0].Source != session.SourceOffer {
		t.Fatalf("sessions after pressing 1: %+v", list)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]float64{}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			if l := s.GetLabel(); len(l) == 1 {
				counted[mf.GetName()+"/"+l[0].GetValue()] = s.GetCounter().GetValue()
			}
		}
	}
	for key, want := range map[string]float64{"bgcall_phone_offers_total/made": 1, "bgcall_phone_offers_total/accepted": 1,
		"bgcall_phone_offers_total/declined": 0, "bgcall_phone_connections_total/handled": 3} {
		if counted[key] != want {
			t.Errorf("%s = %v, want %v", key, counted[key], want)
		}
	}
	// The session resets the run, and the call's own hangup does not count
	// it again.
	time.Sleep(20 * simSecond)
	if n := r.missed("4001", "4002"); n != 0 {
		t.Errorf("unanswered calls after the session was created: %d, want 0", n)
	}
}

func TestOfferTimesOut(t *testing.T) {
	r := newRig(t, func(_ *session.Options, po *phone.Options) {
		po.OfferThreshold = 2
		po.DigitTimeout = 50 * time.Millisecond
	})
	r.node.SetSubscriber("5002", fssim.Behavior{Action: fssim.NoAnswer})
	p := phone.DefaultPrompts()

	r.missCall("5001", "5002", 1, fssim.CallOptions{Timeout: 3})
	uuid := r.call(fssim.CallOptions{From: "5001", To: "5002", Timeout: 3})
	if got := r.heard(uuid); len(got) != 1 || got[0] != p.Offer {
		t.Fatalf("second unanswered call: caller heard %q, want only the offer", got)
	}
	if list := r.sessions("5001"); len(list) != 0 {
		t.Errorf("a timed-out offer created sessions: %+v", list)
	}

	// Any other key declines too.
	uuid = r.call(fssim.CallOptions{From: "5001", To: "5002", Timeout: 3, DTMF: "2"})
	if got := r.heard(uuid); len(got) != 1 || got[0] != p.Offer {
		t.Fatalf("third unanswered call: caller heard %q, want only the offer", got)
	}
	if list := r.sessions("5001"); len(list) != 0 {
		t.Errorf("a declined offer created sessions: %+v", list)
	}
}

func TestAnsweredCallResetsTheCount(t *testing.T) {
	r := newRig(t)
	r.node.SetSubscriber("6002",
		fssim.Behavior{Action: fssim.Busy},
		fssim.Behavior{Action: fssim.Busy},
		fssim.Behavior{Action: fssim.Answer, Ring: simSecond, Talk: 2 * simSecond},
		fssim.Behavior{Action: fssim.Busy},
	)
	r.missCall("6001", "6002", 1, fssim.CallOptions{})
	r.missCall("6001", "6002", 2, fssim.CallOptions{})
	r.call(fssim.CallOptions{From: "6001", To: "6002"})
	r.waitFor("count reset by the answered call", func() bool { return r.missed("6001", "6002") == 0 })

	uuid := r.missCall("6001", "6002", 1, fssim.CallOptions{DTMF: "1"})
	if got := r.heard(uuid); len(got) != 0 {
		t.Errorf("first unanswered call after an answered one: caller heard %q", got)
	}
	if list := r.sessions("6001"); len(list) != 0 {
		t.Errorf("sessions: %+v", list)
	}
}

func TestCallerGivingUpWhileBRingsCounts(t *testing.T) {
	r := newRig(t)
	r.node.SetSubscriber("7002", fssim.Behavior{Action: fssim.NoAnswer})
	r.missCall("7001", "7002", 1, fssim.CallOptions{HangupAfter: 2 * simSecond})
	r.missCall("7001", "7002", 2, fssim.CallOptions{HangupAfter: 2 * simSecond})
}

func TestOfferByMessageWithoutTheHook(t *testing.T) {
	log := &offerLog{}
	r := newRig(t, func(_ *session.Options, po *phone.Options) { po.OfferNotifier = log })
	busy := fssim.Behavior{Action: fssim.Busy}
	r.node.SetSubscriber("8002", busy, busy, busy, busy, fssim.Behavior{Action: fssim.Answer, Ring: simSecond, Talk: 2 * simSecond})
	for i := 1; i <= 4; i++ {
		r.missCall("8001", "8002", i, fssim.CallOptions{Socket: "-"})
		want := 0
		if i >= 3 {
			want = 1
		}
		// The watcher sends the offer after it has stored the count the
		// test waited for: wait for the offer too.
		r.waitFor(fmt.Sprintf("%d offers sent after %d unanswered calls", want, i), func() bool { return len(log.list()) >= want })
		if got := log.list(); len(got) > want {
			t.Fatalf("after %d unanswered calls: %d offers sent, want %d", i, len(got), want)
		}
	}
	// The watcher handles hangups one at a time: once the answered call has
	// reset the count, the fourth unanswered call is fully handled, and any
	// second offer it wrongly sent would be here.
	r.call(fssim.CallOptions{From: "8001", To: "8002", Socket: "-"})
	r.waitFor("count reset by the answered call", func() bool { return r.missed("8001", "8002") == 0 })
	got := log.list()
	if len(got) != 1 {
		t.Fatalf("after 4 unanswered calls: %d offers sent, want 1", len(got))
	}
	if o := got[0]; o.Caller != "8001" || o.Callee != "8002" || o.Missed != 3 {
		t.Errorf("offer %+v", o)
	}
}

func TestSessionFromTheAPIResetsTheCount(t *testing.T) {
	r := newRig(t)
	r.node.SetSubscriber("9002", fssim.Behavior{Action: fssim.Busy})
	r.missCall("9001", "9002", 1, fssim.CallOptions{})
	r.missCall("9001", "9002", 2, fssim.CallOptions{})
	if _, _, err := r.eng.Create(context.Background(), session.Request{Caller: "9001", Callee: "9002"}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("count reset by the new session", func() bool { return r.missed("9001", "9002") == 0 })
}
