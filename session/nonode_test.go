package session_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"bgcall/store"
)

// TestNoNodeDefersTheAttempt: with no FreeSWITCH node connected, a due
// session is claimed but no attempt begins; it waits again, its timeline
// says why, and its attempts stay at zero.
func TestNoNodeDefersTheAttempt(t *testing.T) {
	h := newHarness(t)
	sim := h.nodes[0]
	sim.Close()
	deadline := time.Now().Add(5 * time.Second)
	for h.pool.Health()[0].Connected {
		if time.Now().After(deadline) {
			t.Fatal("pool still reports the closed node connected")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s := h.create("1901", "1902")
	got := h.waitFor(s.ID, "a deferred attempt", func(s store.Session) bool {
		return slices.Contains(kinds(h.timeline(s.ID)), "deferred")
	})
	if got.Attempts != 0 || got.State == store.DialingCallee || got.CalleeLeg != "" {
		t.Fatalf("no node, yet %+v", got)
	}
	for _, e := range h.timeline(s.ID) {
		if e.Kind == store.KindDeferred && !strings.Contains(e.Note, "no FreeSWITCH node connected") {
			t.Errorf("deferred entry says %q", e.Note)
		}
	}
	if n := len(sim.Originates()); n != 0 {
		t.Errorf("%d originates reached a closed node", n)
	}
}
