package fssim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawFrame is one frame as received, bytes included.
type rawFrame struct {
	raw     []byte
	headers map[string]string
	body    string
}

func (f rawFrame) ctype() string { return f.headers["Content-Type"] }

// eventHeaders decodes a text/event-plain body.
func (f rawFrame) event() map[string]string {
	out := map[string]string{}
	head, body, _ := strings.Cut(f.body, "\n\n")
	for _, l := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(l, ": ")
		out[k] = urlDecode(v)
	}
	if body != "" {
		out["_body"] = body
	}
	return out
}

// rawClient speaks the event socket byte by byte, for tests that check
// exact bytes.
type rawClient struct {
	t   testing.TB
	nc  net.Conn
	r   *bufio.Reader
	tap io.Writer // when set, receives every frame read

	seen []map[string]string // events read but not yet waited for
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func (c *rawClient) readFrame() (rawFrame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := c.readFrameFrom()
	if err == nil && c.tap != nil {
		_, _ = c.tap.Write(f.raw)
	}
	return f, err
}

// readFrameFrom reads one frame from c.r, with no deadline.
func (c *rawClient) readFrameFrom() (rawFrame, error) {
	var raw []byte
	f := rawFrame{headers: map[string]string{}}
	for {
		line, err := c.r.ReadString('\n')
		raw = append(raw, line...)
		if err != nil {
			return f, err
		}
		if line == "\n" {
			break
		}
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		f.headers[k] = v
	}
	if cl := f.headers["Content-Length"]; cl != "" {
		n, _ := strconv.Atoi(cl)
		b := make([]byte, n)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return f, err
		}
		raw = append(raw, b...)
		f.body = string(b)
	}
	f.raw = raw
	return f, nil
}

func (c *rawClient) next() rawFrame {
	c.t.Helper()
	f, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

func (c *rawClient) send(cmd string) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.nc, "%s\n\n", cmd); err != nil {
		c.t.Fatalf("send %q: %v", cmd, err)
	}
}

// reply sends a command and returns the next non-event frame.
func (c *rawClient) reply(cmd string) rawFrame {
	c.t.Helper()
	c.send(cmd)
	for {
		f := c.next()
		if !strings.HasPrefix(f.ctype(), "text/event") {
			return f
		}
		if f.ctype() == "text/event-plain" {
			c.seen = append(c.seen, f.event())
		}
	}
}

func authedRaw(t testing.TB, n *Node) *rawClient {
	t.Helper()
	c := dialRaw(t, n.Addr())
	if f := c.next(); string(f.raw) != "Content-Type: auth/request\n\n" {
		t.Fatalf("greeting = %q", f.raw)
	}
	if f := c.reply("auth ClueCon"); string(f.raw) != "Content-Type: command/reply\nReply-Text: +OK accepted\n\n" {
		t.Fatalf("auth reply = %q", f.raw)
	}
	return c
}

// waitEvent returns the first event named name (and on channel uuid when
// set) not returned before, reading more frames when needed.
func (c *rawClient) waitEvent(name, uuid string) map[string]string {
	c.t.Helper()
	match := func(e map[string]string) bool {
		return e["Event-Name"] == name && (uuid == "" || e["Unique-ID"] == uuid)
	}
	for i, e := range c.seen {
		if match(e) {
			c.seen = append(c.seen[:i:i], c.seen[i+1:]...)
			return e
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f := c.next()
		if f.ctype() != "text/event-plain" {
			continue
		}
		e := f.event()
		if match(e) {
			return e
		}
		c.seen = append(c.seen, e)
	}
	c.t.Fatalf("no %s event (uuid %q) within 5s", name, uuid)
	return nil
}

func fastOptions() Options {
	return Options{Second: 20 * time.Millisecond, Default: Behavior{Action: Answer, Ring: 5 * time.Millisecond},
		PromptDuration: 10 * time.Millisecond}
}

// execute runs an api command line on the node, as "api" would, and hands
// its output to done (possibly later: originate waits for its outcome).
func (n *Node) execute(line string, done func(string)) {
	cmd, arg, _ := strings.Cut(line, " ")
	n.mu.Lock()
	defer n.mu.Unlock()
	n.executeLocked(cmd, arg, func(out string, known bool) {
		if !known {
			out = "-ERR " + cmd + " Command not found!\n"
		}
		done(out)
	})
}
