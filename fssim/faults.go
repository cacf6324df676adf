package fssim

import (
	"strconv"
	"time"
)

// faults are the failures a test can switch on. Guarded by Node.mu.
type faults struct {
	maxSessions int
	sps         int
	spsWindow   []time.Time
	apiDelay    time.Duration
	stalled     bool
	reorder     bool
	showLag     time.Duration
	held        *event
}

// SetMaxSessions limits how many channels may exist at once; originates
// beyond it fail as FreeSWITCH's do. 0 removes the limit.
func (n *Node) SetMaxSessions(max int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults.maxSessions = max
}

// SetSessionsPerSecond limits new channels per (simulated) second. 0
// removes the limit.
func (n *Node) SetSessionsPerSecond(sps int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults.sps = sps
}

// SetAPIDelay makes every api reply and bgapi result wait d.
func (n *Node) SetAPIDelay(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults.apiDelay = d
}

func (n *Node) apiDelay() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.faults.apiDelay
}

// StallEvents stops (true) or resumes (false) writing events to every
// connection; replies keep flowing and stalled events are written, in
// order, on resume.
func (n *Node) StallEvents(on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults.stalled = on
	for c := range n.conns {
		c.setStalled(on)
	}
}

// ReorderEvents makes events of different channels overtake one another, as
// FreeSWITCH's delivery threads can; events of one channel stay in order.
func (n *Node) ReorderEvents(on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults.reorder = on
	if !on && n.faults.held != nil {
		e := n.faults.held
		n.faults.held = nil
		n.route(e)
	}
}

// DropConnections cuts every client connection in the middle of the next
// frame written to it (or at once if idle for long), with no disconnect
// notice: what a crash or a network fault looks like to the client.
func (n *Node) DropConnections() {
	n.mu.Lock()
	conns := make([]*conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	for _, c := range conns {
		c.qmu.Lock()
		c.dropMid = true
		c.qmu.Unlock()
		// Give the writer a frame to cut.
		body := "fssim: connection dropped on purpose\n"
		c.send([]byte("Content-Type: log/data\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body))
	}
}

// admit applies the session limits to a new channel.
func (n *Node) admit(now time.Time) bool {
	if n.faults.maxSessions > 0 && n.liveChannels >= n.faults.maxSessions {
		return false
	}
	if n.faults.sps > 0 {
		cut := now.Add(-n.opts.Second)
		w := n.faults.spsWindow[:0]
		for _, t := range n.faults.spsWindow {
			if t.After(cut) {
				w = append(w, t)
			}
		}
		n.faults.spsWindow = w
		if len(w) >= n.faults.sps {
			return false
		}
		n.faults.spsWindow = append(n.faults.spsWindow, now)
	}
	return true
}
