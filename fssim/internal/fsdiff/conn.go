// Package fsdiff runs the same event-socket scripts against a real
// FreeSWITCH and against the simulator, and compares what each answered.
//
// A script is either a framing case (one command, oddly framed or not, on a
// connection of its own) or a call flow (originates, bridges, prompts and
// hangups as bgcall sends them, with the bytes bgcall's esl package writes).
// What comes back is normalised: UUIDs become the role of the leg they
// name, timestamps and sequence numbers are dropped, and a flow's events
// become one label per event ("CHANNEL_ANSWER[A]", "BACKGROUND_JOB[A](+OK
// A)"). The recorder (fssim/cmd/fsrecord, `make record-freeswitch`) runs
// every script on a private FreeSWITCH, a flow several times since
// FreeSWITCH's threads race, and writes the recordings to
// fssim/testdata/freeswitch; the simulator's differential test replays the
// scripts on the simulator and holds it to them (Compare).
package fsdiff

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Frame is one frame read from the event socket.
type Frame struct {
	Type   string            // Content-Type
	Header map[string]string // the first of each name
	Body   []byte
	Raw    []byte // the frame as it came
}

// conn is a bare event-socket connection: bytes out exactly as given,
// frames in as they come.
type conn struct {
	nc net.Conn
	r  *bufio.Reader
}

func dial(ctx context.Context, addr string) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, r: bufio.NewReader(nc)}, nil
}

func (c *conn) close() { c.nc.Close() }

func (c *conn) write(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// read reads the next frame, waiting until deadline at most.
func (c *conn) read(deadline time.Time) (Frame, error) {
	_ = c.nc.SetReadDeadline(deadline)
	var raw []byte
	f := Frame{Header: map[string]string{}}
	for {
		line, err := c.r.ReadString('\n')
		raw = append(raw, line...)
		if err != nil {
			if err == io.EOF && len(raw) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return Frame{}, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(f.Header) == 0 {
				raw = raw[:0] // a stray line end between frames
				continue
			}
			break
		}
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			return Frame{}, fmt.Errorf("malformed header line %q", line)
		}
		if _, dup := f.Header[name]; !dup {
			f.Header[name] = value
		}
	}
	f.Type = f.Header["Content-Type"]
	if cl := f.Header["Content-Length"]; cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > 64<<20 {
			return Frame{}, fmt.Errorf("bad Content-Length %q", cl)
		}
		f.Body = make([]byte, n)
		if _, err := io.ReadFull(c.r, f.Body); err != nil {
			return Frame{}, err
		}
		raw = append(raw, f.Body...)
	}
	f.Raw = raw
	return f, nil
}

// closed reports whether err means the server closed the connection.
func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection reset")
}
