package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestCreateStoresWaitingSession(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	due := t0.Add(5 * time.Second)
	in := newSession("1001", "1002")
	in.DueAt = due
	in.Policy = `{"max_attempts":3}`
	in.CallbackURL = "https://hooks.example.com/bgcall"
	in.State = Bridged // ignored: a new session always waits
	in.Owner = "r1"    // ignored: a new session has no owner
	sess, created, err := st.Create(ctx, in, firstEntry(), Limits{PerCaller: 1, PerCallee: 1}, t0)
	if err != nil || !created {
		t.Fatalf("Create = %v, %v", created, err)
	}
	if sess.ID == "" || sess.State != Waiting || sess.Version != 1 || sess.Owner != "" || !sess.DueAt.Equal(due) || !sess.CreatedAt.Equal(t0) {
		t.Fatalf("created session = %+v", sess)
	}
	got, err := st.Get(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != sess {
		t.Fatalf("Get = %+v\nwant %+v", got, sess)
	}
	tl, err := st.Timeline(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl) != 1 || tl[0].Kind != KindCreated || tl[0].State != Waiting || !tl[0].At.Equal(t0) {
		t.Fatalf("timeline = %+v", tl)
	}
	if s := c.ZScore(ctx, st.dueKey(), sess.ID).Val(); int64(s) != due.UnixMilli() {
		t.Errorf("due score = %v, want %d", s, due.UnixMilli())
	}
	if id := c.HGet(ctx, st.callerLiveKey("1001"), "1002").Val(); id != sess.ID {
		t.Errorf("caller's live hash maps the callee to %q", id)
	}
	if id := c.HGet(ctx, st.calleeLiveKey("1002"), "1001").Val(); id != sess.ID {
		t.Errorf("callee's live hash maps the caller to %q", id)
	}
	counts, err := st.LiveCounts(ctx)
	if err != nil || counts[Waiting] != 1 || counts[Bridged] != 0 {
		t.Errorf("LiveCounts = %v, %v", counts, err)
	}
	if enc := c.ObjectEncoding(ctx, st.sessionKey(sess.ID)).Val(); enc != "listpack" {
		t.Errorf("session hash encoding = %s, want listpack", enc)
	}
	if _, err := st.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := st.Timeline(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Timeline(unknown) = %v, want ErrNotFound", err)
	}
}

func TestCreateDedupesLivePairAndIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	first := mustCreate(t, st, newSession("1001", "1002"), t0)

	again, created, err := st.Create(ctx, newSession("1001", "1002"), firstEntry(), Limits{}, t0.Add(time.Second))
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("same live pair: created=%v id=%s err=%v, want existing %s", created, again.ID, err, first.ID)
	}

	keyed := newSession("2001", "2002")
	keyed.IdempotencyKey = "req-42"
	k1 := mustCreate(t, st, keyed, t0)
	// The same key returns the same session even for other numbers: the key
	// names the request.
	other := newSession("3001", "3002")
	other.IdempotencyKey = "req-42"
	k2, created, err := st.Create(ctx, other, firstEntry(), Limits{}, t0)
	if err != nil || created || k2.ID != k1.ID || k2.Caller != "2001" {
		t.Fatalf("same idempotency key: created=%v %+v err=%v", created, k2, err)
	}
	// A key first seen on a deduplicated request maps to the existing session.
	dup := newSession("1001", "1002")
	dup.IdempotencyKey = "req-43"
	if _, created, err := st.Create(ctx, dup, firstEntry(), Limits{}, t0); err != nil || created {
		t.Fatalf("dedupe with new key: created=%v err=%v", created, err)
	}
	retry := newSession("9001", "9002")
	retry.IdempotencyKey = "req-43"
	if got, created, err := st.Create(ctx, retry, firstEntry(), Limits{}, t0); err != nil || created || got.ID != first.ID {
		t.Fatalf("retry of deduplicated request: created=%v id=%s err=%v, want %s", created, got.ID, err, first.ID)
	}
	counts, _ := st.LiveCounts(ctx)
	if counts[Waiting] != 2 {
		t.Errorf("waiting = %d, want 2", counts[Waiting])
	}
}

func TestCreateRefusalsStoreNothing(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	lim := Limits{PerCaller: 2, PerCallee: 1}
	for _, callee := range []string{"2001", "2002"} {
		if _, created, err := st.Create(ctx, newSession("1001", callee), firstEntry(), lim, t0); err != nil || !created {
			t.Fatalf("create 1001->%s: %v %v", callee, created, err)
		}
	}
	taken := mustCreate(t, st, Session{ID: "fixed-id", Caller: "5001", Callee: "5002"}, t0)
	before := snapshot(t, st, c)
	size := c.DBSize(ctx).Val()

	cases := []struct {
		name string
		sess Session
		want error
	}{
		{"caller cap", newSession("1001", "2003"), ErrLimitCaller},
		{"callee cap", Session{Caller: "1009", Callee: "2001", IdempotencyKey: "k1"}, ErrLimitCallee},
		{"same number", newSession("1001", "1001"), ErrInvalid},
		{"empty callee", newSession("1001", ""), ErrInvalid},
		{"separator in number", newSession("10|01", "2001"), ErrInvalid},
		{"space in id", Session{ID: "a b", Caller: "1", Callee: "2"}, ErrInvalid},
		{"id in use", Session{ID: taken.ID, Caller: "7001", Callee: "7002", IdempotencyKey: "k2"}, ErrConflict},
	}
	for _, tc := range cases {
		_, created, err := st.Create(ctx, tc.sess, firstEntry(), lim, t0)
		if !errors.Is(err, tc.want) || created {
			t.Errorf("%s: created=%v err=%v, want %v", tc.name, created, err, tc.want)
		}
	}
	sameSnapshot(t, before, snapshot(t, st, c))
	if n := c.DBSize(ctx).Val(); n != size {
		t.Errorf("DBSIZE %d -> %d after refusals", size, n)
	}
}

// TestCreateDedupesBeforeTheCap checks that a capped caller at the cap
// still gets the live session of a pair back, and only a new pair is
// refused, with small and large caps (read differently).
func TestCreateDedupesBeforeTheCap(t *testing.T) {
	ctx := context.Background()
	for _, capped := range []int{2, 17} {
		st, _ := newStore(t, Options{})
		lim := Limits{PerCaller: capped}
		var ids []string
		for i := range capped {
			got, created, err := st.Create(ctx, newSession("1001", fmt.Sprint(2000+i)), firstEntry(), lim, t0)
			if err != nil || !created {
				t.Fatalf("cap %d: create %d: %v %v", capped, i, created, err)
			}
			ids = append(ids, got.ID)
		}
		for i, id := range ids {
			got, created, err := st.Create(ctx, newSession("1001", fmt.Sprint(2000+i)), firstEntry(), lim, t0)
			if err != nil || created || got.ID != id {
				t.Errorf("cap %d: same pair at the cap: created=%v id=%s err=%v, want %s", capped, created, got.ID, err, id)
			}
		}
		if _, _, err := st.Create(ctx, newSession("1001", "3000"), firstEntry(), lim, t0); !errors.Is(err, ErrLimitCaller) {
			t.Errorf("cap %d: a new pair over the cap = %v, want ErrLimitCaller", capped, err)
		}
	}
}
