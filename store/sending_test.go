package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"bgcall/internal/testutil"
)

// dialing returns a session of caller and callee that r1 steers, dialing
// B on fs1.
func dialing(t *testing.T, st *Store, caller, callee string) Session {
	t.Helper()
	s, err := st.BeginAttempt(context.Background(), claimOne(t, st, caller, callee, "r1"), "fs1", t0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cancelOf is the step a cancel stores for s.
func cancelOf(s Session) (Session, []Entry) {
	next := s
	next.State, next.Outcome, next.Owner, next.FinishedAt = Finished, Cancelled, "", t0
	return next, []Entry{{Kind: KindCancelled}, {Kind: KindFinished}}
}

// TestSendingHoldsACancelBack: while B's originate is marked as on its
// way, a cancel is refused and writes nothing; once the mark is taken
// away, the cancel goes through.
func TestSendingHoldsACancelBack(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	s := dialing(t, st, "1001", "1002")
	if ok, err := st.BeginSending(ctx, s.ID, s.CalleeLeg, 2*time.Second); err != nil || !ok {
		t.Fatalf("BeginSending of the callee leg of a session dialing B = %v, %v; want marked", ok, err)
	}
	if ttl := c.PTTL(ctx, st.sendingKey(s.ID)).Val(); ttl <= 0 || ttl > 2*time.Second {
		t.Errorf("the mark lapses in %v, want within its hold of 2s", ttl)
	}

	next, entries := cancelOf(s)
	before := snapshot(t, st, c)
	if _, err := st.ApplyCancel(ctx, next, s.Version, entries, t0); !errors.Is(err, ErrSending) {
		t.Fatalf("a cancel while B's originate is on its way: %v, want ErrSending", err)
	}
	sameSnapshot(t, before, snapshot(t, st, c))

	// Another leg's end leaves the mark alone.
	if err := st.EndSending(ctx, s.ID, "another-leg"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyCancel(ctx, next, s.Version, entries, t0); !errors.Is(err, ErrSending) {
		t.Fatalf("a cancel after another leg's mark ended: %v, want ErrSending", err)
	}

	// A cancel from an old view is stale, mark or not: the version is
	// checked first.
	if _, err := st.ApplyCancel(ctx, next, s.Version-1, entries, t0); !errors.Is(err, ErrStale) {
		t.Errorf("a cancel at an old version while marked: %v, want ErrStale", err)
	}
	if err := st.EndSending(ctx, s.ID, s.CalleeLeg); err != nil {
		t.Fatal(err)
	}
	got, err := st.ApplyCancel(ctx, next, s.Version, entries, t0)
	if err != nil || got.State != Finished {
		t.Fatalf("a cancel once the originate left = %+v, %v; want finished", got, err)
	}
}

// TestSendingLapses: a mark nobody takes away (its replica died) holds a
// cancel back only until it lapses; the steering replica's own steps are
// never held back by it.
func TestSendingLapses(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	s := dialing(t, st, "1001", "1002")
	if ok, err := st.BeginSending(ctx, s.ID, s.CalleeLeg, time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	ring := s
	ring.Attempts = 1 // any step of the owner's
	ring, err := st.Apply(ctx, ring, s.Version, []Entry{{Kind: KindScheduled}}, t0)
	if err != nil {
		t.Fatalf("the owner's own step while its originate is marked: %v", err)
	}
	if ok, err := st.BeginSending(ctx, ring.ID, ring.CalleeLeg, 100*time.Millisecond); !ok || err != nil {
		t.Fatal(ok, err)
	}
	next, entries := cancelOf(ring)
	if _, err := st.ApplyCancel(ctx, next, ring.Version, entries, t0); !errors.Is(err, ErrSending) {
		t.Fatalf("a cancel while marked: %v, want ErrSending", err)
	}
	testutil.WaitFor(t, "the mark to lapse and the cancel to go through", func() bool {
		_, err := st.ApplyCancel(ctx, next, ring.Version, entries, t0)
		return err == nil
	})
}

// TestSendingRefusals: a leg the session does not wait for is not marked,
// and nothing is written: a cancel (or another step) came first, and the
// leg must not be dialled.
func TestSendingRefusals(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	s := dialing(t, st, "1001", "1002")
	waiting := claimOne(t, st, "1003", "1004", "r1")
	hold := s
	hold.State, hold.CallerLeg = CalleeHold, "caller-leg"
	hold, err := st.Apply(ctx, hold, s.Version, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, entries := cancelOf(dialing(t, st, "1005", "1006"))
	cancelled, err = st.ApplyCancel(ctx, cancelled, cancelled.Version, entries, t0)
	if err != nil {
		t.Fatal(err)
	}
	confirming := dialing(t, st, "1007", "1008")
	confirming.State = Confirming
	if confirming, err = st.Apply(ctx, confirming, confirming.Version, nil, t0); err != nil {
		t.Fatal(err)
	}
	bridged := hold
	bridged.State = Bridged
	if bridged, err = st.Apply(ctx, bridged, hold.Version, nil, t0); err != nil {
		t.Fatal(err)
	}
	holding := dialing(t, st, "1009", "1010")
	holding.State, holding.CallerLeg = CalleeHold, "caller-leg"
	if holding, err = st.Apply(ctx, holding, holding.Version, nil, t0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		id, leg string
	}{
		{"B asked to confirm: B's leg", confirming.ID, confirming.CalleeLeg},
		{"bridged: A's leg", bridged.ID, bridged.CallerLeg},
		{"gone", "no-such-session", "leg"},
		{"waiting", waiting.ID, "leg"},
		{"B holding: B's leg", holding.ID, holding.CalleeLeg},
		{"B holding: another caller leg", holding.ID, "another-leg"},
		{"cancelled", cancelled.ID, cancelled.CalleeLeg},
	} {
		before := snapshot(t, st, c)
		if ok, err := st.BeginSending(ctx, tc.id, tc.leg, time.Second); ok || err != nil {
			t.Errorf("%s: BeginSending = %v, %v; want not marked", tc.name, ok, err)
		}
		sameSnapshot(t, before, snapshot(t, st, c))
	}
	// A's leg while B holds is marked: A's originate is held to it too.
	if ok, err := st.BeginSending(ctx, holding.ID, "caller-leg", time.Second); !ok || err != nil {
		t.Errorf("BeginSending of A's leg while B holds = %v, %v; want marked", ok, err)
	}
	if _, err := st.BeginSending(ctx, s.ID, s.CalleeLeg, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("a hold of 0: %v, want ErrInvalid", err)
	}
}

// TestLostReplySending: a mark, its end and a held-back cancel whose
// replies are lost answer, when sent again, as the first run did.
func TestLostReplySending(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	ls, p := lossy(t, st)
	s := dialing(t, st, "1001", "1002")

	lost := loseReply(t, p, beginSendingScript)
	ok, err := ls.BeginSending(ctx, s.ID, s.CalleeLeg, 2*time.Second)
	lost()
	if err != nil || !ok {
		t.Fatalf("BeginSending after a lost reply = %v, %v; want marked", ok, err)
	}

	next, entries := cancelOf(s)
	lost = loseReply(t, p, applyScript)
	_, err = ls.ApplyCancel(ctx, next, s.Version, entries, t0)
	lost()
	if !errors.Is(err, ErrSending) {
		t.Fatalf("a cancel after a lost reply while the originate is on its way: %v, want ErrSending", err)
	}

	lost = loseReply(t, p, endSendingScript)
	err = ls.EndSending(ctx, s.ID, s.CalleeLeg)
	lost()
	if err != nil {
		t.Fatalf("EndSending after a lost reply: %v", err)
	}
	if n := c.Exists(ctx, st.sendingKey(s.ID)).Val(); n != 0 {
		t.Error("the mark is still there")
	}
	if got, err := ls.ApplyCancel(ctx, next, s.Version, entries, t0); err != nil || got.State != Finished {
		t.Errorf("the cancel once the mark ended = %+v, %v", got, err)
	}
	if tl, err := st.Timeline(ctx, s.ID); err != nil || len(tl) != 4 {
		t.Errorf("timeline %d entries, %v; want created, attempt, cancelled, finished", len(tl), err)
	}
}
