package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// skewedStore returns a Store on st's namespace whose process clock is off
// by *skew (which the test may change, as an operator stepping the clock
// or NTP does).
func skewedStore(st *Store, skew *atomic.Int64) *Store {
	other := New(st.rdb, st.opts)
	other.wall = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	return other
}

// TestReplicasWithSkewedClocksAgree runs two replicas whose clocks differ
// by 7 s, each taking its time from its Store's Now as the engine does.
// Before, a replica 7 s ahead took over a healthy peer's sessions (its
// lease, 3 s, looked expired), and a forward jump made a claim treat a
// session with 5 s to go as past its deadline (not started: the engine
// then ended it as expired). With Now from Redis's clock both agree.
func TestReplicasWithSkewedClocksAgree(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{LeaseTTL: 3 * time.Second})
	var aheadBy, exact atomic.Int64
	aheadBy.Store(int64(7 * time.Second))
	ahead, healthy := skewedStore(st, &aheadBy), skewedStore(st, &exact)
	for _, r := range []struct {
		name string
		st   *Store
	}{{"ahead", ahead}, {"healthy", healthy}} {
		if err := r.st.Heartbeat(ctx, r.name, r.st.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if d := ahead.Now().Sub(healthy.Now()).Abs(); d > time.Second {
		t.Fatalf("after a heartbeat each, the replicas' clocks differ by %v", d)
	}

	s := newSession("1001", "1002")
	s.DeadlineAt = healthy.Now().Add(5 * time.Second)
	created := mustCreate(t, healthy, s, healthy.Now())
	claimed, _, err := healthy.ClaimDue(ctx, "healthy", healthy.Now(), 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim = %+v, %v", claimed, err)
	}
	if err := healthy.Heartbeat(ctx, "healthy", healthy.Now()); err != nil {
		t.Fatal(err)
	}
	if taken, err := ahead.TakeOver(ctx, "ahead", ahead.Now()); err != nil || len(taken) != 0 {
		t.Fatalf("the replica 7 s ahead took over %+v (%v) from a healthy peer", taken, err)
	}

	// Its clock jumps another 7 s; a session with 5 s to go is started, not
	// taken for expired.
	aheadBy.Add(int64(7 * time.Second))
	next := claimed[0]
	next.State, next.Owner = Waiting, ""
	next.DueAt = healthy.Now()
	if _, err := healthy.Apply(ctx, next, next.Version, nil, healthy.Now()); err != nil {
		t.Fatal(err)
	}
	started, _, err := ahead.ClaimAndStart(ctx, "ahead", ahead.Now(), 1, []string{"fs1"})
	if err != nil || len(started) != 1 || started[0].ID != created.ID || started[0].State != DialingCallee {
		t.Fatalf("claim after a jump = %+v, %v; want the session started", started, err)
	}
	if !ahead.Now().Before(started[0].DeadlineAt) {
		t.Errorf("after a jump the replica sees the session's deadline %v as passed at %v", started[0].DeadlineAt, ahead.Now())
	}
}

// TestNowFollowsRedisBetweenSyncs: Now moves on with the monotonic clock
// after a sync, and a reading through a slow round trip does not replace
// a precise one.
func TestNowFollowsRedisBetweenSyncs(t *testing.T) {
	var clock atomic.Pointer[clockSync]
	start := time.Now()
	redisAt := t0
	observe(&clock, redisAt, start, start.Add(2*time.Millisecond))
	b := clock.Load()
	if b == nil || b.err != time.Millisecond || !b.redis.Equal(redisAt) {
		t.Fatalf("first reading %+v", b)
	}
	// A second later, a reading off by a whole second through a 3 s round
	// trip: worse than the first one's error plus its drift, so ignored.
	observe(&clock, redisAt.Add(2*time.Second), start.Add(time.Second), start.Add(4*time.Second))
	if clock.Load() != b {
		t.Errorf("a slow reading replaced a precise one")
	}
	// A precise later reading replaces it.
	observe(&clock, redisAt.Add(5*time.Second), start.Add(5*time.Second), start.Add(5*time.Second+time.Millisecond))
	if got := clock.Load(); got == b || got.err != 500*time.Microsecond {
		t.Errorf("a precise reading was not taken: %+v", got)
	}
}
