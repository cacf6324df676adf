package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBeginAttempt: a claimed waiting session begins its attempt as a
// claim begins one (the same fields, the same timeline entry, a leg of its
// own), reads back as returned, and a diffed Apply builds on it.
func TestBeginAttempt(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	s := claimOne(t, st, "1001", "1002", "r1")
	// A caller leg left in a waiting hash must not survive the start.
	if err := c.HSet(ctx, st.sessionKey(s.ID), fCallerLeg, "stale-leg").Err(); err != nil {
		t.Fatal(err)
	}
	s.CallerLeg = "stale-leg"
	now := t0.Add(time.Second)
	got, err := st.BeginAttempt(ctx, s, "fs2", now)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != DialingCallee || got.Attempts != 1 || got.Node != "fs2" || got.CallerLeg != "" ||
		len(got.CalleeLeg) != 36 || got.Version != s.Version+1 || got.Fence != s.Fence || !got.UpdatedAt.Equal(now) {
		t.Fatalf("BeginAttempt = %+v", got)
	}
	if stored, err := st.Get(ctx, s.ID); err != nil || stored != got {
		t.Errorf("stored %+v, %v; returned %+v", stored, err, got)
	}
	tl, err := st.Timeline(ctx, s.ID)
	if err != nil || len(tl) != 2 {
		t.Fatalf("timeline %+v, %v", tl, err)
	}
	if e := tl[1]; e.Kind != KindAttempt || e.Attempt != 1 || e.UUID != got.CalleeLeg || e.Node != "fs2" || e.Leg != "callee" || e.State != DialingCallee {
		t.Errorf("attempt entry %+v", e)
	}
	if n := c.HGet(ctx, st.countKey(), "waiting>dialing_callee").Val(); n != "1" {
		t.Errorf("waiting>dialing_callee counted %q times", n)
	}

	// The next attempt (after a retry) gets the next number and a new leg.
	next := got
	next.State, next.DueAt = Waiting, now
	back, err := st.Apply(ctx, next, got.Version, []Entry{{Kind: KindScheduled}}, now)
	if err != nil {
		t.Fatal(err)
	}
	again, err := st.BeginAttempt(ctx, back, "fs1", now)
	if err != nil || again.Attempts != 2 || again.CalleeLeg == got.CalleeLeg {
		t.Fatalf("second attempt = %+v, %v; want attempt 2 on a new leg", again, err)
	}
}

// TestBeginAttemptRefusals: a session not at the presented version, fence
// or owner, not waiting, gone or undecodable begins nothing, and nothing
// is written.
func TestBeginAttemptRefusals(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	s := claimOne(t, st, "1001", "1002", "r1")
	stale, fenced, stolen := s, s, s
	stale.Version--
	fenced.Fence++
	stolen.Owner = "r2"
	gone := s
	gone.ID = "no-such-session"
	for _, tc := range []struct {
		name string
		sess Session
		node string
		want error
	}{
		{"old version", stale, "fs1", ErrStale},
		{"other fence", fenced, "fs1", ErrFenced},
		{"other owner", stolen, "fs1", ErrFenced},
		{"gone", gone, "fs1", ErrNotFound},
		{"no node", s, "", ErrInvalid},
	} {
		before := snapshot(t, st, c)
		_, err := st.BeginAttempt(ctx, tc.sess, tc.node, t0)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		sameSnapshot(t, before, snapshot(t, st, c))
	}

	// Begun once, the same view cannot begin a second attempt.
	if _, err := st.BeginAttempt(ctx, s, "fs1", t0); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, st, c)
	if _, err := st.BeginAttempt(ctx, s, "fs1", t0); !errors.Is(err, ErrStale) {
		t.Errorf("a second begin from the same view: %v, want ErrStale", err)
	}
	sameSnapshot(t, before, snapshot(t, st, c))
}

// TestLostReplyBeginAttempt: a begin whose reply is lost and which the
// client sends again reports the attempt the first run began, once.
func TestLostReplyBeginAttempt(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	ls, p := lossy(t, st)
	s := claimOne(t, st, "1001", "1002", "r1")
	lost := loseReply(t, p, beginScript)
	got, err := ls.BeginAttempt(ctx, s, "fs1", t0)
	lost()
	if err != nil || got.Attempts != 1 || got.Version != s.Version+1 {
		t.Fatalf("BeginAttempt after a lost reply = %+v, %v", got, err)
	}
	if stored, err := st.Get(ctx, s.ID); err != nil || stored.CalleeLeg != got.CalleeLeg || stored.Version != got.Version {
		t.Errorf("stored %+v, %v; returned %+v", stored, err, got)
	}
	if tl, err := st.Timeline(ctx, s.ID); err != nil || len(tl) != 2 {
		t.Errorf("timeline %+v, %v; want created and one attempt", tl, err)
	}
	if n := c.HGet(ctx, st.countKey(), "waiting>dialing_callee").Val(); n != "1" {
		t.Errorf("waiting>dialing_callee counted %q times, want once", n)
	}
}
