package fssim

import (
	"container/heap"
	"time"
)

// A timer is work the node does under its lock once a deadline has passed.
//
// A node serves all its timers from one queue, earliest deadline first and
// equal deadlines in the order they were armed, because FreeSWITCH acts on
// one channel's deadlines in their order: a far end that answers before the
// originate times out answers. Go's runtime timers give no such order to
// callbacks that expired together (after the process was descheduled, the
// later one often runs first), so each timer having its own would let a
// timeout armed earlier beat a shorter ring.
type timer struct {
	deadline time.Time
	seq      uint64 // arming order, for equal deadlines
	index    int    // position in the queue; -1 once fired or stopped
	fn       func()
}

// timerQueue is a min-heap of pending timers (container/heap).
type timerQueue []*timer

func (q timerQueue) Len() int { return len(q) }

func (q timerQueue) Less(i, j int) bool {
	if !q[i].deadline.Equal(q[j].deadline) {
		return q[i].deadline.Before(q[j].deadline)
	}
	return q[i].seq < q[j].seq
}

func (q timerQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *timerQueue) Push(x any) {
	t := x.(*timer)
	t.index = len(*q)
	*q = append(*q, t)
}

func (q *timerQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	t.index = -1
	return t
}

// after runs fn under the node lock once d has passed, unless the timer is
// stopped first. Close and Restart stop every timer.
func (n *Node) after(d time.Duration, fn func()) *timer {
	return n.at(time.Now().Add(d), fn)
}

// at runs fn under the node lock once deadline has passed, unless the timer
// is stopped first.
func (n *Node) at(deadline time.Time, fn func()) *timer {
	n.timerSeq++
	t := &timer{deadline: deadline, seq: n.timerSeq, fn: fn}
	heap.Push(&n.timers, t)
	n.armWake()
	return t
}

// stopTimer keeps t from acting; a timer that fired or was stopped is left
// alone.
func (n *Node) stopTimer(t *timer) {
	if t.index >= 0 {
		heap.Remove(&n.timers, t.index)
	}
}

// armWake makes the wake timer fire by the earliest deadline. A wake left
// armed for a timer since stopped fires for nothing and re-arms.
func (n *Node) armWake() {
	if len(n.timers) == 0 {
		return
	}
	next := n.timers[0].deadline
	if !n.wakeAt.IsZero() && !next.Before(n.wakeAt) {
		return
	}
	n.wakeAt = next
	if n.wake == nil {
		n.wake = time.AfterFunc(time.Until(next), n.runTimers)
		return
	}
	n.wake.Reset(time.Until(next))
}

// runTimers acts on every timer due, earliest first, in one hold of the
// lock: whatever the runtime delayed, no timer acts before an earlier one
// that is due. Timers armed meanwhile are due later than all of these and
// wait for the next wake, so the lock is released between, as it was
// between separate callbacks.
func (n *Node) runTimers() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wakeAt = time.Time{}
	if n.closed {
		return
	}
	now := time.Now()
	for len(n.timers) > 0 && !n.timers[0].deadline.After(now) {
		t := heap.Pop(&n.timers).(*timer)
		t.fn()
	}
	n.armWake()
}

// stopTimersLocked stops every timer, as Close and Restart do.
func (n *Node) stopTimersLocked() {
	for _, t := range n.timers {
		t.index = -1
	}
	n.timers = nil
	if n.wake != nil {
		n.wake.Stop()
	}
	n.wakeAt = time.Time{}
	for _, ch := range n.channels {
		ch.timers = nil
	}
}

// chanAfter is after for work on one channel; it is cancelled when the
// channel hangs up.
func (n *Node) chanAfter(ch *channel, d time.Duration, fn func()) {
	t := n.after(d, func() {
		if ch.gone {
			return
		}
		fn()
	})
	ch.timers = append(ch.timers, t)
}

func (n *Node) cancelChanTimers(ch *channel) {
	for _, t := range ch.timers {
		n.stopTimer(t)
	}
	ch.timers = nil
}
