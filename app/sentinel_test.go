package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/redis/go-redis/v9"

	"bgcall/api"
	"bgcall/app"
	"bgcall/fssim"
	"bgcall/internal/redistest"
	"bgcall/store"
)

// startSentinel runs a redis-server in Sentinel mode watching master under
// the name "bgcall", and returns its address.
func startSentinel(t *testing.T, master string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	host, mport, _ := net.SplitHostPort(master)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor bgcall %s %s 1\nsentinel down-after-milliseconds bgcall 60000\n", port, dir, host, mport)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := redis.NewSentinelClient(&redis.Options{Addr: addr})
	defer c.Close()
	waitFor(t, "sentinel to know the master", func() bool {
		_, err := c.GetMasterAddrByName(context.Background(), "bgcall").Result()
		return err == nil
	})
	return addr
}

// TestSentinel: with redis.master set, redis.addrs are sentinels and the
// daemon reaches the master through them.
func TestSentinel(t *testing.T) {
	master := redistest.Start(t)
	sentinel := startSentinel(t, master.Addr)
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
	waitFor(t, "ready", func() bool { return c.Ready(ctx) == nil })
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
