package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// claimOne creates a due session and claims it for replica.
func claimOne(t *testing.T, st *Store, caller, callee, replica string) Session {
	t.Helper()
	created := mustCreate(t, st, newSession(caller, callee), t0)
	claimed, _, err := st.ClaimDue(context.Background(), replica, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range claimed {
		if s.ID == created.ID {
			return s
		}
	}
	t.Fatalf("session %s not claimed: %+v", created.ID, claimed)
	return Session{}
}

func TestApplyChecksVersionFenceAndOwner(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	sess := claimOne(t, st, "1001", "1002", "r1")
	if sess.Owner != "r1" || sess.Fence != 1 || sess.Version != 2 {
		t.Fatalf("claimed = %+v", sess)
	}

	next := sess
	next.State, next.Attempts, next.Node, next.CalleeLeg = DialingCallee, 1, "fs1", "leg-b-1"
	entry := Entry{Kind: "dial", Leg: "callee", Attempt: 1, Node: "fs1", UUID: "leg-b-1"}
	now := t0.Add(time.Second)
	got, err := st.Apply(ctx, next, sess.Version, []Entry{entry}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || !got.UpdatedAt.Equal(now) || got.State != DialingCallee {
		t.Fatalf("applied = %+v", got)
	}
	if stored, _ := st.Get(ctx, sess.ID); stored != got {
		t.Fatalf("stored %+v\nreturned %+v", stored, got)
	}
	before := snapshot(t, st, c)

	// The same Apply again (a replayed event or a repeated reply): refused,
	// nothing written twice.
	if _, err := st.Apply(ctx, next, sess.Version, []Entry{entry}, now); !errors.Is(err, ErrStale) {
		t.Fatalf("replayed Apply = %v, want ErrStale", err)
	}
	stale := got
	stale.Fence = 0
	if _, err := st.Apply(ctx, stale, got.Version, nil, now); !errors.Is(err, ErrFenced) {
		t.Errorf("Apply with old fence = %v, want ErrFenced", err)
	}
	other := got
	other.Owner = "r2"
	if _, err := st.Apply(ctx, other, got.Version, nil, now); !errors.Is(err, ErrFenced) {
		t.Errorf("Apply by another owner = %v, want ErrFenced", err)
	}
	moved := got
	moved.Callee = "1003"
	if _, err := st.Apply(ctx, moved, got.Version, nil, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("Apply changing the callee = %v, want ErrInvalid", err)
	}
	orphan := got
	orphan.Owner = ""
	if _, err := st.Apply(ctx, orphan, got.Version, nil, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("Apply leaving a dialing session unowned = %v, want ErrInvalid", err)
	}
	ghost := got
	ghost.ID = "ghost"
	if _, err := st.Apply(ctx, ghost, 1, nil, now); !errors.Is(err, ErrNotFound) {
		t.Errorf("Apply to unknown session = %v, want ErrNotFound", err)
	}
	sameSnapshot(t, before, snapshot(t, st, c))

	tl, _ := st.Timeline(ctx, sess.ID)
	if len(tl) != 2 || tl[1] != (Entry{At: now, Kind: "dial", Leg: "callee", Attempt: 1, Node: "fs1", UUID: "leg-b-1"}) {
		t.Fatalf("timeline = %+v", tl)
	}
	counts, _ := st.LiveCounts(ctx)
	if counts[Waiting] != 0 || counts[DialingCallee] != 1 {
		t.Errorf("counts = %v", counts)
	}
}

func TestApplyBackToWaitingReleasesAndSchedules(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	sess := claimOne(t, st, "1001", "1002", "r1")
	dialing := sess
	dialing.State = DialingCallee
	dialing, err := st.Apply(ctx, dialing, sess.Version, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	retry := dialing
	retry.State, retry.DueAt = Waiting, t0.Add(time.Minute)
	retry, err = st.Apply(ctx, retry, dialing.Version, []Entry{{Kind: "retry"}}, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if retry.Owner != "" {
		t.Errorf("waiting session owner = %q, want none", retry.Owner)
	}
	if c.SIsMember(ctx, st.ownKey("r1"), sess.ID).Val() {
		t.Error("waiting session still in its old owner's set")
	}
	if s := c.ZScore(ctx, st.dueKey(), sess.ID).Val(); int64(s) != t0.Add(time.Minute).UnixMilli() {
		t.Errorf("due score = %v", s)
	}
	claimed, next, err := st.ClaimDue(ctx, "r2", t0.Add(30*time.Second), 10)
	if err != nil || len(claimed) != 0 || !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("early claim = %v next=%v err=%v", claimed, next, err)
	}
	claimed, next, err = st.ClaimDue(ctx, "r2", t0.Add(time.Minute), 10)
	if err != nil || len(claimed) != 1 || claimed[0].Owner != "r2" || claimed[0].Fence != 2 || !next.IsZero() {
		t.Fatalf("claim at due time = %+v next=%v err=%v", claimed, next, err)
	}
}

func TestFinishLeavesNoIndexEntries(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{Retention: time.Hour})
	sess := claimOne(t, st, "1001", "1002", "r1")
	bridged := sess
	bridged.State, bridged.BridgedAt = Bridged, t0
	bridged, err := st.Apply(ctx, bridged, sess.Version, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	done := bridged
	done.State, done.Outcome, done.Cause = Finished, Completed, "NORMAL_CLEARING"
	end := t0.Add(time.Minute)
	done, err = st.Apply(ctx, done, bridged.Version, []Entry{{Kind: KindFinished}}, end)
	if err != nil {
		t.Fatal(err)
	}
	if !done.FinishedAt.Equal(end) {
		t.Errorf("FinishedAt = %v, want %v", done.FinishedAt, end)
	}
	checks := []struct {
		what string
		in   bool
	}{
		{"due set", c.ZScore(ctx, st.dueKey(), sess.ID).Err() == nil},
		{"owner set", c.SIsMember(ctx, st.ownKey("r1"), sess.ID).Val()},
		{"caller's live hash", c.Exists(ctx, st.callerLiveKey("1001")).Val() == 1},
		{"callee's live hash", c.Exists(ctx, st.calleeLiveKey("1002")).Val() == 1},
	}
	for _, ch := range checks {
		if ch.in {
			t.Errorf("finished session still in the %s", ch.what)
		}
	}
	counts, _ := st.LiveCounts(ctx)
	for state, n := range counts {
		if n != 0 {
			t.Errorf("live count %s = %d after finish", state, n)
		}
	}
	for _, k := range []string{st.sessionKey(sess.ID), st.timelineKey(sess.ID)} {
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("TTL of %s = %v, want (0, 1h]", k, ttl)
		}
	}
	for _, k := range []string{st.callerHistoryKey("1001"), st.calleeHistoryKey("1002")} {
		if s := c.ZScore(ctx, k, sess.ID).Val(); int64(s) != t0.UnixMilli() {
			t.Errorf("%s score = %v, want the creation time", k, s)
		}
	}
	// A finished session stays finished, but can still take notes.
	if _, err := st.Apply(ctx, revive(done), done.Version, nil, end); !errors.Is(err, ErrFinished) || !errors.Is(err, ErrStale) {
		t.Errorf("reviving a finished session = %v, want ErrFinished", err)
	}
	noted, err := st.Apply(ctx, done, done.Version, []Entry{{Kind: "notified", Note: "sms sent"}}, end.Add(time.Second))
	if err != nil {
		t.Fatalf("note on finished session: %v", err)
	}
	if ttl := c.PTTL(ctx, st.sessionKey(sess.ID)).Val(); ttl <= 0 {
		t.Errorf("TTL lost after a note: %v", ttl)
	}
	// The pair is free again.
	again := mustCreate(t, st, newSession("1001", "1002"), end)
	if again.ID == sess.ID {
		t.Fatal("new session reused the finished one")
	}
	// Once retention ends, a scheduler pass forgets the finished session.
	if _, _, err := st.ClaimDue(ctx, "r1", noted.FinishedAt.Add(2*time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{st.indexKey(), st.callerHistoryKey("1001"), st.calleeHistoryKey("1002")} {
		if c.ZScore(ctx, k, sess.ID).Err() == nil {
			t.Errorf("%s still lists the session past retention", k)
		}
	}
	if c.ZScore(ctx, st.indexKey(), again.ID).Err() != nil {
		t.Error("the index lost the live session")
	}
	if c.Exists(ctx, st.sessionKey(sess.ID), st.timelineKey(sess.ID)).Val() != 0 {
		t.Error("session past retention still stored")
	}
	if n := c.ZCard(ctx, st.gcKey()).Val(); n != 0 {
		t.Errorf("gc set holds %d entries", n)
	}
}

func revive(s Session) Session {
	s.State, s.Owner = DialingCallee, "r1"
	return s
}

func TestConcurrentDuplicateApplyWinsOnce(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	sess := claimOne(t, st, "1001", "1002", "r1")
	next := sess
	next.State, next.Attempts = DialingCallee, 1
	entry := []Entry{{Kind: KindAttempt, Attempt: 1}}
	const dups = 8
	results := make(chan error, dups)
	for range dups {
		go func() {
			_, err := st.Apply(ctx, next, sess.Version, entry, t0)
			results <- err
		}()
	}
	won := 0
	for range dups {
		switch err := <-results; {
		case err == nil:
			won++
		case !errors.Is(err, ErrStale):
			t.Errorf("duplicate Apply: %v, want ErrStale", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d identical Applies succeeded, want 1", won, dups)
	}
	tl, _ := st.Timeline(ctx, sess.ID)
	if len(tl) != 2 {
		t.Errorf("timeline has %d entries, want 2: %+v", len(tl), tl)
	}
	if got, _ := st.Get(ctx, sess.ID); got.Version != sess.Version+1 {
		t.Errorf("version %d, want %d", got.Version, sess.Version+1)
	}
}

// TestLiveCountsFollowEveryMove walks sessions through every kind of move
// and checks LiveCounts against the states stored after each one.
func TestLiveCountsFollowEveryMove(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	var ids []string
	check := func(when string) {
		t.Helper()
		want := map[State]int64{}
		for _, s := range LiveStates {
			want[s] = 0
		}
		for _, id := range ids {
			if s, err := st.Get(ctx, id); err == nil && s.State.Live() {
				want[s.State]++
			}
		}
		got, err := st.LiveCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for s, n := range want {
			if got[s] != n {
				t.Errorf("%s: LiveCounts = %v, want %v", when, got, want)
				return
			}
		}
	}
	move := func(s Session, to State) Session {
		t.Helper()
		next := s
		next.State = to
		if to == Waiting {
			next.DueAt = t0
		}
		got, err := st.Apply(ctx, next, s.Version, nil, t0)
		if err != nil {
			t.Fatalf("%s -> %s: %v", s.State, to, err)
		}
		return got
	}
	a := claimOne(t, st, "1001", "1002", "r1")
	b := claimOne(t, st, "1003", "1004", "r1")
	w := mustCreate(t, st, newSession("1005", "1006"), t0.Add(time.Hour))
	ids = append(ids, a.ID, b.ID, w.ID)
	check("created")
	a = move(a, DialingCallee)
	b = move(b, DialingCallee)
	check("dialing")
	a = move(a, CalleeHold)
	b = move(b, Waiting)
	check("hold and back to waiting")
	a = move(a, Bridged)
	check("bridged")
	move(a, Finished)
	check("a finished")
	move(w, Finished) // cancelled while waiting
	check("w finished")

	// Counts kept per state by an earlier layout still add up.
	if err := c.HIncrBy(ctx, st.countKey(), string(DialingCallee), 2).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := st.LiveCounts(ctx)
	if err != nil || got[DialingCallee] != 2 || got[Waiting] != 1 {
		t.Errorf("LiveCounts with per-state fields = %v, %v; want 2 dialing, 1 waiting", got, err)
	}
}
