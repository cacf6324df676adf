package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"bgcall/app"
	"bgcall/fssim"
	"bgcall/internal/redistest"
	"bgcall/internal/testutil"
	"bgcall/store"
)

// TestNotReadyWhenRedisIsFull: a Redis out of memory (noeviction) answers
// PING but refuses every script that writes; the daemon must not say it is
// ready then, and must say why.
func TestNotReadyWhenRedisIsFull(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory-policy", "noeviction")
	sim, err := fssim.Start(fssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Redis.Addrs = []string{srv.Addr}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Wait()
	defer stop()
	testutil.WaitFor(t, "ready", func() bool { code, _ := readyz(d.APIAddr()); return code == http.StatusOK })

	// Full: Redis uses more than its maxmemory.
	c := srv.Client(t)
	if err := c.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "not ready", func() bool {
		code, body := readyz(d.APIAddr())
		return code == http.StatusServiceUnavailable && strings.Contains(body, "OOM")
	})
	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "ready again", func() bool { code, _ := readyz(d.APIAddr()); return code == http.StatusOK })
}

// TestRedisMemoryPolicyAtStart: the daemon refuses a Redis that may evict
// live sessions, naming the fix, and starts with a loud warning on one
// that may evict only what expires.
func TestRedisMemoryPolicyAtStart(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	evicting := redistest.Start(t, "--maxmemory-policy", "allkeys-lru")
	cfg := testConfig(sim)
	cfg.Redis.Addrs = []string{evicting.Addr}
	if d, err := app.Start(context.Background(), app.Options{Config: cfg, LogOutput: io.Discard}); !errors.Is(err, store.ErrEvictionPolicy) ||
		!strings.Contains(err.Error(), "maxmemory-policy noeviction") {
		if d != nil {
			t.Error("started on an allkeys-lru Redis")
		}
		t.Fatalf("start on an allkeys-lru Redis: %v; want it refused, naming the fix", err)
	}

	volatile := redistest.Start(t, "--maxmemory-policy", "volatile-lru")
	cfg = testConfig(sim)
	cfg.Redis.Addrs = []string{volatile.Addr}
	var log testutil.SyncBuffer
	ctx, stop := context.WithCancel(context.Background())
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: &log})
	if err != nil {
		t.Fatalf("start on a volatile-lru Redis: %v", err)
	}
	stop()
	d.Wait()
	if !strings.Contains(log.String(), "REDIS MAY EVICT") || !strings.Contains(log.String(), "volatile-lru") {
		t.Errorf("no warning of volatile-lru in the log:\n%s", log.String())
	}
}

// TestRedisDataLossIsReported: when Redis loses its data under a running
// daemon (FLUSHALL here; a restart without persistence or a failover to a
// replica that had not synced alike), the daemon says so in its log and
// counts it.
func TestRedisDataLossIsReported(t *testing.T) {
	srv := redistest.Start(t)
	sim, err := fssim.Start(fssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Redis.Addrs = []string{srv.Addr}
	cfg.LeaseTTL = time.Second
	var log testutil.SyncBuffer
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Wait()
	defer stop()
	testutil.WaitFor(t, "ready", func() bool { code, _ := readyz(d.APIAddr()); return code == http.StatusOK })
	c := srv.Client(t)
	testutil.WaitFor(t, "the data set's mark", func() bool { return c.Exists(ctx, "{"+cfg.Namespace+"}:epoch").Val() == 1 })
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the loss in the log", func() bool { return strings.Contains(log.String(), "REDIS LOST ITS DATA") })
	resp, err := http.Get("http://" + d.APIAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `bgcall_redis_errors_total{op="data_loss"} 1`) {
		t.Errorf("data loss not counted:\n%s", grepLines(string(body), "redis_errors"))
	}
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
