package fssim

import (
	"fmt"
	"strconv"
	"time"
)

func (n *Node) scheduleHeartbeat() {
	if n.opts.Heartbeat < 0 {
		return
	}
	n.after(n.opts.Heartbeat, func() {
		n.fireHeartbeat()
		n.scheduleHeartbeat()
	})
}

func (n *Node) fireHeartbeat() {
	e := n.newEvent("HEARTBEAT", "switch_core.c", "send_heartbeat", "95")
	e.add("Event-Info", "System Ready")
	e.add("Up-Time", n.uptime())
	e.add("FreeSWITCH-Version", "1.10.12-release~64bit")
	e.add("Uptime-msec", strconv.FormatInt(time.Since(n.started).Milliseconds(), 10))
	e.add("Session-Count", strconv.Itoa(n.liveChannels))
	e.add("Max-Sessions", strconv.Itoa(n.maxSessionsReported()))
	e.add("Session-Per-Sec", strconv.Itoa(n.spsReported()))
	e.add("Session-Per-Sec-Last", "0")
	e.add("Session-Per-Sec-Max", "0")
	e.add("Session-Per-Sec-FiveMin", "0")
	e.add("Session-Since-Startup", strconv.Itoa(n.sessions))
	e.add("Session-Peak-Max", strconv.Itoa(n.peak))
	e.add("Session-Peak-FiveMin", strconv.Itoa(n.peak))
	e.add("Idle-CPU", "95.000000")
	n.fire(e)
}

func (n *Node) maxSessionsReported() int {
	if n.faults.maxSessions > 0 {
		return n.faults.maxSessions
	}
	return 2000
}

func (n *Node) spsReported() int {
	if n.faults.sps > 0 {
		return n.faults.sps
	}
	return 500
}

func (n *Node) uptime() string {
	d := time.Since(n.started)
	us := d.Microseconds()
	days := us / 86400e6
	h := us / 3600e6 % 24
	m := us / 60e6 % 60
	s := us / 1e6 % 60
	ms := us / 1000 % 1000
	u := us % 1000
	return fmt.Sprintf("0 years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, %d microseconds",
		days, h, m, s, ms, u)
}

// newEvent creates an event with the headers switch_event_prep_for_delivery
// adds, numbering it now: FreeSWITCH numbers events at creation, so an event
// fired later (API, BACKGROUND_JOB) can carry a lower sequence than ones
// delivered before it.
func (n *Node) newEvent(name, file, fn, line string) *event {
	return n.newEventSized(name, file, fn, line, 16)
}

// newEventSized is newEvent with room for extra headers beyond the common
// ones, so that channel events are allocated once.
func (n *Node) newEventSized(name, file, fn, line string, extra int) *event {
	n.seq++
	now := time.Now()
	if sec := now.Unix(); sec != n.dateSec {
		n.dateSec = sec
		n.dateLocal = now.Format("2006-01-02 15:04:05")
		n.dateGMT = now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	}
	// The timestamp and the sequence number share one allocation.
	var digits [40]byte
	b := strconv.AppendInt(digits[:0], now.UnixMicro(), 10)
	k := len(b)
	b = strconv.AppendUint(b, n.seq, 10)
	nums := string(b)
	e := n.takeEvent(name, 13+extra)
	e.add("Event-Name", name)
	e.add("Core-UUID", n.coreUUID)
	e.add("FreeSWITCH-Hostname", n.opts.Hostname)
	e.add("FreeSWITCH-Switchname", n.opts.Hostname)
	e.add("FreeSWITCH-IPv4", n.opts.IPv4)
	e.add("FreeSWITCH-IPv6", n.opts.IPv6)
	e.add("Event-Date-Local", n.dateLocal)
	e.add("Event-Date-GMT", n.dateGMT)
	e.add("Event-Date-Timestamp", nums[:k])
	e.add("Event-Calling-File", file)
	e.add("Event-Calling-Function", fn)
	e.add("Event-Calling-Line-Number", line)
	e.add("Event-Sequence", nums[k:])
	return e
}

// maxSpareEvents bounds the events kept for reuse; a handful are in flight
// at once (an API event waits for its command while channel events fire).
const maxSpareEvents = 8

// takeEvent returns an empty event named name with room for size headers,
// reusing one already delivered when there is one: a channel event carries
// a hundred-odd headers, and allocating them for every event was most of
// the simulator's garbage.
func (n *Node) takeEvent(name string, size int) *event {
	var e *event
	if k := len(n.spareEvents); k > 0 {
		e = n.spareEvents[k-1]
		n.spareEvents[k-1] = nil
		n.spareEvents = n.spareEvents[:k-1]
	} else {
		e = new(event)
	}
	if cap(e.headers) < size {
		e.headers = make([]header, 0, size)
	}
	e.name = name
	return e
}

// recycle keeps a delivered event for reuse. Only its plain frame lives on,
// in connection queues, which now hold the only references to it.
func (n *Node) recycle(e *event) {
	if e.plainBuf != nil {
		e.plainBuf.release()
	}
	if len(n.spareEvents) >= maxSpareEvents {
		return
	}
	clear(e.headers)
	*e = event{headers: e.headers[:0]}
	n.spareEvents = append(n.spareEvents, e)
}

// newEventIfWanted is newEvent for events that are only worth building when
// some connection subscribed to name; otherwise it only takes the sequence
// number (FreeSWITCH numbers every event) and returns nil.
func (n *Node) newEventIfWanted(name, file, fn, line string, extra int) *event {
	if n.events.stale {
		n.events.gather(n.conns)
	}
	if n.events.all || n.events.names[name] {
		return n.newEventSized(name, file, fn, line, extra)
	}
	n.seq++
	return nil
}

// subscriptions is the union of the connections' event subscriptions, so
// that deciding whether an event is worth building takes one lookup rather
// than a look at every connection. It is gathered again after any
// subscription changes; a connection that goes away leaves it a superset,
// which costs an unneeded event at most.
type subscriptions struct {
	stale bool
	all   bool
	names map[string]bool
}

func (s *subscriptions) gather(conns map[*conn]struct{}) {
	s.stale, s.all = false, false
	if s.names == nil {
		s.names = make(map[string]bool)
	}
	clear(s.names)
	for c := range conns {
		if !c.listening {
			continue
		}
		s.all = s.all || c.all
		for name, on := range c.names {
			if on {
				s.names[name] = true
			}
		}
	}
}

// fire delivers an event to every subscribed connection. Called with n.mu
// held, so events reach each connection in firing order.
func (n *Node) fire(e *event) {
	if e == nil {
		return
	}
	if n.faults.reorder && e.uuid != "" {
		// Held events are compared by identity: these are not reused.
		n.fireReordered(e)
		return
	}
	n.route(e)
	n.recycle(e)
}

func (n *Node) route(e *event) {
	for c := range n.conns {
		c.deliver(e)
	}
}

// fireReordered holds one channel event back and lets the next event of a
// different channel overtake it, as FreeSWITCH's delivery threads can.
func (n *Node) fireReordered(e *event) {
	held := n.faults.held
	switch {
	case held == nil:
		n.faults.held = e
		n.after(n.opts.Second/50+time.Millisecond, func() {
			if n.faults.held == e {
				n.faults.held = nil
				n.route(e)
			}
		})
	case held.uuid != e.uuid:
		n.faults.held = nil
		n.route(e)
		n.route(held)
	default:
		n.faults.held = e
		n.route(held)
		n.after(n.opts.Second/50+time.Millisecond, func() {
			if n.faults.held == e {
				n.faults.held = nil
				n.route(e)
			}
		})
	}
}
