package session_test

import (
	"strings"
	"testing"
	"time"

	"bgcall/session"
	"bgcall/store"
)

// TestBridgeNeverConfirmed: A answered and uuid_bridge went out, but no
// CHANNEL_BRIDGE came within the leg grace (here the node answers every
// api command and every originate's job late: uuid_bridge goes out a grace
// after A's answer, without the jobs, and waits behind the hold prompt,
// whose reply takes two graces more). The session fails with that reason,
// and both legs, which would otherwise sit parked, are hung up.
func TestBridgeNeverConfirmed(t *testing.T) {
	const grace = 300 * time.Millisecond
	h := newHarness(t, withOptions(func(o *session.Options) { o.LegGrace = grace }))
	h.nodes[0].SetSubscriber("1802", answer)
	h.nodes[0].SetSubscriber("1801", answer)
	h.nodes[0].SetAPIDelay(4 * grace)
	s := h.create("1801", "1802")
	got := h.waitOutcome(s.ID)
	tl := h.timeline(s.ID)
	last := tl[len(tl)-1]
	if got.Outcome != store.Failed || !strings.Contains(last.Note, "CHANNEL_BRIDGE never came") {
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
