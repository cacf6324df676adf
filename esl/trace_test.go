package esl

import (
	"context"
	"sync"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/uuid"
)

// writes records a CommandTrace's calls.
type writes struct {
	mu sync.Mutex
	at []time.Time
}

func (w *writes) trace() *CommandTrace {
	return &CommandTrace{Written: func(at time.Time) {
		w.mu.Lock()
		w.at = append(w.at, at)
		w.mu.Unlock()
	}}
}

func (w *writes) times() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.at...)
}

// TestCommandTrace: a traced command reports its write once, within the
// command's round trip; untraced commands and commands that never leave
// report nothing.
func TestCommandTrace(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	h := start(t, []Node{simNode("fs1", sim)}, fastOptions(), true, nil)
	h.waitUp(1)

	var w writes
	before := time.Now()
	if _, err := h.p.API(WithCommandTrace(context.Background(), w.trace()), "fs1", "status"); err != nil {
		t.Fatal(err)
	}
	replied := time.Now()
	// Written runs on the relay's goroutine after the bytes went out; the
	// reply may overtake the call by a hair, so wait for it briefly.
	deadline := time.Now().Add(2 * time.Second)
	for len(w.times()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got := w.times()
	if len(got) != 1 || got[0].Before(before) || got[0].After(replied) {
		t.Fatalf("traced api status: written at %v, want once, between the call at %v and its reply at %v", got, before, replied)
	}

	// Commands without a trace, on every connection, tell nobody.
	for range 20 {
		if _, err := h.p.API(context.Background(), "fs1", "status"); err != nil {
			t.Fatal(err)
		}
	}
	uuid := uuid.New()
	cmd, _ := freeswitch.Originate{Endpoint: "user/1002@example.com", UUID: uuid}.Command()
	if err := h.p.BGAPI(WithCommandTrace(context.Background(), w.trace()), "fs1", cmd, uuid); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(2 * time.Second)
	for len(w.times()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := len(w.times()); got != 2 {
		t.Fatalf("after 20 untraced commands and one traced bgapi, Written ran %d times, want 2", got)
	}

	// A command that never leaves is not reported: its context is done
	// before it is sent, or its node is unknown.
	done, cancel := context.WithCancel(WithCommandTrace(context.Background(), w.trace()))
	cancel()
	if _, err := h.p.API(done, "fs1", "status"); err == nil {
		t.Fatal("api with a cancelled context succeeded")
	}
	if _, err := h.p.API(WithCommandTrace(context.Background(), w.trace()), "nope", "status"); err == nil {
		t.Fatal("api to an unknown node succeeded")
	}
	time.Sleep(50 * time.Millisecond)
	if got := len(w.times()); got != 2 {
		t.Fatalf("commands that never left ran Written: %d calls, want 2", got)
	}
	kill, _ := freeswitch.UUIDKill(uuid, "")
	h.p.API(context.Background(), "fs1", kill)
}

// TestCommandTraceUnderLoad: every traced command that got its reply has
// reported its write, however soon the reply came back, with commands
// racing on every connection.
func TestCommandTraceUnderLoad(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	h := start(t, []Node{simNode("fs1", sim)}, fastOptions(), false, nil)
	h.waitUp(1)
	const senders, each = 16, 100
	var w writes
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := h.p.API(WithCommandTrace(context.Background(), w.trace()), "fs1", "status"); err != nil {
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
	// A report may trail its reply by a hair (see TestCommandTrace), never
	// go missing.
	deadline := time.Now().Add(2 * time.Second)
	for len(w.times()) < senders*each && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := len(w.times()); got != senders*each {
		t.Fatalf("%d of %d traced commands reported their write", got, senders*each)
	}
}

// TestEventReceived: every event carries the time this replica read it,
// synthetic ones the time they were made.
func TestEventReceived(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	before := time.Now()
	h := start(t, []Node{simNode("fs1", sim)}, fastOptions(), true, nil)
	h.waitUp(1)
	from := h.mark()
	sent := time.Now()
	uuid := h.park("fs1", "1002")
	seen := time.Now()
	up, _, err := h.waitEvent(0, time.Second, named(EventNodeUp))
	if err != nil {
		t.Fatal(err)
	}
	if up.Received.Before(before) || up.Received.After(sent) {
		t.Errorf("NODE_UP received at %v, want between %v and %v", up.Received, before, sent)
	}
	n := 0
	for _, ev := range h.since(from) {
		if ev.UniqueID != uuid {
			continue
		}
		n++
		if ev.Received.Before(sent) || ev.Received.After(seen) {
			t.Errorf("%s received at %v, want between %v and %v", ev.Name, ev.Received, sent, seen)
		}
	}
	if n == 0 {
		t.Fatal("no event of the parked leg")
	}
	kill, _ := freeswitch.UUIDKill(uuid, "")
	h.p.API(context.Background(), "fs1", kill)
}
