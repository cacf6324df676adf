package webhook

import (
	"testing"

	"bgcall/store"
)

// BenchmarkObserve is what a stored transition costs the engine's worker
// when webhooks are on: encoding its events and queueing them.
func BenchmarkObserve(b *testing.B) {
	h, err := New(Options{Outbox: stuckOutbox{}, Replica: "r1", URL: "https://hooks.example.com/e", Secret: secret, Queue: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	s := session("06h3qcc0e33qkjwka7sg", 4)
	s.CallbackURL = "https://crm.example.com/hooks/bgcall"
	entries := []store.Entry{
		{At: t0, Kind: store.KindAttemptEnded, State: store.Waiting, Leg: "callee", Attempt: 1, Node: "fs1", UUID: "5f0c1c2e-6c1f-4a54-9d1e-3d0b1b8c2a77", Cause: "USER_BUSY"},
		{At: t0, Kind: store.KindScheduled, State: store.Waiting, Attempt: 2},
	}
	b.ReportAllocs()
	for b.Loop() {
		h.Observe(s, entries)
		select {
		case <-h.queue:
			<-h.queue
		default:
		}
	}
}
