package fssim

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
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
	format     string // "plain", "json", "xml"; "" when not listening
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
	lingerSecs  int
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
	c := &conn{n: n, nc: nc, names: make(map[string]bool), subclasses: make(map[string]bool)}
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
	authTimer := time.AfterFunc(c.n.opts.AuthTimeout, func() {
		if !c.authed.Load() {
			c.shutdown(true)
		}
	})
	defer authTimer.Stop()
	r := bufio.NewReaderSize(c.nc, 16<<10)
	for {
		req, err := readRequest(r)
		if err != nil {
			if errors.Is(err, errFrameTooLarge) || !errors.Is(err, io.EOF) {
				c.n.opts.Logger.Debug("fssim: read", "err", err)
			}
			c.shutdown(true)
			return
		}
		if !c.handle(req) {
			return
		}
	}
}

// handle executes one command; false ends the connection.
func (c *conn) handle(req *request) bool {
	c.n.recordCommand(req.line)
	word, rest, _ := strings.Cut(req.line, " ")
	rest = strings.TrimSpace(rest)
	word = strings.ToLower(word)
	if c.outbound {
		if keep, handled := c.handleOutbound(word, rest, req); handled {
			return keep
		}
	}
	if !c.authed.Load() {
		if word != "auth" {
			c.send(replyFrame("-ERR command not found"))
			return true
		}
		if rest != c.n.opts.Password {
			c.send(replyFrame("-ERR invalid"))
			c.shutdown(true)
			return false
		}
		c.authed.Store(true)
		c.send(replyFrame("+OK accepted"))
		return true
	}
	switch word {
	case "exit":
		c.send(replyFrame("+OK bye"))
		c.shutdown(true)
		return false
	case "api":
		c.api(rest)
	case "bgapi":
		c.bgapi(rest, req.header("Job-UUID"))
	case "event":
		c.send(replyFrame(c.subscribe(rest)))
	case "nixevent":
		c.send(replyFrame(c.nix(rest)))
	case "noevents":
		c.send(replyFrame(c.noevents()))
	case "filter":
		c.send(replyFrame(c.filter(rest)))
	case "log":
		level := rest
		if level == "" {
			level = "7"
		}
		c.send(replyFrame("+OK log level " + level + " [" + level + "]"))
	case "nolog":
		c.send(replyFrame("+OK no longer logging"))
	case "linger", "nolinger":
		c.send(replyFrame("-ERR not controlling a session"))
	case "myevents":
		c.send(replyFrame("+OK Events Enabled"))
	case "divert_events":
		c.send(replyFrame("+OK events diverted"))
	case "sendmsg":
		uuid := rest
		if !c.n.exists(uuid) {
			c.send(replyFrame("-ERR invalid session id [" + uuid + "]"))
		} else {
			c.send(replyFrame("+OK"))
		}
	case "sendevent":
		c.send(replyFrame(c.n.sendEvent(rest, req)))
	default:
		c.send(replyFrame("-ERR command not found"))
	}
	return true
}

// api runs a command synchronously: events created meanwhile are written
// after the reply, as FreeSWITCH's connection thread does.
func (c *conn) api(line string) {
	c.hold(true)
	res := make(chan string, 1)
	c.n.execute(line, func(r string) { res <- r })
	out := <-res
	if d := c.n.apiDelay(); d > 0 {
		time.Sleep(d)
	}
	c.send(apiFrame(out))
	c.hold(false)
}

func (c *conn) bgapi(line, jobUUID string) {
	if jobUUID == "" {
		jobUUID = newUUID()
	}
	c.send(replyFrame("+OK Job-UUID: "+jobUUID, header{"Job-UUID", jobUUID}))
	cmd, arg, _ := strings.Cut(line, " ")
	c.n.executeBackground(line, func(r string) {
		e := c.n.newEvent("BACKGROUND_JOB", "mod_event_socket.c", "api_exec", "1572")
		e.add("Job-UUID", jobUUID)
		e.add("Job-Command", cmd)
		if arg != "" {
			e.add("Job-Command-Arg", arg)
		}
		e.body, e.hasBody = r, true
		c.n.fire(e)
	})
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
