package esl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/uuid"
)

// fastOptions detect and recover from failures well within the 2 s the
// tests allow, on a loaded machine under -race.
func fastOptions() Options {
	return Options{
		DialTimeout:    time.Second,
		AuthTimeout:    time.Second,
		CommandTimeout: 500 * time.Millisecond,
		PingInterval:   100 * time.Millisecond,
		SilenceTimeout: 1500 * time.Millisecond,
		BackoffMin:     20 * time.Millisecond,
		BackoffMax:     200 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// harness runs a Pool for one test and records what it delivers.
type harness struct {
	t      testing.TB
	p      *Pool
	cancel context.CancelFunc
	done   chan struct{}
	obs    *recordingObserver

	mu     sync.Mutex
	cond   *sync.Cond
	events []Event
	keep   bool
	hook   func(Event)
}

// start runs a pool over nodes. With keep, every event is recorded for
// waitEvent; hook, if set, sees every event in delivery order.
func start(t testing.TB, nodes []Node, opts Options, keep bool, hook func(Event)) *harness {
	t.Helper()
	h := &harness{t: t, done: make(chan struct{}), keep: keep, hook: hook, obs: newRecordingObserver()}
	h.cond = sync.NewCond(&h.mu)
	if opts.Observer == nil {
		opts.Observer = h.obs
	}
	p, err := NewPool(nodes, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		if err := p.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	go func() {
		defer close(h.done)
		for ev := range p.Events() {
			if h.hook != nil {
				h.hook(ev)
			}
			h.mu.Lock()
			if h.keep {
				h.events = append(h.events, ev)
			}
			h.cond.Broadcast()
			h.mu.Unlock()
		}
		<-runDone
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		h.t.Error("Pool.Run did not return within 10s of cancel")
	}
}

// waitEvent returns the first recorded event at or after index from that
// matches, waiting up to d. It returns the index after the match.
func (h *harness) waitEvent(from int, d time.Duration, match func(Event) bool) (Event, int, error) {
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() { h.mu.Lock(); h.cond.Broadcast(); h.mu.Unlock() })
	defer timer.Stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := from; ; {
		for ; i < len(h.events); i++ {
			if match(h.events[i]) {
				return h.events[i], i + 1, nil
			}
		}
		if time.Now().After(deadline) {
			return Event{}, i, fmt.Errorf("no matching event within %v", d)
		}
		h.cond.Wait()
	}
}

func (h *harness) mark() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.events)
}

func (h *harness) since(from int) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Event(nil), h.events[from:]...)
}

func named(name string) func(Event) bool { return func(e Event) bool { return e.Name == name } }

func channelEvent(name, uuid string) func(Event) bool {
	return func(e Event) bool { return e.Name == name && e.UniqueID == uuid }
}

func (h *harness) waitUp(n int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.p.WaitConnected(ctx, n); err != nil {
		h.t.Fatalf("WaitConnected: %v (health %+v)", err, h.p.Health())
	}
	if !h.keep {
		return
	}
	// Connected is set before NODE_UP is delivered; wait for the events too,
	// so that marks taken afterwards come after them.
	for i, next := 0, 0; i < n; i++ {
		var err error
		if _, next, err = h.waitEvent(next, 5*time.Second, named(EventNodeUp)); err != nil {
			h.t.Fatalf("NODE_UP %d: %v", i+1, err)
		}
	}
}

// park originates a leg that answers and parks until killed, and returns its UUID.
func (h *harness) park(node, number string) string {
	h.t.Helper()
	uuid := uuid.New()
	cmd, err := freeswitch.Originate{Endpoint: "user/" + number + "@example.com", UUID: uuid,
		Vars: []freeswitch.Var{{Name: "bgcall_test", Value: "1"}}}.Command()
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	from := h.mark()
	got, err := h.p.BGAPIWait(ctx, node, cmd)
	if err != nil || got != uuid {
		h.t.Fatalf("originate: %q, %v; want %s", got, err, uuid)
	}
	// Wait until the leg's events have been delivered, so that tracking
	// and the test's view agree.
	if _, _, err := h.waitEvent(from, 2*time.Second, channelEvent(freeswitch.EventChannelPark, uuid)); err != nil {
		h.t.Fatalf("CHANNEL_PARK of %s: %v", uuid, err)
	}
	return uuid
}

// recordingObserver records the Observer calls.
type recordingObserver struct {
	mu          sync.Mutex
	commands    map[string]int // kind → count
	errors      map[string]int
	connected   []string // "node up" / "node down", in order
	reconnected map[string]int
}

func newRecordingObserver() *recordingObserver {
	return &recordingObserver{commands: map[string]int{}, errors: map[string]int{}, reconnected: map[string]int{}}
}

func (o *recordingObserver) CommandDone(node, kind string, d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.commands[kind]++
	var fe *freeswitch.Error
	if err != nil && !errors.As(err, &fe) {
		o.errors[kind]++
	}
}

func (o *recordingObserver) Connected(node string, up bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := node + " down"
	if up {
		s = node + " up"
	}
	o.connected = append(o.connected, s)
}

func (o *recordingObserver) Reconnected(node string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reconnected[node]++
}

func (o *recordingObserver) snapshot() (connected []string, reconnected map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := map[string]int{}
	for k, v := range o.reconnected {
		r[k] = v
	}
	return append([]string(nil), o.connected...), r
}

func simNode(name string, n *fssim.Node) Node {
	return Node{Name: name, Addr: n.Addr(), Password: n.Password()}
}
