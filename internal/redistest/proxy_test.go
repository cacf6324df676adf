package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func proxyClient(t *testing.T, p *Proxy) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: p.Addr, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestProxyDropReplyRunsTheCommandTwice shows the hazard the proxy exists
// for: the reply of an INCR is lost, go-redis sends it again, and the
// server counts twice while the caller asked once.
func TestProxyDropReplyRunsTheCommandTwice(t *testing.T) {
	ctx := context.Background()
	srv := Start(t)
	p := StartProxy(t, srv.Addr)
	c := proxyClient(t, p)
	isIncr := func(c Command) bool { return c.Name == "INCR" && c.Args[0] == "n" }
	dropped := p.DropReply(2, isIncr)
	for range 2 {
		if err := c.Incr(ctx, "n").Err(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-dropped:
	default:
		t.Fatal("the second INCR's reply was not dropped")
	}
	if n := srv.Client(t).Get(ctx, "n").Val(); n != "3" {
		t.Errorf("n = %s after two INCRs, the second's reply lost: want 3 (run three times)", n)
	}
}

// TestProxyCutAfter: the reply is lost with the connection, and the client
// retries on a new one at once.
func TestProxyCutAfter(t *testing.T) {
	ctx := context.Background()
	srv := Start(t)
	p := StartProxy(t, srv.Addr)
	c := redis.NewClient(&redis.Options{Addr: p.Addr, ReadTimeout: time.Minute})
	t.Cleanup(func() { c.Close() })
	dropped := p.CutAfter(1, func(c Command) bool { return c.Name == "RPUSH" })
	start := time.Now()
	if err := c.RPush(ctx, "l", "x").Err(); err != nil {
		t.Fatal(err)
	}
	<-dropped
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("retry after a cut took %v: the client waited for its read timeout", d)
	}
	if n := srv.Client(t).LLen(ctx, "l").Val(); n != 2 {
		t.Errorf("list length %d, want 2 (pushed, cut, pushed again)", n)
	}
}

// TestProxyRelaysPipelinesAndPubSub: replies stay paired with their
// commands through a pipeline, and a subscription keeps working.
func TestProxyRelaysPipelinesAndPubSub(t *testing.T) {
	ctx := context.Background()
	srv := Start(t)
	p := StartProxy(t, srv.Addr)
	c := proxyClient(t, p)
	sub := c.Subscribe(ctx, "ch")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	pipe := c.Pipeline()
	set := pipe.Set(ctx, "k", "v", 0)
	get := pipe.Get(ctx, "k")
	missing := pipe.HGetAll(ctx, "nope")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if set.Val() != "OK" || get.Val() != "v" || len(missing.Val()) != 0 {
		t.Errorf("pipeline replies %q %q %v", set.Val(), get.Val(), missing.Val())
	}
	if err := c.Publish(ctx, "ch", "hello").Err(); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || msg.Payload != "hello" {
		t.Fatalf("message %v, %v", msg, err)
	}
	p.CutAll()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("ping after CutAll: %v", err)
	}
}
