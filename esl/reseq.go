package esl

import (
	"container/heap"
	"math"
	"sync"
	"time"
)

// A resequencer puts one node's events back in FreeSWITCH's order.
//
// eslgo reads frames in order but hands each event to a new goroutine, so
// events reach the listener in scheduling order. Event-Sequence numbers every
// event of a FreeSWITCH process in creation order (with gaps: events nobody
// subscribed to take numbers too), so within one connection (one Core-UUID)
// sorting on it restores the order, and for a channel, whose events are created
// by its own thread one after the other, it is the order that matters.
//
// An event is released at once when nothing can precede it: its sequence
// number follows the last one released, or its connection is gone. Otherwise
// it waits until it has been held for the window, in case an earlier number
// is still in a goroutine between eslgo and here. Gaps are normal (unsubscribed
// events), so the window bounds the extra latency; an event that arrives after
// a later one was released is reported as late, and the node widens the
// window if that broke a channel's order.
//
// Items are keyed by (generation, sequence): a generation is one connection,
// and everything of an older connection is released before a newer one's.
type resequencer struct {
	mu        sync.Mutex
	items     itemHeap
	notify    chan struct{} // an item was pushed
	space     chan struct{} // an item was popped
	limit     int
	window    time.Duration
	maxWindow time.Duration
	closedGen uint64 // generations <= closedGen are over: release, refuse stragglers
	lastGen   uint64
	lastSeq   uint64
	order     uint64
	late      uint64
}

type reseqItem struct {
	ev        Event
	gen, seq  uint64
	order     uint64 // arrival order, breaks ties
	arrived   time.Time
	immediate bool // synthetic or unnumbered: never held
}

func newResequencer(limit int, window, maxWindow time.Duration) *resequencer {
	return &resequencer{
		notify:    make(chan struct{}, 1),
		space:     make(chan struct{}, 1),
		limit:     limit,
		window:    window,
		maxWindow: maxWindow,
	}
}

type pushResult int

const (
	pushed pushResult = iota
	pushFull
	pushStale
)

// push adds a FreeSWITCH event of connection gen. It waits up to wait for
// room when the buffer is full.
func (r *resequencer) push(gen uint64, ev Event, wait time.Duration) pushResult {
	var timer *time.Timer
	for {
		r.mu.Lock()
		if gen <= r.closedGen {
			r.mu.Unlock()
			return pushStale
		}
		if len(r.items) < r.limit {
			r.insert(&reseqItem{ev: ev, gen: gen, seq: ev.Sequence, immediate: ev.Sequence == 0})
			r.mu.Unlock()
			return pushed
		}
		r.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-r.space:
		case <-timer.C:
			return pushFull
		}
	}
}

// pushSynthetic adds an event made by this package. It is never held and is
// ordered at seq within gen: 0 before the connection's events, math.MaxUint64
// after them. It ignores the limit: synthetic events are few (one per node
// transition and one per channel lost), and dropping one would hide a loss.
func (r *resequencer) pushSynthetic(gen, seq uint64, ev Event) {
	r.mu.Lock()
	r.insert(&reseqItem{ev: ev, gen: gen, seq: seq, immediate: true})
	r.mu.Unlock()
}

func (r *resequencer) insert(it *reseqItem) {
	r.order++
	it.order = r.order
	it.arrived = time.Now()
	heap.Push(&r.items, it)
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// closeGen marks connection gen as over: its buffered events are released at
// once, in order, and later arrivals from it are refused.
func (r *resequencer) closeGen(gen uint64) {
	r.mu.Lock()
	if gen > r.closedGen {
		r.closedGen = gen
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// next pops the first releasable item. With none, it returns how long to wait
// before the head becomes releasable (or -1: empty, wait for a push).
func (r *resequencer) next(now time.Time) (*reseqItem, bool, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.items) == 0 {
		return nil, false, -1
	}
	it := r.items[0]
	held := now.Sub(it.arrived)
	ready := it.immediate || it.gen <= r.closedGen || held >= r.window ||
		(it.gen == r.lastGen && it.seq <= r.lastSeq+1)
	if !ready {
		return nil, false, r.window - held
	}
	heap.Pop(&r.items)
	select {
	case r.space <- struct{}{}:
	default:
	}
	late := false
	if !it.immediate {
		switch {
		case it.gen > r.lastGen:
			r.lastGen, r.lastSeq = it.gen, it.seq
		case it.gen == r.lastGen && it.seq > r.lastSeq:
			r.lastSeq = it.seq
		default:
			late = true
			r.late++
		}
	}
	return it, late, 0
}

// widen doubles the hold window, up to its maximum.
func (r *resequencer) widen() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.window = min(2*r.window, r.maxWindow)
	return r.window
}

func (r *resequencer) stats() (buffered int, window time.Duration, late uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items), r.window, r.late
}

// itemHeap orders items by (generation, sequence, arrival).
type itemHeap []*reseqItem

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.gen != b.gen {
		return a.gen < b.gen
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.order < b.order
}
func (h itemHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)   { *h = append(*h, x.(*reseqItem)) }
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	if cap(*h) > 1024 && len(*h) < cap(*h)/4 {
		*h = append(itemHeap(nil), *h...)
	}
	return it
}

// seqLast orders a synthetic event after every event of its generation.
const seqLast = math.MaxUint64
