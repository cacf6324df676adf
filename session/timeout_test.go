package session_test

import (
	"strings"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// TestRingWithoutNews: when FreeSWITCH reports nothing about a ringing
// callee leg (its events stall), bgcall's own deadline ends the attempt
// (RECOVERY_ON_TIMER_EXPIRE) and the policy decides.
func TestRingWithoutNews(t *testing.T) {
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Policy.RingTime = time.Second // 20 ms of simulator time
		o.Policy.MaxAttempts = 1
		o.LegGrace = 300 * time.Millisecond
	}))
	sim := h.nodes[0]
	sim.SetSubscriber("1602", fssim.Behavior{Action: fssim.NoAnswer})
	sim.StallEvents(true)
	s := h.create("1601", "1602")
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.Expired || got.Attempts != 1 {
		t.Fatalf("outcome %s after %d attempts, want expired after 1\n%s", got.Outcome, got.Attempts, formatTimeline(h.timeline(s.ID)))
	}
	found := false
	for _, e := range h.timeline(s.ID) {
		if e.Cause == string(freeswitch.RecoveryOnTimerExpire) && strings.Contains(e.Note, "reported nothing") {
			found = true
		}
	}
	if !found {
		t.Errorf("no attempt ended by bgcall's deadline:\n%s", formatTimeline(h.timeline(s.ID)))
	}
	sim.StallEvents(false)
	if n := len(h.originates("1602")); n != 1 {
		t.Errorf("B dialled %d times, want once", n)
	}
}
