package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"bgcall/internal/redistest"

	"github.com/redis/go-redis/v9"
)

// TestMemoryPerWaitingSession measures what a waiting session costs Redis:
// 10,000 sessions between distinct E.164 numbers (the worst case: no caller or
// callee shares a key) with their first timeline entry, created as the engine
// creates them, with and without an idempotency key.
//
// On Redis 7.0 a waiting session is about 800 bytes without an idempotency
// key: the hash (~200 B, its first timeline entry rebuilt from it rather than
// kept in a list of its own), the caller's and the callee's live hash (~120 B
// each), a member in the due set and in the index (~135 B each), and the
// keyspace's own tables for three keys. The idempotency key adds a key with a
// TTL and a hash field (~280 B). The bounds below catch regressions; the
// design target is 1 KiB.
func TestMemoryPerWaitingSession(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,000 sessions twice")
	}
	for _, tc := range []struct {
		name   string
		idem   bool
		target float64
	}{
		{"without idempotency key", false, 900},
		{"with idempotency key", true, 900 + 320},
	} {
		t.Run(tc.name, func(t *testing.T) {
			per, keys := measureWaiting(t, tc.idem)
			t.Logf("waiting session %s: %.0f bytes of used_memory each; MEMORY USAGE of its keys: %.0f bytes",
				tc.name, per, keys)
			if per > tc.target {
				t.Errorf("a waiting session costs %.0f bytes, over the %.0f byte target", per, tc.target)
			}
		})
	}
}

// measureWaiting returns the used_memory and the MEMORY USAGE of the keys per
// waiting session.
func measureWaiting(t *testing.T, idem bool) (perSession, keyBytes float64) {
	const n = 10000
	ctx := context.Background()
	srv := redistest.Start(t)
	c := srv.Client(t)
	st := New(c, Options{})
	// Warm up: the first session allocates the shared keys (due set, index,
	// counts), and the scripts are cached.
	mustCreate(t, st, Session{Caller: "+4930000000", Callee: "+4930000001"}, t0)
	before := usedMemory(t, c)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				s := Session{
					ID:         fmt.Sprintf("01jdq3v7k2m9x4p%05d", i), // the engine's ids are 20 characters
					Caller:     fmt.Sprintf("+49151%07d", i),
					Callee:     fmt.Sprintf("+49160%07d", i),
					Source:     "api",
					DueAt:      t0,
					DeadlineAt: t0.Add(3600 * 1e9),
				}
				if idem {
					s.IdempotencyKey = fmt.Sprintf("6f1c2a4e-3b7d-4c1e-9a2f-%012d", i)
				}
				first := Entry{At: t0, Kind: KindCreated, State: Waiting, Note: "source api"}
				if _, _, err := st.Create(ctx, s, first, Limits{PerCaller: 3, PerCallee: 3}, t0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	after := usedMemory(t, c)

	var total int64
	iter := c.Scan(ctx, 0, st.p+"*", 1000).Iterator()
	for iter.Next(ctx) {
		total += c.MemoryUsage(ctx, iter.Val(), 0).Val()
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return float64(after-before) / n, float64(total) / n
}

func usedMemory(t testing.TB, c redis.UniversalClient) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no used_memory in INFO memory")
	return 0
}
