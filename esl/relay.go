package esl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The relay sits between eslgo and FreeSWITCH. eslgo dials a private Unix
// socket; the relay holds the TCP connection to FreeSWITCH and reads whole
// frames, which lets this package see every frame boundary before eslgo does.
// Events it keeps and parses itself (see the package comment); every other
// frame is copied to eslgo, except where that neutralises an eslgo defect:
//
//   - eslgo's reader stops for good, without telling anyone, on a frame type it
//     has no channel for (log/data, text/rude-rejection) and on an EOF in the
//     middle of a frame. The relay drops the former and reports the latter at
//     once.
//   - When eslgo sees a disconnect (notice or EOF) it closes itself, deleting
//     from a map that two of its goroutines read without a lock: a data race.
//     The relay never forwards a disconnect; the connection is ended by
//     cancelling eslgo's context first (its goroutines leave) and closing the
//     sockets after, so eslgo's close path never runs once authenticated.
//   - A second auth/request after authentication would make eslgo send auth
//     concurrently with our commands; the relay forwards only the first.
type relay struct {
	mu   sync.Mutex
	up   net.Conn // FreeSWITCH
	down net.Conn // eslgo's side
	ln   net.Listener
	dir  string
}

// listen prepares the private socket eslgo will dial. The socket lives in a
// fresh 0700 directory, so no other user can connect to it first.
func (r *relay) listen() (string, error) {
	dir, err := os.MkdirTemp("", "bgcall-esl-")
	if err != nil {
		return "", fmt.Errorf("relay socket: %w", err)
	}
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("relay socket: %w", err)
	}
	r.dir, r.ln = dir, ln
	return path, nil
}

// accept takes eslgo's connection and removes the socket.
func (r *relay) accept() (net.Conn, error) {
	r.mu.Lock()
	ln, dir := r.ln, r.dir
	r.mu.Unlock()
	if ln == nil { // closed before eslgo dialled
		return nil, net.ErrClosed
	}
	d, err := ln.Accept()
	ln.Close()
	os.RemoveAll(dir)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil { // closed meanwhile
		d.Close()
		return nil, net.ErrClosed
	}
	r.down = d
	return d, nil
}

func (r *relay) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		os.RemoveAll(r.dir)
		r.ln = nil
	}
	if r.up != nil {
		r.up.Close()
	}
	if r.down != nil {
		r.down.Close()
	}
}

// Limits on one frame from FreeSWITCH: a channel event with every variable
// is a few kilobytes; these only stop a broken peer from exhausting memory.
const (
	maxFrameHeader = 64 << 10
	maxFrameBody   = 64 << 20
)

// maxKeptFrame is the largest frame buffer pumpDown keeps for the next frame.
const maxKeptFrame = 256 << 10

var errMidFrame = errors.New("connection cut in the middle of a frame")

// frame is one frame from FreeSWITCH, raw, with its Content-Type.
type frame struct {
	raw         []byte
	bodyStart   int
	contentType string
	replyText   string
}

// readFrame reads header lines up to the blank line, then Content-Length
// bytes of body. io.EOF means a clean end between frames.
func readFrame(r *bufio.Reader) (frame, error) { return readFrameInto(r, nil) }

// readFrameInto is readFrame reusing buf's memory for the frame's bytes.
func readFrameInto(r *bufio.Reader, buf []byte) (frame, error) {
	f := frame{raw: buf[:0]}
	length := 0
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			err = fmt.Errorf("header line longer than %d bytes", r.Size())
		}
		if err != nil {
			if err == io.EOF && len(f.raw) == 0 && len(line) == 0 {
				return f, io.EOF
			}
			if err == io.EOF {
				err = errMidFrame
			}
			return f, err
		}
		f.raw = append(f.raw, line...)
		if len(f.raw) > maxFrameHeader {
			return f, fmt.Errorf("frame header longer than %d bytes", maxFrameHeader)
		}
		text := bytes.TrimRight(line, "\r\n")
		if len(text) == 0 {
			if len(f.raw) == len(line) {
				f.raw = f.raw[:0] // stray line end between frames
				continue
			}
			break
		}
		name, value, ok := bytes.Cut(text, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Type")):
			f.contentType = contentType(value)
		case bytes.EqualFold(name, []byte("Reply-Text")):
			f.replyText = string(value)
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 || n > maxFrameBody {
				return f, fmt.Errorf("bad Content-Length %q", value)
			}
			length = n
		}
	}
	f.bodyStart = len(f.raw)
	if length > 0 {
		start := len(f.raw)
		f.raw = slices.Grow(f.raw, length)[:start+length]
		if _, err := io.ReadFull(r, f.raw[start:]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = errMidFrame
			}
			return f, err
		}
	}
	return f, nil
}

// contentType returns a frame's Content-Type, without allocating for the
// types FreeSWITCH sends all the time.
func contentType(v []byte) string {
	switch string(v) {
	case "text/event-plain":
		return "text/event-plain"
	case "command/reply":
		return "command/reply"
	case "api/response":
		return "api/response"
	}
	return string(v)
}

// pumpDown copies frames from FreeSWITCH to eslgo until either side fails.
func (c *conn) pumpDown(up io.Reader, down io.Writer) {
	r := bufio.NewReaderSize(up, 64<<10)
	authSeen := false
	// One buffer for every frame: a frame is written to eslgo, which copies
	// it, before the next is read.
	var buf []byte
	for {
		f, err := readFrameInto(r, buf)
		if buf = f.raw; cap(buf) > maxKeptFrame {
			buf = nil // a rare huge frame is not kept for good
		}
		if err != nil {
			switch {
			case err == io.EOF:
				c.fail(errors.New("FreeSWITCH closed the connection"))
			case errors.Is(err, net.ErrClosed):
				c.fail(err)
			default:
				c.fail(fmt.Errorf("read from FreeSWITCH: %w", err))
			}
			return
		}
		read := c.touch()
		switch f.contentType {
		case "auth/request":
			if authSeen {
				continue
			}
			authSeen = true
		case "command/reply":
			// The first reply answers auth. eslgo may report a refusal as a
			// closed connection if FreeSWITCH hangs up first, so note it here.
			if !c.authAnswered {
				c.authAnswered = true
				c.authRefused.Store(strings.HasPrefix(f.replyText, "-ERR"))
			}
		case "text/event-plain":
			if !c.events {
				// A command connection subscribes to nothing; an event
				// here has no place in the node's order.
				continue
			}
			// Events never reach eslgo (see the type's comment): parsed
			// here, on the one goroutine reading the socket, they are in
			// wire order by construction.
			ev, err := ParseEvent(c.n.cfg.Name, f.raw[f.bodyStart:])
			if err != nil {
				c.n.log.Warn("esl: dropping an event that does not parse", "err", err)
				continue
			}
			ev.Received = read
			if !c.n.received(c, ev) {
				if c.failed() == nil {
					c.fail(fmt.Errorf("event buffer full (%d events) for %v: the consumer of Events is too slow", c.n.opts.EventBuffer, c.n.opts.CommandTimeout))
				}
				return
			}
			continue
		case "api/response":
		case "text/disconnect-notice":
			c.fail(errors.New("FreeSWITCH ended the connection (disconnect notice)"))
			return
		case "text/rude-rejection":
			c.fail(errors.New("FreeSWITCH rejected the connection: allow this address in event_socket.conf.xml's apply-inbound-acl"))
			return
		default:
			// log/data and anything newer: eslgo would stop reading.
			c.n.log.Debug("esl: dropping frame eslgo cannot handle", "node", c.n.cfg.Name, "content_type", f.contentType)
			continue
		}
		if _, err := down.Write(f.raw); err != nil {
			c.fail(fmt.Errorf("relay to eslgo: %w", err))
			return
		}
	}
}

// pumpUp copies eslgo's commands to FreeSWITCH as they are. A read and a
// write per command: io.Copy would splice from the Unix socket to TCP
// through a pipe, three system calls for a hundred bytes.
func (c *conn) pumpUp(down io.Reader, up io.Writer) {
	buf := make([]byte, 16<<10)
	var err error
	for {
		var n int
		n, err = down.Read(buf)
		if n > 0 {
			// Taken before the write: once written, the reply may come
			// back and end the command, trace and all, before this
			// goroutine runs again.
			t := c.tracing.Swap(nil)
			var at time.Time
			if t != nil {
				at = time.Now()
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				err = werr
				break
			}
			if t != nil {
				t.Written(at)
			}
		}
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = errors.New("eslgo closed its side")
	}
	c.fail(fmt.Errorf("relay to FreeSWITCH: %w", err))
}
