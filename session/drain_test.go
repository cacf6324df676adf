package session_test

import (
	"context"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/store"
)

// TestDrainedReplicaTakesNothingOver: when a replica stops, handing its
// live session over, a draining replica leaves the session alone (it is
// going away too); a replica that stays takes it and sees the call out.
func TestDrainedReplicaTakesNothingOver(t *testing.T) {
	h := newHarness(t, withoutEngine())
	h.nodes[0].SetSubscriber("1902", answer)
	h.nodes[0].SetSubscriber("1901", answer) // A stays on the line until the test hangs up
	leaverOpts, drainedOpts, stayerOpts := h.opts, h.opts, h.opts
	leaverOpts.Replica, drainedOpts.Replica, stayerOpts.Replica = "leaver", "drained", "stayer"

	drained, _ := h.startStoppable(drainedOpts)
	drained.Drain()
	var stopLeaver func()
	h.eng, stopLeaver = h.startStoppable(leaverOpts)
	s := h.create("1901", "1902")
	talking := h.waitState(s.ID, store.Bridged)
	stopLeaver()

	// Six lease rounds of the drained replica (LeaseTTL/3 each): the
	// leaver's lease ran out during them, and each round after that would
	// have taken the session over.
	for rounds := drained.LeaseRounds(); drained.LeaseRounds() < rounds+6; {
		time.Sleep(10 * time.Millisecond)
	}
	if got, _ := h.st.Get(context.Background(), s.ID); got.Owner == "drained" || drained.Live() != 0 {
		t.Fatalf("the draining replica took the session over (owner %q, %d live there)", got.Owner, drained.Live())
	}

	h.eng, _ = h.startStoppable(stayerOpts)
	h.waitSteered(h.eng)
	kill, err := freeswitch.UUIDKill(talking.CallerLeg, freeswitch.NormalClearing)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.pool.API(context.Background(), talking.Node, kill); err != nil {
		t.Fatalf("hang up A: %v", err)
	}
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.Completed || got.Attempts != 1 {
		t.Fatalf("outcome %s after %d attempts, want completed after 1\n%s", got.Outcome, got.Attempts, formatTimeline(h.timeline(s.ID)))
	}
	if n := drained.Live(); n != 0 {
		t.Errorf("the draining replica steers %d sessions, want none", n)
	}
	h.waitIdle()
}
