package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"bgcall/freeswitch"
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

	got, _, err := st.ClaimAndStart(ctx, "r1", now, 10, []string{"fs1", "fs2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("claimed %d sessions, want 4", len(got))
	}
	want := map[string]struct {
		state      State
		node       string
		attempts   int
		startEntry bool
	}{
		ids[0]: {DialingCallee, "fs1", 1, true},
		ids[1]: {Waiting, "", 0, false}, // deadline passed: claimed, not started
		ids[2]: {DialingCallee, "fs2", 1, true},
		ids[3]: {Waiting, "", 0, false}, // no start left
	}
	legs := map[string]bool{}
	for _, s := range got {
		w := want[s.ID]
		if s.State != w.state || s.Node != w.node || s.Attempts != w.attempts ||
			s.CallerLeg != "" || s.Owner != "r1" || s.Fence != 1 || s.Version != 2 || !s.UpdatedAt.Equal(now) {
			t.Errorf("session %s: %+v, want %+v", s.ID, s, w)
		}
		if w.startEntry {
			if err := freeswitch.ValidUUID(s.CalleeLeg); err != nil || legs[s.CalleeLeg] {
				t.Errorf("session %s: callee leg %q (%v), seen before: %v", s.ID, s.CalleeLeg, err, legs[s.CalleeLeg])
			}
			legs[s.CalleeLeg] = true
		} else if s.CalleeLeg != "" {
			t.Errorf("session %s: not started but has callee leg %q", s.ID, s.CalleeLeg)
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
		started := last.Kind == KindAttempt
		if started != w.startEntry {
			t.Errorf("session %s: timeline %+v", s.ID, tl)
		}
		if started && (last.Attempt != 1 || last.Node != w.node || last.UUID != s.CalleeLeg || last.Leg != "callee" ||
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
	if _, err := st.Apply(ctx, next, s.Version, []Entry{{Kind: KindCalleeAnswered}}, now); err != nil {
		t.Fatalf("apply after a started claim: %v", err)
	}

	if _, _, err := st.ClaimAndStart(ctx, "r1", now, 1, []string{""}); !errors.Is(err, ErrInvalid) {
		t.Errorf("start without a node: %v, want ErrInvalid", err)
	}
}

// TestClaimAndStartTwiceNeverSharesALeg runs the claim script a second
// time with the same arguments, as a client retrying after a lost reply
// does: the second run answers with what the first claimed, legs and all;
// another claim (another token, the same seed) claims the next sessions
// and gives them legs of their own.
func TestClaimAndStartTwiceNeverSharesALeg(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	for i := range 4 {
		s := newSession(fmt.Sprintf("10%02d", i), fmt.Sprintf("20%02d", i))
		s.DueAt = t0.Add(time.Duration(i) * time.Second)
		mustCreate(t, st, s, t0)
	}
	now := t0.Add(time.Minute)
	args := []any{st.p, ms(now), 2, "r1", st.channel(), 0, 0, st.opts.Retention.Milliseconds(), "seed", 2,
		"fs1", encodeEntry(Entry{At: now, Kind: KindAttempt, State: DialingCallee, Leg: "callee", Node: "fs1"}),
		"fs1", encodeEntry(Entry{At: now, Kind: KindAttempt, State: DialingCallee, Leg: "callee", Node: "fs1"})}
	run := func(token string) map[string]string {
		keys := []string{st.dueKey(), st.ownKey("r1"), st.gcKey(), st.indexKey(), st.replicasKey(), st.countKey(), st.p + "r:" + token}
		res, err := claimScript.Run(ctx, c, keys, args...).Slice()
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := st.decodePairs(ctx, res[3:])
		if err != nil || len(sessions) != 2 {
			t.Fatalf("token %s: %v, %v", token, sessions, err)
		}
		legs := map[string]string{}
		for _, s := range sessions {
			if s.State != DialingCallee {
				t.Errorf("token %s: session %s not started", token, s.ID)
			}
			legs[s.CalleeLeg] = s.ID
		}
		return legs
	}
	first, again, other := run("a"), run("a"), run("b")
	if !reflect.DeepEqual(first, again) {
		t.Errorf("the same claim sent twice answered %v, then %v", first, again)
	}
	for leg, id := range other {
		if was, dup := first[leg]; dup {
			t.Errorf("session %s got leg %s, already session %s's", id, leg, was)
		}
	}
}
