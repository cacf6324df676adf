package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestEveryScriptOnBothServers runs every script and read path, through the
// same code, on redis-server and on the embedded miniredis.
func TestEveryScriptOnBothServers(t *testing.T) {
	t.Run("redis-server", func(t *testing.T) {
		st, _ := newStore(t, Options{LeaseTTL: time.Second, Retention: 24 * time.Hour})
		exerciseEveryScript(t, st)
	})
	t.Run("embedded", func(t *testing.T) {
		c, stop, err := NewEmbedded()
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		st := New(c, Options{LeaseTTL: time.Second, Retention: 24 * time.Hour})
		exerciseEveryScript(t, st)
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestEmbeddedStops(t *testing.T) {
	c, stop, err := NewEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // twice is fine
	if err := c.Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("ping after stop = %v, want redis.ErrClosed", err)
	}
}

func exerciseEveryScript(t *testing.T, st *Store) {
	ctx := context.Background()
	changes, stopWatch := st.Subscribe(ctx)
	defer stopWatch()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Heartbeat(ctx, "r1", t0))

	// createScript: new, duplicate pair, idempotency key, cap.
	a, created, err := st.Create(ctx, Session{Caller: "1001", Callee: "1002", IdempotencyKey: "k"}, firstEntry(), Limits{PerCaller: 2}, t0)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if dup, created, err := st.Create(ctx, newSession("1001", "1002"), firstEntry(), Limits{}, t0); err != nil || created || dup.ID != a.ID {
		t.Fatalf("duplicate: %v %v %v", dup.ID, created, err)
	}
	if dup, created, err := st.Create(ctx, Session{Caller: "5", Callee: "6", IdempotencyKey: "k"}, firstEntry(), Limits{}, t0); err != nil || created || dup.ID != a.ID {
		t.Fatalf("idempotent retry: %v %v %v", dup.ID, created, err)
	}
	b := mustCreate(t, st, Session{Caller: "1001", Callee: "1003", DueAt: t0.Add(time.Hour)}, t0.Add(time.Second))
	if _, _, err := st.Create(ctx, newSession("1001", "1004"), firstEntry(), Limits{PerCaller: 2}, t0); !errors.Is(err, ErrLimitCaller) {
		t.Fatalf("cap: %v", err)
	}

	// claimScript.
	claimed, next, err := st.ClaimDue(ctx, "r1", t0, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != a.ID || !next.Equal(b.DueAt) {
		t.Fatalf("claim: %+v next=%v err=%v", claimed, next, err)
	}

	// applyScript: a transition, a replay, a finish.
	dial := claimed[0]
	dial.State = DialingCallee
	dial, err = st.Apply(ctx, dial, claimed[0].Version, []Entry{{Kind: "dial"}}, t0)
	must(err)
	if _, err := st.Apply(ctx, dial, claimed[0].Version, []Entry{{Kind: "dial"}}, t0); !errors.Is(err, ErrStale) {
		t.Fatalf("replay: %v", err)
	}

	// takeOverScript and the fence.
	later := t0.Add(time.Minute)
	taken, err := st.TakeOver(ctx, "r2", later)
	if err != nil || len(taken) != 1 || taken[0].Owner != "r2" {
		t.Fatalf("takeover: %+v %v", taken, err)
	}
	if _, err := st.Apply(ctx, dial, dial.Version, nil, later); !errors.Is(err, ErrFenced) {
		t.Fatalf("fenced write: %v", err)
	}
	done := taken[0]
	done.State, done.Outcome = Finished, Cancelled
	done, err = st.Apply(ctx, done, taken[0].Version, []Entry{{Kind: KindCancelled}}, later)
	must(err)

	// releaseScript: r2 claims b, then stops.
	claimed, _, err = st.ClaimDue(ctx, "r2", t0.Add(2*time.Hour), 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != b.ID {
		t.Fatalf("claim b: %+v %v", claimed, err)
	}
	must(st.Release(ctx, "r2"))
	if got, _ := st.Get(ctx, b.ID); got.Owner != "" {
		t.Fatalf("released session still owned by %q", got.Owner)
	}

	// Reads.
	list, cursor, err := st.List(ctx, Filter{Caller: "1001", Limit: 1})
	if err != nil || len(list) != 1 || list[0].ID != b.ID || cursor == "" {
		t.Fatalf("list page 1: %+v %q %v", list, cursor, err)
	}
	list, cursor, err = st.List(ctx, Filter{Caller: "1001", Limit: 1, Cursor: cursor})
	if err != nil || len(list) != 1 || list[0].ID != a.ID || cursor != "" {
		t.Fatalf("list page 2: %+v %q %v", list, cursor, err)
	}
	states, err := st.Lookup(ctx, []string{a.ID, b.ID})
	if err != nil || states[a.ID] != Finished || states[b.ID] != Waiting {
		t.Fatalf("lookup: %v %v", states, err)
	}
	counts, err := st.LiveCounts(ctx)
	if err != nil || counts[Waiting] != 1 || counts[DialingCallee] != 0 {
		t.Fatalf("counts: %v %v", counts, err)
	}
	tl, err := st.Timeline(ctx, a.ID)
	if err != nil || len(tl) != 3 {
		t.Fatalf("timeline: %+v %v", tl, err)
	}

	// claimScript's cleanup after retention.
	if _, _, err := st.ClaimDue(ctx, "r3", later.Add(48*time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session past retention: %v", err)
	}

	// quarantineScript, and a claim that meets a record it cannot decode.
	spoilt := mustCreate(t, st, newSession("3001", "3002"), later)
	must(st.rdb.HSet(ctx, st.sessionKey(spoilt.ID), fVersion, "x").Err())
	if got, err := st.Get(ctx, spoilt.ID); !errors.Is(err, ErrQuarantined) || got.Quarantine == "" {
		t.Fatalf("get of a spoilt record: %+v %v", got, err)
	}
	spoilt = mustCreate(t, st, newSession("3003", "3004"), later)
	must(st.rdb.HSet(ctx, st.sessionKey(spoilt.ID), fCreatedAt, "x").Err())
	if claimed, _, err := st.ClaimDue(ctx, "r3", later.Add(time.Hour), 10); err != nil || len(claimed) != 1 {
		t.Fatalf("claim past a spoilt record: %+v %v", claimed, err)
	}
	if _, err := st.Get(ctx, spoilt.ID); !errors.Is(err, ErrQuarantined) {
		t.Fatalf("get of a record the claim set aside: %v", err)
	}

	// Every script published: create a, create b, claim a, apply, takeover,
	// finish, claim b, release b.
	want := 8
	for i := range want {
		select {
		case <-changes:
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d changes, want %d", i, want)
		}
	}
	_ = done
}
