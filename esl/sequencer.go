package esl

import (
	"strconv"
	"sync"
	"time"
)

// A sequencer puts one node's events back in the order FreeSWITCH sent them.
//
// eslgo reads frames in order but hands each event to a goroutine of its own,
// so events reach the listener in scheduling order. The relay, which sees the
// frames before eslgo does, records each event's Event-Sequence in wire order
// (expect); the listener files each event as it arrives (arrive); events are
// released strictly in the recorded order. No timing window is involved: an
// event waits only for the events that preceded it on the wire, which eslgo
// is already handling. For a channel, wire order is FreeSWITCH's creation
// order (Event-Sequence rises along it), and that is what a controller needs.
//
// Each connection (generation) has its own queue; an older connection's queue
// is drained before a newer one's. Synthetic events are queued like frames,
// after every frame already relayed. An event that never reaches the listener
// (eslgo failed to parse it, or the connection died first) is skipped after
// a short grace when eslgo reported dropping an event or the connection
// ended, and otherwise after the (long) timeout, and counted as lost; if it
// shows up later it is delivered at once, counted as late, never dropped.
type sequencer struct {
	mu      sync.Mutex
	queues  []*wireQueue // by generation, oldest first
	notify  chan struct{}
	space   chan struct{}
	limit   int           // events held, across queues
	held    int           // entries not yet released
	timeout time.Duration // how long the head may wait for its event
	grace   time.Duration // the same once the connection has ended
	late    []Event       // arrivals whose entry was already skipped
	closed  uint64        // generations up to this one have ended
	lost    uint64
	nLate   uint64
}

type wireQueue struct {
	gen      uint64
	entries  []wireEntry
	head     int
	since    time.Time // when the current head started waiting
	closedAt time.Time // zero while the connection lives
	arrived  map[uint64][]Event
	pending  map[uint64]int // entries per sequence not yet released
	dropped  int            // events eslgo reported dropping, not yet skipped
}

type wireEntry struct {
	seq       uint64
	synthetic *Event
}

type arrival struct {
	ev   Event
	skip bool
}

func newSequencer(limit int, timeout, grace time.Duration) *sequencer {
	return &sequencer{
		notify:  make(chan struct{}, 1),
		space:   make(chan struct{}, 1),
		limit:   limit,
		timeout: timeout,
		grace:   grace,
	}
}

// wireSeq reads an Event-Sequence value the same way for the relay and the
// listener: anything but a decimal number reads as 0.
func wireSeq(s string) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func (s *sequencer) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// queue returns gen's queue, creating it; nil if gen is older than a queue
// that exists (its connection is long gone).
func (s *sequencer) queue(gen uint64) *wireQueue {
	for _, q := range s.queues {
		if q.gen == gen {
			return q
		}
	}
	if gen <= s.closed {
		return nil
	}
	if n := len(s.queues); n > 0 && s.queues[n-1].gen > gen {
		return nil
	}
	q := &wireQueue{gen: gen, arrived: make(map[uint64][]Event), pending: make(map[uint64]int)}
	s.queues = append(s.queues, q)
	return q
}

// expect records that the relay is handing eslgo an event numbered seq. When
// the buffer is full it waits up to wait for room, which holds the relay
// back from reading the socket: backpressure to FreeSWITCH, not loss. It
// returns false if there is still no room.
func (s *sequencer) expect(gen, seq uint64, wait time.Duration) bool {
	var timer *time.Timer
	for {
		s.mu.Lock()
		if s.held < s.limit {
			q := s.queue(gen)
			if q != nil && q.closedAt.IsZero() {
				s.add(q, wireEntry{seq: seq})
				q.pending[seq]++
			}
			s.mu.Unlock()
			return true
		}
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-s.space:
		case <-timer.C:
			return false
		}
	}
}

func (s *sequencer) add(q *wireQueue, e wireEntry) {
	if q.head == len(q.entries) {
		q.since = time.Now()
	}
	q.entries = append(q.entries, e)
	s.held++
	s.signal(s.notify)
}

// arrive files an event eslgo delivered for connection gen.
func (s *sequencer) arrive(gen uint64, ev Event) { s.file(gen, ev.Sequence, arrival{ev: ev}) }

// skip marks the event numbered seq as consumed without delivery (a job
// result taken by BGAPIWait, an event that could not be decoded).
func (s *sequencer) skip(gen, seq uint64) { s.file(gen, seq, arrival{skip: true}) }

func (s *sequencer) file(gen, seq uint64, a arrival) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var q *wireQueue
	for _, x := range s.queues {
		if x.gen == gen {
			q = x
		}
	}
	if q == nil || q.pending[seq] <= len(q.arrived[seq]) {
		// Its entry was skipped (or never recorded): deliver it now rather
		// than lose it.
		if !a.skip {
			s.nLate++
			s.late = append(s.late, a.ev)
			s.signal(s.notify)
		}
		return
	}
	ev := a.ev
	if a.skip {
		ev = Event{Sequence: seq, Name: skipMarker}
	}
	q.arrived[seq] = append(q.arrived[seq], ev)
	s.signal(s.notify)
}

// skipMarker stands for an event consumed without delivery.
const skipMarker = "\x00skip"

// synthetic queues an event made by this package after every frame of
// connection gen relayed so far.
func (s *sequencer) synthetic(gen uint64, ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queue(gen); q != nil {
		s.add(q, wireEntry{synthetic: &ev})
		return
	}
	s.late = append(s.late, ev)
	s.signal(s.notify)
}

// reportDropped records that eslgo dropped one of gen's events (it says so
// in its log): the sequencer then skips a missing event after the short grace
// instead of the full timeout.
func (s *sequencer) reportDropped(gen uint64) {
	s.mu.Lock()
	if q := s.queue(gen); q != nil {
		q.dropped++
	}
	s.mu.Unlock()
	s.signal(s.notify)
}

// closeGen marks connection gen as over: what it relayed but eslgo never
// delivered is skipped after the grace period.
func (s *sequencer) closeGen(gen uint64) {
	s.mu.Lock()
	if q := s.queue(gen); q != nil && q.closedAt.IsZero() {
		q.closedAt = time.Now()
	}
	s.closed = max(s.closed, gen)
	s.mu.Unlock()
	s.signal(s.notify)
}

// next returns the next event to release with its generation (0 for late
// events), or how long to wait before calling again (-1: until notified).
func (s *sequencer) next(now time.Time) (Event, uint64, bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.late) > 0 {
		ev := s.late[0]
		s.late[0] = Event{}
		s.late = s.late[1:]
		if len(s.late) == 0 {
			s.late = nil
		}
		return ev, 0, true, 0
	}
	for len(s.queues) > 0 {
		q := s.queues[0]
		if q.head == len(q.entries) {
			if q.closedAt.IsZero() {
				return Event{}, 0, false, -1
			}
			s.queues[0] = nil
			s.queues = s.queues[1:]
			continue
		}
		e := q.entries[q.head]
		if e.synthetic != nil {
			s.pop(q, now)
			return *e.synthetic, q.gen, true, 0
		}
		if list := q.arrived[e.seq]; len(list) > 0 {
			ev := list[0]
			if len(list) == 1 {
				delete(q.arrived, e.seq)
			} else {
				list[0] = Event{}
				q.arrived[e.seq] = list[1:]
			}
			s.pop(q, now)
			if ev.Name == skipMarker {
				continue
			}
			return ev, q.gen, true, 0
		}
		limit, from := s.timeout, q.since
		switch {
		case !q.closedAt.IsZero():
			limit, from = s.grace, later(q.since, q.closedAt)
		case q.dropped > 0:
			limit = s.grace
		}
		if waited := now.Sub(from); waited < limit {
			return Event{}, 0, false, limit - waited
		}
		if q.dropped > 0 {
			q.dropped--
		}
		s.lost++
		s.pop(q, now)
	}
	return Event{}, 0, false, -1
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// pop releases the head entry of q.
func (s *sequencer) pop(q *wireQueue, now time.Time) {
	e := q.entries[q.head]
	q.entries[q.head] = wireEntry{}
	q.head++
	q.since = now
	s.held--
	if e.synthetic == nil {
		if q.pending[e.seq]--; q.pending[e.seq] <= 0 {
			delete(q.pending, e.seq)
		}
	}
	// Compact once the released prefix dominates, so a long-lived
	// connection's queue does not grow with its history.
	if q.head > 1024 && q.head*2 > len(q.entries) {
		q.entries = append([]wireEntry(nil), q.entries[q.head:]...)
		q.head = 0
	}
	s.signal(s.space)
}

func (s *sequencer) stats() (held int, lost, late uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held, s.lost, s.nLate
}
