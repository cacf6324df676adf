package session_test

import (
	"testing"
	"time"

	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// TestReconcileAdoptsAnOwnedSessionNobodySteers: the store gives r1 a
// session its engine was never told of (a claim whose reply was lost, here
// a claim made behind the engine's back). The reconciler finds it and the
// session is dialled and completes, instead of waiting forever.
func TestReconcileAdoptsAnOwnedSessionNobodySteers(t *testing.T) {
	h := newHarness(t, withOptions(func(o *session.Options) { o.ReconcileInterval = 50 * time.Millisecond }))
	h.nodes[0].SetSubscriber("1802", answer)
	h.nodes[0].SetSubscriber("1801", fssim.Behavior{Action: fssim.Answer, Ring: simSecond, Talk: 5 * simSecond})
	now := time.Now()
	due := now.Add(time.Hour) // not due for the engine's scheduler
	s, _, err := h.st.Create(t.Context(), store.Session{Caller: "1801", Callee: "1802", Source: "api", State: store.Waiting,
		CreatedAt: now, UpdatedAt: now, DueAt: due, DeadlineAt: due.Add(time.Hour)},
		store.Entry{At: now, Kind: store.KindCreated, State: store.Waiting}, store.Limits{}, now)
	if err != nil {
		t.Fatal(err)
	}
	claimed, _, err := h.st.ClaimDue(t.Context(), "r1", due, 1)
	if err != nil || len(claimed) != 1 || claimed[0].ID != s.ID {
		t.Fatalf("claim behind the engine's back: %v %v", claimed, err)
	}
	if got := h.waitOutcome(s.ID); got.Outcome != store.Completed {
		t.Fatalf("outcome %s, want completed\n%s", got.Outcome, formatTimeline(h.timeline(s.ID)))
	}
}
