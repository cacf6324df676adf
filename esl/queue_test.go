package esl

import (
	"testing"
	"time"
)

func drain(q *eventQueue) []Event {
	var out []Event
	for {
		ev, _, ok := q.next()
		if !ok {
			return out
		}
		out = append(out, ev)
	}
}

func seqs(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Sequence
	}
	return out
}

// TestEventQueueKeepsWireOrder pushes events in an order that is not
// sequence order (FreeSWITCH sends some events late) and expects them back
// as pushed, synthetic ones in their place.
func TestEventQueueKeepsWireOrder(t *testing.T) {
	q := newEventQueue(100)
	for _, s := range []uint64{5, 3, 9, 4} {
		if !q.push(1, Event{Sequence: s}, 0, nil) {
			t.Fatal("refused below the limit")
		}
	}
	q.synthetic(1, Event{Name: EventNodeDown, Sequence: 100})
	q.push(1, Event{Sequence: 6}, 0, nil)
	got := seqs(drain(q))
	want := []uint64{5, 3, 9, 4, 100, 6}
	if len(got) != len(want) {
		t.Fatalf("released %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("released %v, want %v", got, want)
		}
	}
}

// TestEventQueueDropsEndedGenerations: once a connection has ended (its
// NODE_DOWN queued), a late event of it must not follow NODE_DOWN, but
// synthetic events and newer connections' events still pass.
func TestEventQueueDropsEndedGenerations(t *testing.T) {
	q := newEventQueue(100)
	q.push(1, Event{Sequence: 1}, 0, nil)
	q.synthetic(1, Event{Name: EventNodeDown, Sequence: 2})
	q.closeGen(1)
	q.push(1, Event{Sequence: 3}, 0, nil)                 // late: dropped
	q.synthetic(1, Event{Name: EventNodeUp, Sequence: 4}) // synthetic: kept
	q.push(2, Event{Sequence: 5}, 0, nil)
	got := seqs(drain(q))
	if len(got) != 4 || got[0] != 1 || got[1] != 2 || got[2] != 4 || got[3] != 5 {
		t.Fatalf("released %v, want [1 2 4 5]", got)
	}
	if q.held() != 0 {
		t.Errorf("held %d after draining", q.held())
	}
}

func TestEventQueueBackpressure(t *testing.T) {
	q := newEventQueue(4)
	for i := uint64(1); i <= 4; i++ {
		if !q.push(1, Event{Sequence: i}, 0, nil) {
			t.Fatal("refused below the limit")
		}
	}
	start := time.Now()
	if q.push(1, Event{Sequence: 5}, 30*time.Millisecond, nil) {
		t.Fatal("accepted above the limit")
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Error("did not wait for room")
	}
	stop := make(chan struct{})
	close(stop)
	if q.push(1, Event{Sequence: 5}, time.Hour, stop) {
		t.Fatal("accepted above the limit after stop")
	}
	done := make(chan bool)
	go func() { done <- q.push(1, Event{Sequence: 5}, 10*time.Second, nil) }()
	if _, _, ok := q.next(); !ok {
		t.Fatal("nothing released")
	}
	if !<-done {
		t.Fatal("blocked relay not resumed once room was made")
	}
	if got := seqs(drain(q)); len(got) != 4 || got[3] != 5 {
		t.Fatalf("released %v, want [2 3 4 5]", got)
	}
}

// TestEventQueueCompacts: a queue that is never empty must not keep its
// whole history.
func TestEventQueueCompacts(t *testing.T) {
	q := newEventQueue(1 << 20)
	q.push(1, Event{Sequence: 0}, 0, nil)
	for i := uint64(1); i <= 100_000; i++ {
		q.push(1, Event{Sequence: i}, 0, nil)
		ev, _, ok := q.next()
		if !ok || ev.Sequence != i-1 {
			t.Fatalf("step %d: got %d %v", i, ev.Sequence, ok)
		}
	}
	if cap(q.items) > 4096 {
		t.Errorf("backing array holds %d slots for 1 waiting event", cap(q.items))
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for f := 0; f < 10; f++ {
		want := min(lo<<f, hi)
		for i := 0; i < 50; i++ {
			d := backoff(lo, hi, f)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", f, d, want/2, want)
			}
		}
	}
}
