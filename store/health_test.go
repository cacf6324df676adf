package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"bgcall/internal/redistest"
)

// TestCheckReportsRedisOutOfMemory fills a Redis that must not evict (its
// maxmemory set below what it uses): the
// scripts fail, each before its first write, and Check says why until
// memory is freed.
func TestCheckReportsRedisOutOfMemory(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, "--maxmemory-policy", "noeviction")
	c := srv.Client(t)
	st := New(c, Options{})
	waiting := mustCreate(t, st, newSession("1001", "1002"), t0)
	claimed := mustCreate(t, st, newSession("1003", "1004"), t0)
	got, _, err := st.ClaimDue(ctx, "r1", t0, 1)
	if err != nil || len(got) != 1 || got[0].ID != claimed.ID && got[0].ID != waiting.ID {
		t.Fatalf("claim = %+v, %v", got, err)
	}
	claimed = got[0]
	if err := st.Check(ctx); err != nil {
		t.Fatalf("Check before = %v", err)
	}
	// Full: Redis uses more than its maxmemory.
	if err := c.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, st, c)
	if _, _, err := st.Create(ctx, newSession("1005", "1006"), firstEntry(), Limits{}, t0); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Errorf("Create out of memory = %v, want an OOM error", err)
	}
	next := claimed
	next.State = DialingCallee
	if _, err := st.Apply(ctx, next, claimed.Version, []Entry{{Kind: KindAttempt}}, t0); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Errorf("Apply out of memory = %v, want an OOM error", err)
	}
	if err := st.Heartbeat(ctx, "r1", t0); err == nil {
		t.Error("Heartbeat out of memory succeeded")
	}
	sameSnapshot(t, before, snapshot(t, st, c))
	if err := st.Check(ctx); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Errorf("Check out of memory = %v, want it to say OOM", err)
	}
	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := st.Check(ctx); err != nil {
		t.Errorf("Check with memory freed = %v", err)
	}
}

// TestHealthReportsACallThatKeepsFailing: three failures of one kind in a
// row make the store failing, until one succeeds or they are old news.
func TestHealthReportsACallThatKeepsFailing(t *testing.T) {
	var h health
	now := t0
	boom := errors.New("ERR user_script:46: attempt to perform arithmetic on a nil value")
	h.record("claim", boom, now)
	h.record("apply", nil, now)
	h.record("claim", boom, now)
	if f := h.failing(now); f != "" {
		t.Errorf("failing after 2 failures: %q", f)
	}
	h.record("claim", boom, now)
	if f := h.failing(now); !strings.Contains(f, "claim failed 3 times in a row") || !strings.Contains(f, "arithmetic") {
		t.Errorf("failing after 3 failures = %q", f)
	}
	if f := h.failing(now.Add(failingFor)); f != "" {
		t.Errorf("failing long after the last failure = %q", f)
	}
	h.record("claim", nil, now)
	if f := h.failing(now); f != "" {
		t.Errorf("failing after a success = %q", f)
	}
}

// TestCheckMemoryPolicy: refused where Redis may evict live sessions,
// warned where it may evict what has a time to live or cannot be read.
func TestCheckMemoryPolicy(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c := srv.Client(t)
	st := New(c, Options{})
	for _, tc := range []struct {
		policy, warning string
		refused         bool
	}{
		{"noeviction", "", false},
		{"allkeys-lru", "", true},
		{"allkeys-random", "", true},
		{"volatile-lru", "maxmemory-policy is volatile-lru", false},
		{"volatile-ttl", "maxmemory-policy is volatile-ttl", false},
	} {
		if err := c.ConfigSet(ctx, "maxmemory-policy", tc.policy).Err(); err != nil {
			t.Fatal(err)
		}
		warning, err := st.CheckMemoryPolicy(ctx)
		if tc.refused != errors.Is(err, ErrEvictionPolicy) || (err != nil && !strings.Contains(err.Error(), "noeviction")) {
			t.Errorf("%s: error %v, want refused %v, naming noeviction", tc.policy, err, tc.refused)
		}
		if (tc.warning == "") != (warning == "") || !strings.Contains(warning, tc.warning) {
			t.Errorf("%s: warning %q, want %q", tc.policy, warning, tc.warning)
		}
	}
	hidden := redistest.Start(t, "--rename-command", "CONFIG", "")
	warning, err := New(hidden.Client(t), Options{}).CheckMemoryPolicy(ctx)
	if err != nil || !strings.Contains(warning, "make sure it is noeviction") {
		t.Errorf("CONFIG disabled: %q, %v; want a warning", warning, err)
	}
}

// TestCapIgnoresSessionsThatAreGone: a session evicted (or deleted) behind
// the store's back leaves its field in its caller's and callee's live
// hashes; it must not hold a cap slot, or the caller can never be served
// again.
func TestCapIgnoresSessionsThatAreGone(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	lim := Limits{PerCaller: 1, PerCallee: 1}
	gone := mustCreate(t, st, newSession("1001", "1002"), t0)
	if err := c.Del(ctx, st.sessionKey(gone.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{"1001", "1003"}, {"1004", "1002"}} {
		s, created, err := st.Create(ctx, newSession(pair[0], pair[1]), firstEntry(), lim, t0)
		if err != nil || !created {
			t.Fatalf("Create %s->%s next to a session that is gone = %v, created %v", pair[0], pair[1], err, created)
		}
		if _, err := st.Apply(ctx, finishedNow(s), s.Version, nil, t0); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.HLen(ctx, st.callerLiveKey("1001")).Val() + c.HLen(ctx, st.calleeLiveKey("1002")).Val(); n != 0 {
		t.Errorf("live hashes still hold %d fields of sessions that are gone or finished", n)
	}
	// Refused as ever when the slot is really taken.
	mustCreate(t, st, newSession("1001", "1005"), t0)
	before := snapshot(t, st, c)
	if _, _, err := st.Create(ctx, newSession("1001", "1006"), firstEntry(), lim, t0); !errors.Is(err, ErrLimitCaller) {
		t.Errorf("Create over a real cap = %v, want ErrLimitCaller", err)
	}
	sameSnapshot(t, before, snapshot(t, st, c))
}

func finishedNow(s Session) Session {
	s.State, s.Outcome = Finished, Cancelled
	return s
}
