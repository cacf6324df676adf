package fssim

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// maxLostEvents is how many events a connection may lose to a full queue
// before the node drops it, as mod_event_socket's MAX_MISSED does.
const maxLostEvents = 500

// conn is one event-socket client. One goroutine reads and executes
// commands, one writes; the writer's queue is never waited on by the node,
// so a slow client cannot stall it.
type conn struct {
	n      *Node
	nc     net.Conn
	authed atomic.Bool

	// Subscription state, guarded by Node.mu (events are routed under it).
	format     string // "plain", "json" or "xml", even when not listening
	listening  bool   // an event or myevents command subscribed it
	myEvents   bool
	logging    bool
	all        bool
	names      map[string]bool
	subclasses map[string]bool
	filters    []header
	mine       string // myevents: the Unique-ID whose events alone are sent

	// Outbound mode (the socket application): the connection controls one
	// channel; session is guarded by Node.mu.
	outbound    bool
	session     *channel
	async, full bool
	linger      bool
	lingerSecs  int // -1: until the controller leaves
	resume      bool

	qmu      sync.Mutex
	cond     *sync.Cond
	queue    []outFrame
	held     []outFrame // events waiting for an api command or a stall to end
	apiHold  bool
	stalled  bool
	queued   int // events in queue and held
	lost     int
	final    bool // nothing more will be queued; close once written
	abrupt   bool // close without writing what is queued
	dropMid  bool // write half of the next frame, then close
	stopOnce sync.Once
}

type outFrame struct {
	b      []byte
	event  bool
	shared *sharedFrame // b's buffer when shared with other connections
}

// written lets go of the frame's buffer once it is in the socket's buffer.
func (f outFrame) written() {
	if f.shared != nil {
		f.shared.release()
	}
}

func newConn(n *Node, nc net.Conn) *conn {
	c := &conn{n: n, nc: nc, format: "plain", names: make(map[string]bool), subclasses: make(map[string]bool)}
	c.cond = sync.NewCond(&c.qmu)
	c.stalled = n.faults.stalled
	return c
}

func (c *conn) start() {
	c.n.wg.Add(2)
	go c.writeLoop()
	go c.readLoop()
}

// send queues a reply frame; replies are never dropped.
func (c *conn) send(b []byte) {
	c.qmu.Lock()
	if !c.final {
		c.queue = append(c.queue, outFrame{b: b})
		c.cond.Signal()
	}
	c.qmu.Unlock()
}

// shutdown ends the connection: with notice, the disconnect notice is queued
// after everything already queued and the socket closes once it is written.
func (c *conn) shutdown(notice bool) {
	if c.finish(notice) {
		c.n.removeConn(c)
	}
}

// shutdownLocked is shutdown for callers holding Node.mu.
func (c *conn) shutdownLocked() {
	if c.finish(false) {
		delete(c.n.conns, c)
	}
}

// finish queues the end of the connection once; it reports whether this
// call did it.
func (c *conn) finish(notice bool) bool {
	done := false
	c.stopOnce.Do(func() {
		done = true
		c.qmu.Lock()
		c.queue = append(c.queue, c.held...)
		c.held = nil
		if notice {
			c.queue = append(c.queue, outFrame{b: disconnectNotice})
		}
		c.final = true
		c.cond.Signal()
		c.qmu.Unlock()
	})
	return done
}

// kill closes the socket at once, without a notice.
func (c *conn) kill() {
	c.qmu.Lock()
	c.abrupt = true
	c.qmu.Unlock()
	c.shutdown(false)
}

func (c *conn) writeLoop() {
	defer c.n.wg.Done()
	defer c.n.removeConn(c)
	defer c.nc.Close()
	w := bufio.NewWriterSize(c.nc, 64<<10)
	// The queue and the batch being written swap arrays instead of
	// growing a new queue for every batch.
	var spare []outFrame
	for {
		c.qmu.Lock()
		for len(c.queue) == 0 && !c.final {
			c.cond.Wait()
		}
		batch := c.queue
		c.queue = spare[:0]
		for _, f := range batch {
			if f.event {
				c.queued--
			}
		}
		final, abrupt, dropMid := c.final, c.abrupt, c.dropMid
		c.qmu.Unlock()
		if abrupt {
			if w.Buffered() > 0 {
				// Frames of earlier batches, held back for the ones that
				// followed them, go out as they would have.
				_ = c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
				_ = w.Flush()
			}
			return
		}
		if final {
			// A client that stopped reading must not hold up Close.
			_ = c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		}
		for _, f := range batch {
			if dropMid {
				_, _ = w.Write(f.b[:len(f.b)/2])
				_ = w.Flush()
				return
			}
			if _, err := w.Write(f.b); err != nil {
				c.kill()
				return
			}
			f.written()
		}
		clear(batch)
		spare = batch
		if !final {
			// Events fire in bursts (a hangup is eight of them): while more
			// are already queued, take them before writing, so that a burst
			// costs one write call rather than one per batch.
			c.qmu.Lock()
			more := len(c.queue) > 0 && !c.abrupt
			c.qmu.Unlock()
			if more {
				continue
			}
		}
		if err := w.Flush(); err != nil {
			c.kill()
			return
		}
		if final {
			c.qmu.Lock()
			done := len(c.queue) == 0
			c.qmu.Unlock()
			if done {
				return
			}
		}
	}
}

func (c *conn) readLoop() {
	defer c.n.wg.Done()
	if c.outbound {
		c.outboundLoop()
		return
	}
	c.send([]byte("Content-Type: auth/request\n\n"))
	if err := c.serve(); err != nil {
		c.shutdown(true)
	}
}

// serve reads and answers commands until one ends the connection (nil) or
// reading fails. Only the first command has a deadline: FreeSWITCH gives
// read_packet 25 seconds for it and none for the ones after, whether the
// first was auth or not.
func (c *conn) serve() error {
	r := bufio.NewReaderSize(c.nc, 16<<10)
	_ = c.nc.SetReadDeadline(time.Now().Add(c.n.opts.AuthTimeout))
	for first := true; ; first = false {
		req, err := readRequest(r)
		if first {
			_ = c.nc.SetReadDeadline(time.Time{})
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.n.opts.Logger.Debug("fssim: read", "err", err)
			}
			return err
		}
		if !c.handle(req) {
			return nil
		}
	}
}

func (c *conn) hold(on bool) {
	c.qmu.Lock()
	c.apiHold = on
	c.releaseLocked()
	c.qmu.Unlock()
}

func (c *conn) setStalled(on bool) {
	c.qmu.Lock()
	c.stalled = on
	c.releaseLocked()
	c.qmu.Unlock()
}

func (c *conn) releaseLocked() {
	if c.apiHold || c.stalled || len(c.held) == 0 {
		return
	}
	c.queue = append(c.queue, c.held...)
	clear(c.held)
	c.held = c.held[:0]
	c.cond.Signal()
}
