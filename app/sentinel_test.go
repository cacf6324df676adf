package app_test

import (
	"context"
	"io"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/app"
	"bgcall/fssim"
	"bgcall/internal/redistest"
	"bgcall/internal/testutil"
	"bgcall/store"
)

// TestSentinel: with redis.master set, redis.addrs are sentinels and the
// daemon reaches the master through them.
func TestSentinel(t *testing.T) {
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, "bgcall", master.Addr, time.Minute).Addr
	sim, err := fssim.Start(fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Redis.Addrs = []string{sentinel}
	cfg.Redis.Master = "bgcall"
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	c := &api.Client{Base: "http://" + d.APIAddr()}
	testutil.WaitFor(t, "ready", func() bool { return c.Ready(ctx) == nil })
	s, _, err := c.Create(ctx, api.CreateRequest{Caller: "1001", Callee: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	// The session is on the master.
	if _, err := store.New(master.Client(t), store.Options{Namespace: cfg.Namespace}).Get(ctx, s.ID); err != nil {
		t.Errorf("session %s not on the master reached through Sentinel: %v", s.ID, err)
	}
	if _, err := c.Cancel(ctx, s.ID, false); err != nil {
		t.Error(err)
	}
	stop()
	d.Wait()
}
