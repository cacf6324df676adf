package esl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"
)

// Errors callers can test with errors.Is.
var (
	ErrNoNode       = errors.New("esl: no such node or no healthy node")
	ErrNotConnected = errors.New("esl: node not connected")
	// ErrAuth is a refused password: fix the node's Password (FreeSWITCH's
	// event_socket.conf.xml) — retrying alone will not help. The message
	// names bgcall's settings, since that is where an operator fixes it.
	ErrAuth = errors.New("esl: authentication refused: set the password of FreeSWITCH's event_socket.conf.xml " +
		"in freeswitch.password, or as password@ in the node's freeswitch.nodes entry")
	// ErrConnectionLost: the connection failed while the command was in
	// flight; FreeSWITCH may or may not have run it.
	ErrConnectionLost = errors.New("esl: connection lost while the command was in flight")
)

// conn is one authenticated eslgo connection with its command worker. It is
// used by one node and never reused after it fails.
type conn struct {
	n      *node
	gen    uint64 // the event connection's generation; 0 for a command connection
	events bool   // the node's event connection (a command connection has no subscription)
	esl    *eslgo.Conn

	lastActivity atomic.Int64 // unix nanoseconds of the last frame received
	load         atomic.Int32 // commands queued or in flight, for choosing a command connection

	relay        relay
	authAnswered bool            // owned by pumpDown
	authRefused  atomic.Bool     // FreeSWITCH answered auth with -ERR
	ctx          context.Context // cancelled when the connection fails
	cancel       context.CancelFunc
	cmds         chan *request
	// tracing is the trace of the command eslgo is writing, if it has one;
	// pumpUp takes it when it reads the command and reports the write. One
	// command is in flight at a time.
	tracing atomic.Pointer[CommandTrace]

	failOnce sync.Once
	dead     chan struct{} // closed when the connection fails
	err      error         // why; written once before dead is closed
	worker   sync.WaitGroup
}

type request struct {
	ctx   context.Context
	kind  string // "api", "bgapi" or a socket command such as "event"
	line  string // full command text, without the trailing blank line
	reply chan result
}

type result struct {
	raw *eslgo.RawResponse
	err error
}

// rawCommand is a command passed to eslgo, its lines separated by "\n".
type rawCommand string

// BuildMessage ends every line in CRLF, the line end eslgo puts after the
// last one. FreeSWITCH ends a command's first line at the first CR of the
// whole command (at its first LF only when it has no CR), so with LF after
// the first line and CRLF after the others, the header lines would become
// part of the command and their headers would be lost.
func (c rawCommand) BuildMessage() string { return strings.ReplaceAll(string(c), "\n", "\r\n") }

// Wire is what esl writes to FreeSWITCH for a command whose lines are
// separated by "\n": "api <cmd>" as Pool.API sends it, or "bgapi
// <cmd>\nJob-UUID: <id>" as Pool.BGAPI does. The simulator's recordings of
// a real FreeSWITCH are made with these bytes.
func Wire(cmd string) []byte { return []byte(rawCommand(cmd).BuildMessage() + eslgo.EndOfMessage) }

// eslLogger forwards eslgo's messages to slog at debug level: eslgo logs
// every disconnect as a warning, and this package reports those itself.
type eslLogger struct{ c *conn }

func (l eslLogger) Debug(f string, a ...any) {
	l.c.n.log.Debug("eslgo: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (l eslLogger) Info(f string, a ...any)  { l.Debug(f, a...) }
func (l eslLogger) Warn(f string, a ...any)  { l.Debug(f, a...) }
func (l eslLogger) Error(f string, a ...any) { l.Debug(f, a...) }

// dial connects and authenticates, with eslgo talking to FreeSWITCH through
// a relay (see relay.go). On an event connection (events) the relay takes
// the events itself; a command connection subscribes to nothing, so
// FreeSWITCH sends it replies only.
func (n *node) dial(ctx context.Context, gen uint64, events bool) (*conn, error) {
	d := net.Dialer{Timeout: n.opts.DialTimeout}
	up, err := d.DialContext(ctx, "tcp", n.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", n.cfg.Addr, err)
	}
	c := &conn{n: n, gen: gen, events: events, cmds: make(chan *request, 64), dead: make(chan struct{})}
	c.touch()
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.relay.up = up
	path, err := c.relay.listen()
	if err != nil {
		c.fail(err)
		return nil, err
	}
	c.worker.Add(1)
	go func() {
		defer c.worker.Done()
		down, err := c.relay.accept()
		if err != nil {
			c.fail(fmt.Errorf("relay accept: %w", err))
			return
		}
		c.worker.Add(1)
		go func() { defer c.worker.Done(); c.pumpUp(down, up) }()
		c.pumpDown(up, down)
	}()

	opts := eslgo.InboundOptions{
		Options: eslgo.Options{
			Context:     c.ctx,
			Logger:      eslLogger{c},
			ExitTimeout: 100 * time.Millisecond, // only used by eslgo after a refused auth, when the server has already hung up
		},
		Network:     "unix",
		Password:    n.cfg.Password,
		AuthTimeout: n.opts.AuthTimeout,
	}
	ec, err := opts.Dial(path)
	if err != nil {
		if c.authRefused.Load() || strings.Contains(err.Error(), "failed to auth") {
			err = fmt.Errorf("%s: %w", n.cfg.Addr, ErrAuth)
		} else if cause := c.failed(); cause != nil {
			err = fmt.Errorf("connect %s: %w", n.cfg.Addr, cause)
		} else {
			err = fmt.Errorf("connect %s: %w", n.cfg.Addr, err)
		}
		c.close(err)
		return nil, err
	}
	c.esl = ec
	c.worker.Add(1)
	go c.work()
	return c, nil
}

// fail marks the connection dead (once) and ends it: eslgo's context is
// cancelled before the sockets close, so eslgo never runs its own close path
// (see relay.go).
func (c *conn) fail(err error) {
	c.failOnce.Do(func() {
		c.err = err
		close(c.dead)
		c.cancel()
		c.relay.close()
	})
}

// failed returns why the connection failed, or nil.
func (c *conn) failed() error {
	select {
	case <-c.dead:
		return c.err
	default:
		return nil
	}
}

// work sends commands one at a time: eslgo gives every waiting caller the
// next reply, whoever it belongs to, so only one command may be in flight.
func (c *conn) work() {
	defer c.worker.Done()
	for {
		select {
		case <-c.dead:
			return
		case r := <-c.cmds:
			if err := r.ctx.Err(); err != nil {
				r.reply <- result{err: err}
				continue
			}
			if !GateOpen(r.ctx) {
				r.reply <- result{err: ErrWithheld}
				continue
			}
			r.reply <- c.send(r)
			if c.failed() != nil {
				return
			}
		}
	}
}

// send runs one command. The wait is the command timeout or the caller's
// deadline if later, never shorter: the caller may leave early, but the reply
// must be consumed here, or it would be handed to the next command.
func (c *conn) send(r *request) result {
	timeout := c.n.opts.CommandTimeout
	if dl, ok := r.ctx.Deadline(); ok && time.Until(dl) > timeout {
		timeout = time.Until(dl)
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	if t := commandTrace(r.ctx); t != nil {
		c.tracing.Store(t)
		defer c.tracing.Store(nil) // not written: nobody is told
	}
	raw, err := c.esl.SendCommand(ctx, rawCommand(r.line))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no reply within %v", timeout)
		}
		err = fmt.Errorf("%s %q: %w", r.kind, verb(r.line), err)
		c.fail(err)
		return result{err: fmt.Errorf("%w: %v", ErrConnectionLost, err)}
	}
	c.touch()
	return result{raw: raw}
}

func (c *conn) touch() time.Time {
	now := time.Now()
	c.lastActivity.Store(now.UnixNano())
	return now
}

// do queues a command and waits for its reply or the caller's context.
func (c *conn) do(ctx context.Context, kind, line string) (*eslgo.RawResponse, error) {
	r := &request{ctx: ctx, kind: kind, line: line, reply: make(chan result, 1)}
	c.load.Add(1)
	defer c.load.Add(-1)
	select {
	case c.cmds <- r:
	case <-c.dead:
		return nil, fmt.Errorf("%w: %v", ErrNotConnected, c.err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.raw, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.dead:
		select {
		case res := <-r.reply:
			return res.raw, res.err
		default:
			return nil, fmt.Errorf("%w: %v", ErrConnectionLost, c.err)
		}
	}
}

// verb is the first word or two of a command, for errors and logs without
// the arguments (which may carry numbers).
func verb(line string) string {
	f := strings.Fields(line)
	switch {
	case len(f) == 0:
		return ""
	case (f[0] == "api" || f[0] == "bgapi") && len(f) > 1:
		return f[0] + " " + f[1]
	}
	return f[0]
}

// subscribe asks for the configured events in plain format.
func (c *conn) subscribe(ctx context.Context) error {
	raw, err := c.do(ctx, "event", command.Event{Format: "plain", Listen: c.n.opts.Events}.BuildMessage())
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if reply := raw.GetReply(); !strings.HasPrefix(reply, "+OK") {
		return fmt.Errorf("subscribe: FreeSWITCH answered %q", reply)
	}
	return nil
}

// close shuts the connection down for good and waits for its worker.
func (c *conn) close(err error) {
	c.fail(err)
	c.worker.Wait()
}
