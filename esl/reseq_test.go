package esl

import (
	"math/rand/v2"
	"testing"
	"time"
)

// drain pops everything releasable, waiting up to d for held items.
func drain(r *resequencer, d time.Duration) []*reseqItem {
	var out []*reseqItem
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		it, _, wait := r.next(time.Now())
		if it != nil {
			out = append(out, it)
			continue
		}
		if wait < 0 {
			return out
		}
		time.Sleep(min(wait, time.Millisecond))
	}
	return out
}

func TestResequencerRestoresOrderWithGaps(t *testing.T) {
	r := newResequencer(1<<16, 20*time.Millisecond, time.Second)
	// Sequence numbers with gaps (unsubscribed events), pushed in a
	// shuffled order as eslgo's goroutines would.
	var seqs []uint64
	for s := uint64(100); len(seqs) < 2000; s += 1 + uint64(rand.IntN(3)) {
		seqs = append(seqs, s)
	}
	shuffled := append([]uint64(nil), seqs...)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, s := range shuffled {
		if r.push(1, Event{Sequence: s}, time.Second) != pushed {
			t.Fatal("push refused")
		}
	}
	out := drain(r, 2*time.Second)
	if len(out) != len(seqs) {
		t.Fatalf("released %d of %d", len(out), len(seqs))
	}
	for i, it := range out {
		if it.seq != seqs[i] {
			t.Fatalf("position %d: sequence %d, want %d", i, it.seq, seqs[i])
		}
	}
	if _, _, late := r.stats(); late != 0 {
		t.Errorf("%d late events, want 0", late)
	}
}

func TestResequencerReleasesContiguousAtOnceAndHoldsGaps(t *testing.T) {
	r := newResequencer(100, time.Hour, time.Hour)
	r.push(1, Event{Sequence: 10}, 0)
	// The first event of a connection waits: an earlier one may be in flight.
	if it, _, wait := r.next(time.Now()); it != nil || wait <= 0 {
		t.Fatalf("first event released at once (%v) or no wait (%v)", it, wait)
	}
	// After the window it goes; then 11 follows at once, 13 waits for 12.
	it, _, _ := r.next(time.Now().Add(2 * time.Hour))
	if it == nil || it.seq != 10 {
		t.Fatalf("got %v, want 10", it)
	}
	r.push(1, Event{Sequence: 13}, 0)
	r.push(1, Event{Sequence: 11}, 0)
	if it, _, _ := r.next(time.Now()); it == nil || it.seq != 11 {
		t.Fatalf("got %v, want 11 at once", it)
	}
	if it, _, _ := r.next(time.Now()); it != nil {
		t.Fatalf("13 released before 12 could arrive")
	}
	r.push(1, Event{Sequence: 12}, 0)
	for _, want := range []uint64{12, 13} {
		if it, _, _ := r.next(time.Now()); it == nil || it.seq != want {
			t.Fatalf("got %v, want %d", it, want)
		}
	}
	// A straggler older than what was released is released at once, as late.
	r.push(1, Event{Sequence: 5}, 0)
	if it, late, _ := r.next(time.Now()); it == nil || it.seq != 5 || !late {
		t.Fatalf("got %v late=%v, want 5 late", it, late)
	}
	// Closing the generation releases held events and refuses stragglers.
	r.push(1, Event{Sequence: 20}, 0)
	r.closeGen(1)
	if it, _, _ := r.next(time.Now()); it == nil || it.seq != 20 {
		t.Fatalf("got %v, want 20 after close", it)
	}
	if got := r.push(1, Event{Sequence: 21}, 0); got != pushStale {
		t.Fatalf("push after close = %v, want pushStale", got)
	}
	// A newer generation sorts after the old one's last synthetic event.
	r.push(2, Event{Sequence: 1}, 0)
	r.pushSynthetic(1, seqLast, Event{Name: EventNodeDown})
	r.pushSynthetic(2, 0, Event{Name: EventNodeUp})
	names := []string{}
	for _, it := range drain(r, 10*time.Millisecond) {
		names = append(names, it.ev.Name)
	}
	if len(names) != 2 || names[0] != EventNodeDown || names[1] != EventNodeUp {
		t.Fatalf("released %v, want NODE_DOWN then NODE_UP (then the held event)", names)
	}
}

func TestResequencerBoundedWithBackpressure(t *testing.T) {
	r := newResequencer(4, 0, 0)
	for i := uint64(1); i <= 4; i++ {
		if r.push(1, Event{Sequence: i}, 0) != pushed {
			t.Fatal("push refused below the limit")
		}
	}
	start := time.Now()
	if got := r.push(1, Event{Sequence: 5}, 30*time.Millisecond); got != pushFull {
		t.Fatalf("push above the limit = %v, want pushFull", got)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Error("full push did not wait for room")
	}
	done := make(chan pushResult)
	go func() { done <- r.push(1, Event{Sequence: 5}, 10*time.Second) }()
	time.Sleep(10 * time.Millisecond)
	if it, _, _ := r.next(time.Now()); it == nil {
		t.Fatal("nothing released")
	}
	if got := <-done; got != pushed {
		t.Fatalf("blocked push = %v after room was made, want pushed", got)
	}
	if n, _, _ := r.stats(); n != 4 {
		t.Fatalf("%d buffered, want 4", n)
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
