package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestClaimAndStart: the first sessions claimed get the starts, in due
// order, unless their deadline has passed; what the claim returns is what
// it stored; the next Apply builds on it as on any other transition.
func TestClaimAndStart(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	now := t0.Add(time.Minute)
	first := newSession("1001", "2001")
	first.DueAt = t0.Add(time.Second)
	late := newSession("1002", "2002")
	late.DueAt, late.DeadlineAt = t0.Add(2*time.Second), t0.Add(30*time.Second) // past its deadline at now
	third := newSession("1003", "2003")
	third.DueAt = t0.Add(3 * time.Second)
	fourth := newSession("1004", "2004")
	fourth.DueAt = t0.Add(4 * time.Second)
	ids := []string{mustCreate(t, st, first, t0).ID, mustCreate(t, st, late, t0).ID,
		mustCreate(t, st, third, t0).ID, mustCreate(t, st, fourth, t0).ID}
	// A caller leg left in a waiting hash must not survive the start.
	if err := c.HSet(ctx, st.sessionKey(ids[2]), fCallerLeg, "stale-leg").Err(); err != nil {
		t.Fatal(err)
	}

	starts := []Start{{Node: "fs1", CalleeLeg: "leg-1"}, {Node: "fs2", CalleeLeg: "leg-2"}}
	got, _, err := st.ClaimAndStart(ctx, "r1", now, 10, starts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("claimed %d sessions, want 4", len(got))
	}
	want := map[string]struct {
		state      State
		node, leg  string
		attempts   int
		startEntry bool
	}{
		ids[0]: {DialingCallee, "fs1", "leg-1", 1, true},
		ids[1]: {Waiting, "", "", 0, false}, // deadline passed: claimed, not started
		ids[2]: {DialingCallee, "fs2", "leg-2", 1, true},
		ids[3]: {Waiting, "", "", 0, false}, // no start left
	}
	for _, s := range got {
		w := want[s.ID]
		if s.State != w.state || s.Node != w.node || s.CalleeLeg != w.leg || s.Attempts != w.attempts ||
			s.CallerLeg != "" || s.Owner != "r1" || s.Fence != 1 || s.Version != 2 || !s.UpdatedAt.Equal(now) {
			t.Errorf("session %s: %+v, want %+v", s.ID, s, w)
		}
		stored, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(stored, s) {
			t.Errorf("session %s: claim returned\n%+v\nstored\n%+v", s.ID, s, stored)
		}
		tl, err := st.Timeline(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := tl[len(tl)-1]
		started := last.Kind == "attempt"
		if started != w.startEntry {
			t.Errorf("session %s: timeline %+v", s.ID, tl)
		}
		if started && (last.Attempt != 1 || last.Node != w.node || last.UUID != w.leg || last.Leg != "callee" ||
			last.State != DialingCallee || !last.At.Equal(now)) {
			t.Errorf("session %s: attempt entry %+v", s.ID, last)
		}
	}
	counts, err := st.LiveCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[DialingCallee] != 2 || counts[Waiting] != 2 {
		t.Errorf("live counts %v, want 2 dialing and 2 waiting", counts)
	}

	// The owner carries on from the started state.
	var s Session
	for _, x := range got {
		if x.ID == ids[0] {
			s = x
		}
	}
	next := s
	next.State, next.AnsweredAt = CalleeHold, now
	next.CallerLeg = "leg-a-1"
	if _, err := st.Apply(ctx, next, s.Version, []Entry{{Kind: "callee_answered"}}, now); err != nil {
		t.Fatalf("apply after a started claim: %v", err)
	}

	if _, _, err := st.ClaimAndStart(ctx, "r1", now, 1, []Start{{Node: "fs1"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("start without a leg: %v, want ErrInvalid", err)
	}
}
