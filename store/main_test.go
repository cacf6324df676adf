package store

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"bgcall/internal/redistest"

	"github.com/redis/go-redis/v9"
)

// server is one real redis-server shared by the package's tests; each test
// gets its own namespace, so tests never see each other's keys.
var server *redistest.Server

func TestMain(m *testing.M) {
	os.Exit(redistest.Main(m, func(s *redistest.Server) { server = s }))
}

var nsSeq atomic.Int64

// newStore returns a Store in a fresh namespace of the shared server.
func newStore(t testing.TB, opts Options) (*Store, redis.UniversalClient) {
	t.Helper()
	c := server.Client(t)
	opts.Namespace = fmt.Sprintf("t%d", nsSeq.Add(1))
	return New(c, opts), c
}

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func newSession(caller, callee string) Session {
	return Session{Caller: caller, Callee: callee, Source: "api"}
}

func firstEntry() Entry { return Entry{Kind: KindCreated, Note: "requested"} }

func mustCreate(t testing.TB, st *Store, sess Session, now time.Time) Session {
	t.Helper()
	got, created, err := st.Create(context.Background(), sess, firstEntry(), Limits{}, now)
	if err != nil {
		t.Fatalf("create %s->%s: %v", sess.Caller, sess.Callee, err)
	}
	if !created {
		t.Fatalf("create %s->%s: returned existing session %s", sess.Caller, sess.Callee, got.ID)
	}
	return got
}

// snapshot returns every key of st's namespace with its type and content, to
// prove that a refused operation wrote nothing.
func snapshot(t testing.TB, st *Store, c redis.UniversalClient) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, st.p+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		typ := c.Type(ctx, k).Val()
		var v any
		switch typ {
		case "string":
			v = c.Get(ctx, k).Val()
		case "hash":
			v = c.HGetAll(ctx, k).Val()
		case "list":
			v = c.LRange(ctx, k, 0, -1).Val()
		case "set":
			m := c.SMembers(ctx, k).Val()
			sort.Strings(m)
			v = m
		case "zset":
			v = c.ZRangeWithScores(ctx, k, 0, -1).Val()
		}
		out[k] = fmt.Sprintf("%s %v ttl=%v", typ, v, c.PTTL(ctx, k).Val() > 0)
	}
	return out
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range after {
		if before[k] != v {
			t.Errorf("key %s changed:\n before %q\n after  %q", k, before[k], v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("key %s disappeared", k)
		}
	}
}
