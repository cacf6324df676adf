package session

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

func runSender(t *testing.T, s *sender, stopped chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.run(ctx) }()
	t.Cleanup(func() { cancel(); close(stopped); <-done })
}

// TestSenderOrderPerKey: commands of one key run in the order given, one
// after another; a key whose command hangs holds up no other key.
func TestSenderOrderPerKey(t *testing.T) {
	stopped := make(chan struct{})
	s := newSender(4, 16, stopped)
	runSender(t, s, stopped)

	var mu sync.Mutex
	ran := map[string][]int{}
	running := map[string]bool{}
	record := func(k string, i int) func(context.Context) {
		return func(context.Context) {
			mu.Lock()
			if running[k] {
				t.Errorf("key %s: two commands at once", k)
			}
			running[k] = true
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
			mu.Lock()
			running[k] = false
			ran[k] = append(ran[k], i)
			mu.Unlock()
		}
	}
	release := make(chan struct{})
	s.send("stuck", func(context.Context) { <-release })
	const n = 50
	for i := range n {
		for _, k := range []string{"a", "b", "c"} {
			s.send(k, record(k, i))
		}
	}
	for i := range 5 {
		s.send("stuck", record("stuck", i))
	}
	want := func(n int) []int {
		var w []int
		for i := range n {
			w = append(w, i)
		}
		return w
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			done := ok()
			mu.Unlock()
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: ran %v", what, ran)
			}
		}
	}
	waitFor("the other keys while one hangs", func() bool { return len(ran["a"])+len(ran["b"])+len(ran["c"]) == 3*n })
	mu.Lock()
	for _, k := range []string{"a", "b", "c"} {
		if !slices.Equal(ran[k], want(n)) {
			t.Errorf("key %s ran %v, want 0..%d in order", k, ran[k], n-1)
		}
	}
	if len(ran["stuck"]) != 0 {
		t.Errorf("commands behind a hanging one ran: %v", ran["stuck"])
	}
	mu.Unlock()
	close(release)
	waitFor("the stuck key once released", func() bool { return len(ran["stuck"]) == 5 })
	mu.Lock()
	if !slices.Equal(ran["stuck"], want(5)) {
		t.Errorf("stuck key ran %v, want 0..4 in order", ran["stuck"])
	}
	mu.Unlock()
	if b := s.backlog(); b != 0 {
		t.Errorf("backlog %d after every command ran", b)
	}
}

// TestSenderPushesBack: a full sender makes send wait, and lets it go
// when the engine stops.
func TestSenderPushesBack(t *testing.T) {
	stopped := make(chan struct{})
	s := newSender(1, 2, stopped) // not running: nothing drains it
	s.send("a", func(context.Context) {})
	s.send("b", func(context.Context) {})
	returned := make(chan struct{})
	go func() { defer close(returned); s.send("c", func(context.Context) {}) }()
	select {
	case <-returned:
		t.Fatal("send returned with the queue full")
	case <-time.After(50 * time.Millisecond):
	}
	close(stopped)
	<-returned
	if b := s.backlog(); b != 2 {
		t.Errorf("backlog %d, want the 2 commands queued before the stop", b)
	}
}

// TestOneSlowNodeDoesNotStopClaims: the scheduler stops claiming only when
// every node's commands are backed up, since new attempts go to the least
// loaded node.
func TestOneSlowNodeDoesNotStopClaims(t *testing.T) {
	stopped := make(chan struct{})
	defer close(stopped)
	slow, fast := newSender(1, 2*maxNodeBacklog, stopped), newSender(1, 2*maxNodeBacklog, stopped) // not running
	e := &Engine{opt: Options{ClaimBatch: 256}, senders: &senders{byNode: map[string]*sender{"fs1": slow, "fs2": fast}}}
	for i := range maxNodeBacklog + 1 {
		slow.send(strconv.Itoa(i), func(context.Context) {})
	}
	if e.backedUp() {
		t.Fatal("backed up with one node's queue full and the other's empty")
	}
	for i := range maxNodeBacklog + 1 {
		fast.send(strconv.Itoa(i), func(context.Context) {})
	}
	if !e.backedUp() {
		t.Fatal("not backed up with every node's queue full")
	}
}
