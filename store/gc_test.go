package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// finishNow creates, claims and finishes a session at now.
func finishNow(t *testing.T, st *Store, caller, callee string, now time.Time) Session {
	t.Helper()
	ctx := context.Background()
	created := mustCreate(t, st, newSession(caller, callee), now)
	claimed, _, err := st.ClaimDue(ctx, "r1", now, 1)
	if err != nil || len(claimed) != 1 || claimed[0].ID != created.ID {
		t.Fatalf("claim %s: %+v, %v", created.ID, claimed, err)
	}
	next := claimed[0]
	next.State, next.Outcome, next.Owner = Finished, Cancelled, ""
	done, err := st.Apply(ctx, next, claimed[0].Version, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return done
}

// TestForgetWhenRetentionEnds checks that sessions are forgotten by the
// first ClaimDue after their retention ends, although ClaimDue does not
// look for them on every call.
func TestForgetWhenRetentionEnds(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{Retention: time.Minute})
	done := finishNow(t, st, "1001", "1002", t0)
	stored := func() bool { return c.Exists(ctx, st.sessionKey(done.ID)).Val() == 1 }
	for _, at := range []time.Duration{0, 500 * time.Millisecond, 30 * time.Second, time.Minute - time.Millisecond} {
		if _, _, err := st.ClaimDue(ctx, "r1", t0.Add(at), 1); err != nil {
			t.Fatal(err)
		}
		if !stored() {
			t.Fatalf("session forgotten %v after it finished, before its retention ended", at)
		}
	}
	if _, _, err := st.ClaimDue(ctx, "r1", t0.Add(time.Minute), 1); err != nil {
		t.Fatal(err)
	}
	if stored() {
		t.Error("session still stored when its retention ended")
	}

	// A session another replica finishes is found within gcRecheck, even
	// when this Store last found nothing to forget.
	other := New(c, Options{Namespace: st.Options().Namespace, Retention: time.Millisecond})
	now := t0.Add(2 * time.Minute)
	if _, _, err := st.ClaimDue(ctx, "r1", now, 1); err != nil {
		t.Fatal(err)
	}
	short := finishNow(t, other, "1003", "1004", now)
	if _, _, err := st.ClaimDue(ctx, "r1", now.Add(gcRecheck), 1); err != nil {
		t.Fatal(err)
	}
	if c.Exists(ctx, st.sessionKey(short.ID)).Val() == 1 {
		t.Error("a session another replica finished is still stored after gcRecheck")
	}
}

// TestForgetABacklogInBatches checks that a backlog larger than one batch
// is forgotten by the next calls, without waiting for gcRecheck.
func TestForgetABacklogInBatches(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{Retention: time.Minute})
	for i := range gcBatch + 10 {
		finishNow(t, st, fmt.Sprintf("1%04d", i), fmt.Sprintf("2%04d", i), t0)
	}
	end := t0.Add(time.Hour)
	for i, want := range []int64{10, 0} {
		if _, _, err := st.ClaimDue(ctx, "r1", end, 0); err != nil {
			t.Fatal(err)
		}
		if n := c.ZCard(ctx, st.gcKey()).Val(); n != want {
			t.Errorf("after pass %d: %d sessions left to forget, want %d", i+1, n, want)
		}
	}
	if n := c.ZCard(ctx, st.indexKey()).Val(); n != 0 {
		t.Errorf("index holds %d sessions", n)
	}
}
