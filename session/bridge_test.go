package session_test

import (
	"strings"
	"testing"
	"time"

	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// TestBridgeNeverConfirmed: A answered and uuid_bridge went out, but no
// CHANNEL_BRIDGE came within the leg grace. Here the node answers every api
// command and every originate's job late (by apiDelay): B's job comes at
// apiDelay, and the hold prompt, sent then, holds the session's commands
// for apiDelay more. A answers between the two, so uuid_bridge, sent a
// grace after A's answer without the jobs, waits behind the hold prompt
// past its own grace. The session fails with that reason, and both legs,
// which would otherwise sit parked, are hung up.
func TestBridgeNeverConfirmed(t *testing.T) {
	const grace, apiDelay = 500 * time.Millisecond, 2 * time.Second
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.LegGrace = grace
		o.Policy.CallerRingTime = 1000 * time.Second // 20 s of simulator time: A answers long before
		o.ParkTimeout = 1000 * time.Second           // not what ends B here
	}))
	h.nodes[0].SetSubscriber("1802", answer)
	// A answers after B's job came (apiDelay), soon enough that the bridge
	// is sent before the hold prompt's reply (2 apiDelay) and its grace
	// runs out before that: after 1.5 s, before 3 s.
	h.nodes[0].SetSubscriber("1801", fssim.Behavior{Action: fssim.Answer, Ring: apiDelay + grace/2})
	h.nodes[0].SetAPIDelay(apiDelay)
	s := h.create("1801", "1802")
	got := h.waitOutcome(s.ID)
	tl := h.timeline(s.ID)
	last := tl[len(tl)-1]
	if got.Outcome != store.Failed || !strings.Contains(last.Note, "never bridged the legs") {
		t.Fatalf("outcome %s, want failed for a bridge never confirmed\n%s", got.Outcome, formatTimeline(tl))
	}
	for _, e := range tl {
		if e.Kind == store.KindBridged {
			t.Fatalf("timeline has a bridge, want none\n%s", formatTimeline(tl))
		}
	}
	if a, b := len(h.originates("1801")), len(h.originates("1802")); a != 1 || b != 1 {
		t.Errorf("A dialled %d times and B %d, want once each", a, b)
	}
	h.nodes[0].SetAPIDelay(0)
	h.waitIdle() // bgcall hung them up: the bridge, late, would have held them
}
