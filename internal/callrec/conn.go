package callrec

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"bgcall/esl"
)

// Conn is a plain event-socket client for tests: one connection, commands
// one at a time, events handed to a callback in wire order. It speaks to
// FreeSWITCH and to the simulator alike, and stays deliberately simpler than
// package esl (no reconnection, no pooling), so that a test judges bgcall's
// client with an independent one.
type Conn struct {
	addr string
	nc   net.Conn

	send    sync.Mutex // one command in flight: replies carry no id
	replies chan frame

	mu      sync.Mutex
	onEvent func(esl.Event)
	err     error // why the connection ended
	done    chan struct{}
}

// frame is one frame read from the socket.
type frame struct {
	header textproto.MIMEHeader
	body   []byte
}

func (f frame) contentType() string { return f.header.Get("Content-Type") }

// ErrPassword is the event socket refusing the password.
var ErrPassword = errors.New("event socket refused the password")

// Dial connects to the event socket at addr and authenticates.
func Dial(ctx context.Context, addr, password string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	r := bufio.NewReader(nc)
	f, err := readFrame(r)
	if err == nil && f.contentType() != "auth/request" {
		err = fmt.Errorf("expected auth/request, got %q", f.contentType())
	}
	if err == nil {
		_, err = io.WriteString(nc, "auth "+password+"\n\n")
	}
	if err == nil {
		f, err = readFrame(r)
	}
	if err == nil && !strings.HasPrefix(f.header.Get("Reply-Text"), "+OK") {
		err = fmt.Errorf("%w (%s)", ErrPassword, f.header.Get("Reply-Text"))
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("event socket %s: %w", addr, err)
	}
	nc.SetDeadline(time.Time{})
	c := &Conn{addr: addr, nc: nc, replies: make(chan frame, 1), done: make(chan struct{})}
	go c.read(r)
	return c, nil
}

// read hands replies to the command waiting for them and events to the
// callback, until the connection ends.
func (c *Conn) read(r *bufio.Reader) {
	var err error
	for {
		var f frame
		f, err = readFrame(r)
		if err != nil {
			break
		}
		switch f.contentType() {
		case "text/event-plain":
			ev, perr := esl.ParseEvent(c.addr, f.body)
			if perr != nil {
				err = fmt.Errorf("parse event: %w", perr)
				break
			}
			c.mu.Lock()
			on := c.onEvent
			c.mu.Unlock()
			if on != nil {
				on(ev)
			}
			continue
		case "command/reply", "api/response":
			select {
			case c.replies <- f:
				continue
			default:
				err = errors.New("a reply nobody waits for")
			}
		case "text/disconnect-notice":
			err = errors.New("disconnect notice")
		default:
			continue // log/data and the like
		}
		break
	}
	if err == io.EOF {
		err = errors.New("closed by the server")
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	close(c.done)
}

// Done is closed when the connection has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, or nil while it is up.
func (c *Conn) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection and waits for its reader.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.mu.Unlock()
	err := c.nc.Close()
	<-c.done
	return err
}

// Command sends one socket command (e.g. "api status", or several lines
// ending in LF) and returns the reply's Reply-Text, or its body for an
// api/response. A context that ends before the reply ends the connection
// too: the late reply would otherwise answer the next command.
func (c *Conn) Command(ctx context.Context, cmd string) (string, error) {
	c.send.Lock()
	defer c.send.Unlock()
	if err := c.Err(); err != nil {
		return "", fmt.Errorf("event socket %s: %w", c.addr, err)
	}
	if _, err := io.WriteString(c.nc, cmd+"\n\n"); err != nil {
		return "", fmt.Errorf("event socket %s: %w", c.addr, err)
	}
	select {
	case f := <-c.replies:
		if f.contentType() == "api/response" {
			return string(f.body), nil
		}
		return f.header.Get("Reply-Text"), nil
	case <-c.done:
		return "", fmt.Errorf("event socket %s: %s: %w", c.addr, verb(cmd), c.Err())
	case <-ctx.Done():
		c.nc.Close()
		return "", fmt.Errorf("event socket %s: %s: %w", c.addr, verb(cmd), ctx.Err())
	}
}

// API runs "api cmd" and returns FreeSWITCH's reply body as it is (e.g.
// "+OK ...", "-ERR ...", or a listing).
func (c *Conn) API(ctx context.Context, cmd string) (string, error) {
	return c.Command(ctx, "api "+cmd)
}

// BGAPI runs "bgapi cmd" with a Job-UUID of its own and returns that id:
// the result comes as a BACKGROUND_JOB event with that Job-UUID.
func (c *Conn) BGAPI(ctx context.Context, cmd string) (string, error) {
	id := NewUUID()
	reply, err := c.Command(ctx, "bgapi "+cmd+"\nJob-UUID: "+id)
	if err != nil {
		return "", err
	}
	if reply != "+OK Job-UUID: "+id {
		return "", fmt.Errorf("bgapi %s: reply %q, want +OK Job-UUID: %s", verb(cmd), reply, id)
	}
	return id, nil
}

// Subscribe asks for the named events in plain format and hands each to
// on, on the connection's reader goroutine, in wire order. on must not
// block for long nor call the Conn.
func (c *Conn) Subscribe(ctx context.Context, on func(esl.Event), names ...string) error {
	c.mu.Lock()
	c.onEvent = on
	c.mu.Unlock()
	reply, err := c.Command(ctx, "event plain "+strings.Join(names, " "))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(reply, "+OK") {
		return fmt.Errorf("subscribe: %s", reply)
	}
	return nil
}

// readFrame reads header lines up to a blank line, then Content-Length
// bytes of body.
func readFrame(r *bufio.Reader) (frame, error) {
	h := textproto.MIMEHeader{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return frame{}, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(h) == 0 {
				continue // stray line end between frames
			}
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return frame{}, fmt.Errorf("malformed header line %q", line)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	f := frame{header: h}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > 64<<20 {
			return frame{}, fmt.Errorf("bad Content-Length %q", cl)
		}
		f.body = make([]byte, n)
		if _, err := io.ReadFull(r, f.body); err != nil {
			return frame{}, err
		}
	}
	return f, nil
}

// verb is a command's first word or two, for errors without arguments.
func verb(cmd string) string {
	f := strings.Fields(cmd)
	switch {
	case len(f) == 0:
		return ""
	case (f[0] == "api" || f[0] == "bgapi") && len(f) > 1:
		return f[0] + " " + f[1]
	}
	return f[0]
}

// NewUUID returns a random version-4 UUID, as FreeSWITCH's own uuids look
// (origination_uuid, Job-UUID).
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
