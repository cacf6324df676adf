package redistest

import (
	"bufio"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Proxy stands between Redis clients and a server and can lose the reply
// of a chosen command after the command reached the server: what a client
// sees when the network fails at the worst moment. The client times out (or
// sees its connection cut) and, like go-redis by default, sends the same
// command again, which the server then runs a second time.
type Proxy struct {
	Addr     string
	upstream string
	ln       net.Listener

	mu     sync.Mutex
	rules  []*dropRule
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Command is one command as a client sent it: its name (upper case) and
// arguments.
type Command struct {
	Name string
	Args []string
}

type dropRule struct {
	match   func(Command) bool
	left    int  // matching commands still to let through before the one dropped
	cut     bool // also close the client's connection
	dropped chan struct{}
}

// StartProxy starts a proxy for t in front of upstream and stops it in
// t.Cleanup.
func StartProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	p, err := NewProxy(upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewProxy starts a proxy in front of the Redis server at upstream, on a
// free loopback port; the caller must Close it.
func NewProxy(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("redis proxy: %w", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), upstream: upstream, ln: ln, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// DropReply makes the proxy lose the reply to the nth command (counting
// from 1, from now on) for which match reports true. The command itself
// reaches the server and runs. The connection stays open, so the client
// waits for its read timeout before it retries; the returned channel is
// closed when the reply has been dropped.
func (p *Proxy) DropReply(nth int, match func(Command) bool) <-chan struct{} {
	return p.addRule(nth, match, false)
}

// CutAfter is DropReply that also closes the client's connection once the
// command ran, so the client sees the connection fail at once.
func (p *Proxy) CutAfter(nth int, match func(Command) bool) <-chan struct{} {
	return p.addRule(nth, match, true)
}

func (p *Proxy) addRule(nth int, match func(Command) bool, cut bool) <-chan struct{} {
	r := &dropRule{match: match, left: max(nth, 1) - 1, cut: cut, dropped: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
	return r.dropped
}

// CutAll closes every connection through the proxy, as a network partition
// or a restarted load balancer does; new connections are accepted.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Close stops the proxy and closes every connection through it.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// decide returns the rule whose drop command is cmd, if any, and counts
// cmd against the rules it matches.
func (p *Proxy) decide(cmd Command) *dropRule {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range p.rules {
		if !r.match(cmd) {
			continue
		}
		if r.left > 0 {
			r.left--
			continue
		}
		p.rules = append(p.rules[:i], p.rules[i+1:]...)
		return r
	}
	return nil
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client, server) {
			client.Close()
			server.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.relay(client, server)
		}()
	}
}

// A pending entry stands for one command awaiting its reply: the rule that
// drops the reply, if any. passthrough marks a command after which the
// connection carries pushes (SUBSCRIBE and friends), so replies no longer
// pair with commands and are relayed untouched.
type pending struct {
	drop        *dropRule
	passthrough bool
}

// relay copies commands from client to server and replies back, pairing
// each reply with its command in order.
func (p *Proxy) relay(client, server net.Conn) {
	defer p.untrack(client, server)
	queue := make(chan pending, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer client.Close()
		p.replies(server, client, queue)
	}()
	p.commands(client, server, queue)
	server.Close()
	<-done
}

func (p *Proxy) commands(client, server net.Conn, queue chan<- pending) {
	defer close(queue)
	rd := bufio.NewReader(client)
	for {
		raw, cmd, err := readCommand(rd)
		if err != nil {
			return
		}
		var next pending
		switch cmd.Name {
		case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR":
			next.passthrough = true
		default:
			next.drop = p.decide(cmd)
		}
		queue <- next
		if _, err := server.Write(raw); err != nil {
			return
		}
		if next.passthrough {
			io.Copy(server, rd)
			return
		}
	}
}

func (p *Proxy) replies(server, client net.Conn, queue <-chan pending) {
	rd := bufio.NewReader(server)
	for {
		raw, push, err := readReply(rd)
		if err != nil {
			return
		}
		if push {
			if _, err := client.Write(raw); err != nil {
				return
			}
			continue
		}
		next, ok := <-queue
		if !ok {
			return
		}
		if next.drop != nil {
			close(next.drop.dropped)
			if next.drop.cut {
				return
			}
			continue
		}
		if _, err := client.Write(raw); err != nil {
			return
		}
		if next.passthrough {
			io.Copy(client, rd)
			return
		}
	}
}

// readCommand reads one command, an array of bulk strings or an inline
// command, and returns its bytes as read.
func readCommand(rd *bufio.Reader) ([]byte, Command, error) {
	line, err := readLine(rd)
	if err != nil {
		return nil, Command{}, err
	}
	raw := append([]byte(nil), line...)
	if len(line) < 3 || line[0] != '*' {
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			return raw, Command{}, nil
		}
		return raw, Command{Name: strings.ToUpper(fields[0]), Args: fields[1:]}, nil
	}
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil {
		return nil, Command{}, fmt.Errorf("bad array header %q", line)
	}
	args := make([]string, 0, max(n, 0))
	for range n {
		head, err := readLine(rd)
		if err != nil {
			return nil, Command{}, err
		}
		raw = append(raw, head...)
		if head[0] != '$' {
			return nil, Command{}, fmt.Errorf("bad bulk header %q", head)
		}
		size, err := strconv.Atoi(string(head[1 : len(head)-2]))
		if err != nil {
			return nil, Command{}, fmt.Errorf("bad bulk header %q", head)
		}
		body := make([]byte, size+2)
		if _, err := io.ReadFull(rd, body); err != nil {
			return nil, Command{}, err
		}
		raw = append(raw, body...)
		args = append(args, string(body[:size]))
	}
	if len(args) == 0 {
		return raw, Command{}, nil
	}
	return raw, Command{Name: strings.ToUpper(args[0]), Args: args[1:]}, nil
}

// readReply reads one whole reply (RESP2 or RESP3) and reports whether it
// is an out-of-band push.
func readReply(rd *bufio.Reader) (raw []byte, push bool, err error) {
	first, err := rd.Peek(1)
	if err != nil {
		return nil, false, err
	}
	push = first[0] == '>'
	var b []byte
	b, err = appendValue(b, rd)
	return b, push, err
}

// appendValue appends one RESP value, with everything nested in it, to b.
func appendValue(b []byte, rd *bufio.Reader) ([]byte, error) {
	line, err := readLine(rd)
	if err != nil {
		return nil, err
	}
	b = append(b, line...)
	count := func() (int, error) {
		n, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return 0, fmt.Errorf("bad length in %q", line)
		}
		return n, nil
	}
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return b, nil
	case '$', '!', '=':
		n, err := count()
		if err != nil || n < 0 {
			return b, err
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(rd, body); err != nil {
			return nil, err
		}
		return append(b, body...), nil
	case '*', '~', '>', '%', '|':
		n, err := count()
		if err != nil {
			return nil, err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for range max(n, 0) {
			if b, err = appendValue(b, rd); err != nil {
				return nil, err
			}
		}
		if line[0] == '|' { // attributes precede the reply they describe
			return appendValue(b, rd)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown reply type %q", line)
}

func readLine(rd *bufio.Reader) ([]byte, error) {
	line, err := rd.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = rd.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("line without CRLF: %q", line)
	}
	return line, nil
}

// RunsScript matches a command that runs the Lua script whose SHA-1 is sha,
// by EVALSHA or by EVAL of its source.
func RunsScript(sha string) func(Command) bool {
	return func(c Command) bool {
		if len(c.Args) == 0 {
			return false
		}
		switch c.Name {
		case "EVALSHA", "EVALSHA_RO":
			return strings.EqualFold(c.Args[0], sha)
		case "EVAL", "EVAL_RO":
			return fmt.Sprintf("%x", sha1.Sum([]byte(c.Args[0]))) == strings.ToLower(sha)
		}
		return false
	}
}
