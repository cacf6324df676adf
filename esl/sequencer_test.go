package esl

import (
	"sync"
	"testing"
	"time"
)

// drain releases everything available, waiting up to d for stragglers.
func drain(s *sequencer, d time.Duration) []Event {
	var out []Event
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ev, _, ok, wait := s.next(time.Now())
		if ok {
			out = append(out, ev)
			continue
		}
		if wait < 0 {
			return out
		}
		time.Sleep(min(wait, time.Millisecond))
	}
	return out
}

func seqs(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Sequence
	}
	return out
}

// TestSequencerRestoresWireOrder files events from one goroutine each, as
// eslgo does, and expects them back in the order they were relayed, which
// is not sequence order (FreeSWITCH sends some events late).
func TestSequencerRestoresWireOrder(t *testing.T) {
	s := newSequencer(1<<16, time.Second, 10*time.Millisecond)
	var wire []uint64
	for i := 0; i < 5000; i++ {
		seq := uint64(100 + 2*i)
		if i%50 == 7 {
			seq = uint64(90 + i) // an API event numbered long before
		}
		wire = append(wire, seq)
		s.expect(1, seq, 0)
	}
	var wg sync.WaitGroup
	for _, seq := range wire {
		wg.Add(1)
		go func() { defer wg.Done(); s.arrive(1, Event{Sequence: seq}) }()
	}
	wg.Wait()
	got := seqs(drain(s, time.Second))
	if len(got) != len(wire) {
		t.Fatalf("released %d of %d", len(got), len(wire))
	}
	for i := range wire {
		if got[i] != wire[i] {
			t.Fatalf("position %d: %d, want %d", i, got[i], wire[i])
		}
	}
	if held, lost, late := s.stats(); held != 0 || lost != 0 || late != 0 {
		t.Errorf("held %d lost %d late %d", held, lost, late)
	}
}

func TestSequencerWaitsOnlyForEarlierFrames(t *testing.T) {
	s := newSequencer(100, time.Hour, time.Hour)
	for _, q := range []uint64{5, 6, 6, 9} { // 6 twice: FreeSWITCH repeats some events
		s.expect(1, q, 0)
	}
	s.arrive(1, Event{Sequence: 6, Name: "b"})
	if _, _, ok, wait := s.next(time.Now()); ok || wait <= 0 {
		t.Fatal("released before the first frame arrived")
	}
	s.arrive(1, Event{Sequence: 5, Name: "a"})
	s.arrive(1, Event{Sequence: 6, Name: "c"})
	s.skip(1, 9) // e.g. a job result taken by BGAPIWait
	var names []string
	for _, ev := range drain(s, 10*time.Millisecond) {
		names = append(names, ev.Name)
	}
	if len(names) != 3 || names[0] != "a" || names[1] != "b" || names[2] != "c" {
		t.Fatalf("released %v, want [a b c]", names)
	}
	// An arrival nobody expected (its place was skipped) is delivered, late.
	s.arrive(1, Event{Sequence: 9, Name: "extra"})
	if ev, _, ok, _ := s.next(time.Now()); !ok || ev.Name != "extra" {
		t.Fatalf("late arrival not delivered: %v", ev)
	}
	if _, lost, late := s.stats(); lost != 0 || late != 1 {
		t.Errorf("lost %d late %d, want 0 and 1", lost, late)
	}
}

func TestSequencerSkipsLostEventsAfterTimeout(t *testing.T) {
	s := newSequencer(100, 30*time.Millisecond, time.Hour)
	s.expect(1, 1, 0)
	s.expect(1, 2, 0)
	s.arrive(1, Event{Sequence: 2})
	got := seqs(drain(s, time.Second))
	if len(got) != 1 || got[0] != 2 {
		t.Fatalf("released %v, want [2] after skipping 1", got)
	}
	if _, lost, _ := s.stats(); lost != 1 {
		t.Errorf("lost %d, want 1", lost)
	}
}

func TestSequencerGenerations(t *testing.T) {
	s := newSequencer(100, time.Hour, 20*time.Millisecond)
	s.expect(1, 10, 0)
	s.expect(1, 11, 0) // relayed, never delivered: the connection died
	s.arrive(1, Event{Sequence: 10, Name: "old"})
	s.synthetic(1, Event{Name: EventNodeDown})
	s.closeGen(1)
	s.expect(2, 1, 0)
	s.arrive(2, Event{Sequence: 1, Name: "new"})
	s.synthetic(2, Event{Name: EventNodeUp})
	var names []string
	for _, ev := range drain(s, time.Second) {
		names = append(names, ev.Name)
	}
	want := []string{"old", EventNodeDown, "new", EventNodeUp}
	if len(names) != len(want) {
		t.Fatalf("released %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("released %v, want %v", names, want)
		}
	}
	// A frame relayed by a connection that already ended is not queued.
	s.expect(1, 12, 0)
	if held, _, _ := s.stats(); held != 0 {
		t.Errorf("held %d after the old connection's straggler", held)
	}
}

func TestSequencerBackpressure(t *testing.T) {
	s := newSequencer(4, time.Hour, time.Hour)
	for i := uint64(1); i <= 4; i++ {
		if !s.expect(1, i, 0) {
			t.Fatal("refused below the limit")
		}
	}
	start := time.Now()
	if s.expect(1, 5, 30*time.Millisecond) {
		t.Fatal("accepted above the limit")
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Error("did not wait for room")
	}
	done := make(chan bool)
	go func() { done <- s.expect(1, 5, 10*time.Second) }()
	s.arrive(1, Event{Sequence: 1})
	if _, _, ok, _ := s.next(time.Now()); !ok {
		t.Fatal("nothing released")
	}
	if !<-done {
		t.Fatal("blocked relay not resumed once room was made")
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

func TestSequencerSkipsReportedDropsQuickly(t *testing.T) {
	s := newSequencer(100, time.Hour, 10*time.Millisecond)
	s.expect(1, 1, 0)
	s.expect(1, 2, 0)
	s.arrive(1, Event{Sequence: 2})
	s.reportDropped(1) // eslgo logged a parse failure for 1
	got := seqs(drain(s, time.Second))
	if len(got) != 1 || got[0] != 2 {
		t.Fatalf("released %v, want [2] once the dropped event was skipped", got)
	}
}
