package store

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/internal/redistest"
)

// lossy returns a Store on st's namespace whose client reaches Redis
// through a proxy that can lose replies. Its client retries a command
// whose reply did not come within a short read timeout, as go-redis does
// by default.
func lossy(t *testing.T, st *Store) (*Store, *redistest.Proxy) {
	t.Helper()
	p := redistest.StartProxy(t, server.Addr)
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{p.Addr}, ReadTimeout: 250 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	// Loaded first, so that the reply lost is a run's, never a NOSCRIPT.
	for _, s := range []*redis.Script{createScript, applyScript, claimScript, beginScript, takeOverScript, releaseScript, missedScript, resetMissedScript,
		beginSendingScript, endSendingScript} {
		if err := s.Load(context.Background(), st.rdb).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return New(c, st.opts), p
}

// loseReply makes p lose the reply of the next run of script, and returns
// a check that it did.
func loseReply(t *testing.T, p *redistest.Proxy, script *redis.Script) func() {
	dropped := p.DropReply(1, redistest.RunsScript(script.Hash()))
	return func() {
		t.Helper()
		select {
		case <-dropped:
		default:
			t.Fatal("the script's reply was not lost: the test proves nothing")
		}
	}
}

// TestLostReplyCreate: a create whose reply is lost and which the client
// sends again reports the session as created, once.
func TestLostReplyCreate(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	ls, p := lossy(t, st)
	lost := loseReply(t, p, createScript)
	got, created, err := ls.Create(ctx, newSession("1001", "1002"), firstEntry(), Limits{PerCaller: 1}, t0)
	lost()
	if err != nil || !created {
		t.Fatalf("Create after a lost reply = %v, created %v; want created", err, created)
	}
	if n := c.ZCard(ctx, st.indexKey()).Val(); n != 1 {
		t.Errorf("%d sessions stored, want 1", n)
	}
	if stored, err := st.Get(ctx, got.ID); err != nil || stored != got {
		t.Errorf("stored %+v, %v; Create returned %+v", stored, err, got)
	}
}

// TestLostReplyApply: a transition whose reply is lost is reported as
// applied, and its timeline entry and counters are written once. On
// today's engine a lost reply of a cancel looked stale, so the cancel
// answered "already finished" and tore nothing down.
func TestLostReplyApply(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	ls, p := lossy(t, st)
	s := claimOne(t, st, "1001", "1002", "r1")
	for _, state := range []State{DialingCallee, Finished} {
		next := s
		next.State = state
		if state == Finished {
			next.Outcome, next.Owner = Cancelled, ""
		}
		lost := loseReply(t, p, applyScript)
		got, err := ls.Apply(ctx, next, s.Version, []Entry{{Kind: Kind(state)}}, t0)
		lost()
		if err != nil || got.Version != s.Version+1 || got.State != state {
			t.Fatalf("Apply %s after a lost reply = %+v, %v", state, got, err)
		}
		s = got
	}
	tl, err := st.Timeline(ctx, s.ID)
	if err != nil || len(tl) != 3 {
		t.Errorf("timeline %+v, %v; want created and one entry per transition", tl, err)
	}
	counts := c.HGetAll(ctx, st.countKey()).Val()
	if counts["waiting>dialing_callee"] != "1" || counts["dialing_callee>finished"] != "1" {
		t.Errorf("counters %v, want each move once", counts)
	}
}

// TestLostReplyClaim: a claim whose reply is lost and which the client
// sends again returns the sessions the first run claimed (and the attempts
// it began), rather than nothing while they stay owned here, unknown to
// any worker.
func TestLostReplyClaim(t *testing.T) {
	ctx := context.Background()
	var q quarantineLog
	st, c := newStore(t, Options{OnQuarantine: q.hook})
	ls, p := lossy(t, st)
	ids := map[string]bool{}
	for i := range 3 {
		s := newSession(string(rune('1'+i))+"001", string(rune('1'+i))+"002")
		ids[mustCreate(t, st, s, t0).ID] = true
	}
	spoilt := mustCreate(t, st, newSession("9001", "9002"), t0)
	spoil(t, st, spoilt.ID, fVersion, "x\ny")
	lost := loseReply(t, p, claimScript)
	got, next, err := ls.ClaimAndStart(ctx, "r1", t0, 10, []string{"fs1", "fs2"})
	lost()
	if err != nil || len(got) != 3 || !next.IsZero() {
		t.Fatalf("claim after a lost reply = %d sessions, next %v, %v; want the 3 the first run claimed, nothing next", len(got), next, err)
	}
	if n := q.count(spoilt.ID); n != 1 {
		t.Errorf("the record the first run quarantined reported %d times, want once", n)
	}
	started := 0
	for _, s := range got {
		if !ids[s.ID] || s.Owner != "r1" || s.Fence != 1 {
			t.Errorf("claimed %+v", s)
		}
		delete(ids, s.ID)
		stored, err := st.Get(ctx, s.ID)
		if err != nil || stored != s {
			t.Errorf("stored %+v, %v; claim returned %+v", stored, err, s)
		}
		if s.State == DialingCallee {
			started++
		}
	}
	if started != 2 {
		t.Errorf("%d attempts begun, want 2", started)
	}
	if n := c.SCard(ctx, st.ownKey("r1")).Val(); n != 3 {
		t.Errorf("r1 owns %d, want 3", n)
	}
}

// TestLostReplyTakeOver: a takeover whose reply is lost returns the
// sessions it moved when sent again.
func TestLostReplyTakeOver(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{LeaseTTL: time.Second})
	ls, p := lossy(t, st)
	if err := st.Heartbeat(ctx, "dead", t0); err != nil {
		t.Fatal(err)
	}
	a := claimOne(t, st, "1001", "1002", "dead")
	b := claimOne(t, st, "1003", "1004", "dead")
	lost := loseReply(t, p, takeOverScript)
	got, err := ls.TakeOver(ctx, "r2", t0.Add(time.Minute))
	lost()
	if err != nil || len(got) != 2 {
		t.Fatalf("takeover after a lost reply = %+v, %v; want the 2 sessions moved", got, err)
	}
	for _, s := range got {
		if (s.ID != a.ID && s.ID != b.ID) || s.Owner != "r2" || s.Fence != 2 {
			t.Errorf("taken over %+v", s)
		}
	}
	owned, err := st.Owned(ctx, "r2")
	if err != nil || len(owned) != 2 {
		t.Errorf("r2 owns %+v, %v", owned, err)
	}
}

// TestLostReplyRelease: releasing twice hands a waiting session back once.
func TestLostReplyRelease(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	ls, p := lossy(t, st)
	s := claimOne(t, st, "1001", "1002", "r1")
	lost := loseReply(t, p, releaseScript)
	if err := ls.Release(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	lost()
	back, err := st.Get(ctx, s.ID)
	if err != nil || back.Owner != "" || back.Version != s.Version+1 {
		t.Errorf("released session %+v, %v; want unowned at version %d", back, err, s.Version+1)
	}
	if c.ZScore(ctx, st.dueKey(), s.ID).Err() != nil {
		t.Error("released session not due")
	}
}

// TestLostReplyMissed: a missed call whose count is sent again counts once,
// and so does a reset.
func TestLostReplyMissed(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	ls, p := lossy(t, st)
	lost := loseReply(t, p, missedScript)
	n, err := ls.Missed(ctx, "1001", "1002", "call-1", time.Hour, t0)
	lost()
	if err != nil || n != 1 {
		t.Fatalf("Missed after a lost reply = %d, %v; want 1", n, err)
	}
	if n, err := st.Missed(ctx, "1001", "1002", "call-2", time.Hour, t0); err != nil || n != 2 {
		t.Fatalf("next missed call = %d, %v; want 2", n, err)
	}
	lost = loseReply(t, p, resetMissedScript)
	if err := ls.ResetMissed(ctx, "1001", "1002", "call-3"); err != nil {
		t.Fatal(err)
	}
	lost()
	if n, err := st.Missed(ctx, "1001", "1002", "call-3", time.Hour, t0); err != nil || n != 0 {
		t.Errorf("the call that reset, reported again = %d, %v; want 0", n, err)
	}
}
