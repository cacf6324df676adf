package esl

import (
	"sync"
	"time"
)

// An eventQueue holds one node's events between the relay, which parses
// them in the order FreeSWITCH sent them, and the node's release loop, which
// hands them to the pool's stream. The relay is the only reader of the
// socket and the queue is FIFO, so events leave in wire order: for a channel
// that is FreeSWITCH's creation order (Event-Sequence rises along it).
//
// Synthetic events (node up or down, channel gone) are queued the same way,
// after every event the connection relayed before them. An event of a
// connection that has already ended (a newer generation exists, or closeGen
// was called) is dropped: NODE_DOWN has been queued behind the connection's
// last event and resync reports what changed since.
//
// The queue is bounded. When it is full, push waits for room, which holds
// the relay back from reading the socket: backpressure to FreeSWITCH, not
// loss; if there is still no room after the wait, the connection is failed
// and resynced. Synthetic events are never refused: there are few of them.
type eventQueue struct {
	mu     sync.Mutex
	items  []queued
	head   int
	limit  int
	closed uint64 // generations up to this one have ended
	notify chan struct{}
	space  chan struct{}
}

type queued struct {
	ev  Event
	gen uint64
}

func newEventQueue(limit int) *eventQueue {
	return &eventQueue{limit: limit, notify: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push queues an event the relay read on connection gen. When the queue is
// full it waits up to wait, or until stop is closed, for room; it returns
// false if there is still none.
func (q *eventQueue) push(gen uint64, ev Event, wait time.Duration, stop <-chan struct{}) bool {
	var timer *time.Timer
	for {
		q.mu.Lock()
		if q.len() < q.limit {
			q.add(gen, ev, false)
			q.mu.Unlock()
			return true
		}
		q.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-q.space:
		case <-stop:
			return false
		case <-timer.C:
			return false
		}
	}
}

// synthetic queues an event made by this package.
func (q *eventQueue) synthetic(gen uint64, ev Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.add(gen, ev, true)
}

// add appends, unless gen's connection has ended and the event is not
// synthetic; q.mu is held.
func (q *eventQueue) add(gen uint64, ev Event, synthetic bool) {
	if gen <= q.closed && !synthetic {
		return
	}
	q.items = append(q.items, queued{ev: ev, gen: gen})
	signal(q.notify)
}

// closeGen marks connection gen (and every older one) as ended.
func (q *eventQueue) closeGen(gen uint64) {
	q.mu.Lock()
	q.closed = max(q.closed, gen)
	q.mu.Unlock()
}

// next takes the oldest event, if any.
func (q *eventQueue) next() (Event, uint64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return Event{}, 0, false
	}
	it := q.items[q.head]
	q.items[q.head] = queued{}
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head > 1024 && q.head*2 > len(q.items):
		// Compact once the taken prefix dominates, so a queue that is never
		// quite empty does not grow with its history.
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	signal(q.space)
	return it.ev, it.gen, true
}

// held is how many events wait.
func (q *eventQueue) held() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.len()
}

func (q *eventQueue) len() int { return len(q.items) - q.head }
