package session_test

import (
	"context"
	"testing"
	"time"

	"bgcall/fssim"
	"bgcall/internal/testutil"
	"bgcall/session"
	"bgcall/store"
)

// TestRedisStallDuringBridge stalls Redis writes right when A answers: the
// step that records the bridge fails, and the engine must find out from
// FreeSWITCH that the call is bridged instead of tearing it down.
func TestRedisStallDuringBridge(t *testing.T) {
	h := newHarness(t, func(h *harness) { h.redisTimeout = 150 * time.Millisecond },
		withOptions(func(o *session.Options) { o.LegGrace = 500 * time.Millisecond }))
	h.nodes[0].SetSubscriber("1702", answer)
	h.nodes[0].SetSubscriber("1701", fssim.Behavior{Action: fssim.Answer, Ring: 3 * simSecond, Talk: 3 * time.Second})
	s := h.create("1701", "1702")
	// A answers 60 ms after being dialled; writes stall for a second from
	// when A's phone rings (not from B's answer: the steps before ringing A
	// would stall instead of the bridge's).
	testutil.WaitFor(t, "A's phone to ring", func() bool { return len(h.originates("1701")) > 0 })
	pause := h.client.Do(context.Background(), "CLIENT", "PAUSE", "1000", "WRITE")
	if err := pause.Err(); err != nil {
		t.Fatal(err)
	}
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.Completed || got.BridgedAt.IsZero() {
		t.Fatalf("outcome %s (bridged %v), want completed after the bridge\n%s", got.Outcome, got.BridgedAt, formatTimeline(h.timeline(s.ID)))
	}
	if n := len(h.nodes[0].Bridges()); n != 1 {
		t.Errorf("%d bridges, want 1", n)
	}
	a := h.originates("1701")
	if len(a) != 1 || a[0].Ended.Sub(a[0].Answered) < 2*time.Second {
		t.Errorf("A's leg %+v: the call was cut short", a)
	}
	h.waitIdle()
}
