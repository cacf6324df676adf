package session

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"bgcall/internal/testutil"
)

// TestLeaseFence runs on synctest's clock: a lease renewed every third of
// its length stays held; one whose renewal comes after the lease less the
// margin is not held in between, and that renewal reports the lapse and
// keeps commands withheld until the sessions were rechecked.
func TestLeaseFence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 9 * time.Second
		f := newLeaseFence(ttl)
		if f.held() {
			t.Fatal("held before the first renewal")
		}
		if f.renewed(time.Now()) {
			t.Fatal("the first renewal reported a lapse")
		}
		for range 5 {
			time.Sleep(ttl / 3)
			if !f.held() {
				t.Fatalf("not held %v after a renewal", ttl/3)
			}
			if f.renewed(time.Now()) {
				t.Fatal("a renewal on time reported a lapse")
			}
		}
		time.Sleep(ttl - ttl/5) // the last renewal is now as old as the lease less the margin
		if f.held() {
			t.Fatal("held past the lease less the margin")
		}
		if !f.renewed(time.Now()) {
			t.Fatal("a renewal after a lapse did not report it")
		}
		if f.held() {
			t.Fatal("held before the sessions were rechecked")
		}
		f.resume()
		if !f.held() {
			t.Fatal("not held after the recheck")
		}
		// A renewal sent before a pause and acknowledged after it counts
		// from when it was sent.
		sent := time.Now()
		time.Sleep(ttl)
		f.renewed(sent)
		if f.held() {
			t.Fatal("held on a renewal sent a whole lease ago")
		}
	})
}

// TestLeaseRenewedWhileATakeOverHangs: a takeover whose reply was lost
// waits out the Redis client's retries for seconds. The lease is renewed
// meanwhile, so a healthy replica keeps sending its commands. A fault run
// caught the lease lapsing behind such a takeover: every command of the
// replica was withheld for six seconds, and B held until FreeSWITCH's
// park timeout ended the call.
func TestLeaseRenewedWhileATakeOverHangs(t *testing.T) {
	st := newFakeStore(time.Now())
	hanging := make(chan struct{})
	var once sync.Once
	st.takeOver = func(ctx context.Context) error {
		once.Do(func() { close(hanging) })
		<-ctx.Done() // the reply never comes
		return ctx.Err()
	}
	e, err := New(Options{Store: st, Pool: &fakeSwitch{}, Replica: "r1", Policy: DefaultPolicy(), Workers: 1,
		LeaseTTL: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	<-hanging
	from := e.leaseRounds.Load()
	testutil.WaitFor(t, "three lease renewals while the takeover hangs", func() bool { return e.leaseRounds.Load() >= from+3 })
	if !e.fence.held() {
		t.Error("the lease is not held while only a takeover hangs")
	}
}
