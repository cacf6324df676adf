package session_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// TestSlowReplyHoldsUpNoOtherSession: while FreeSWITCH takes seconds to
// answer one session's uuid_bridge, another session steered by the same
// worker goes on dialling.
func TestSlowReplyHoldsUpNoOtherSession(t *testing.T) {
	const slow = 2 * time.Second // below the pool's command timeout
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Workers = 1
		o.Policy.CallerRingTime = 100 * time.Second // 2 s of simulator time
		// Should the hold prompt's reply be slow too, the bridge waits for
		// it: B must not give up, nor the engine on the bridge, meanwhile.
		o.ParkTimeout = 300 * time.Second
		o.LegGrace = 3 * slow
		// Every API command is slow here, the second session's own busy
		// check of A too: the test is about the first one's reply.
		o.CallerBusy.Check = session.BusyOff
	}))
	n := h.nodes[0]
	n.SetSubscriber("4102", answer)
	// A rings long enough for the delay to be switched on while it rings,
	// and stays on the line until the test hangs up.
	n.SetSubscriber("4101", fssim.Behavior{Action: fssim.Answer, Ring: 10 * simSecond, Talk: time.Minute})
	n.SetSubscriber("4202", answer)
	n.SetSubscriber("4201", talkShort)

	x := h.create("4101", "4102")
	held := h.waitState(x.ID, store.CalleeHold)
	// Slow from the hold prompt on: the uuid_bridge, which must wait for
	// the prompt's reply, is then the one slow command.
	for deadline := time.Now().Add(10 * time.Second); len(h.prompts(held.CalleeLeg)) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("B never heard the hold prompt\n%s", formatTimeline(h.timeline(x.ID)))
		}
	}
	n.SetAPIDelay(slow)
	var bridged time.Time
	for deadline := time.Now().Add(10 * time.Second); bridged.IsZero(); time.Sleep(5 * time.Millisecond) {
		if b := n.Bridges(); len(b) > 0 {
			bridged = b[0].At // its reply comes slow later
		} else if time.Now().After(deadline) {
			t.Fatalf("the first session was never bridged\n%s", formatTimeline(h.timeline(x.ID)))
		}
	}

	y := h.create("4201", "4202")
	h.waitState(y.ID, store.CalleeHold)
	var dialled time.Time
	for deadline := time.Now().Add(10 * time.Second); dialled.IsZero(); time.Sleep(5 * time.Millisecond) {
		if o := h.originates("4201"); len(o) > 0 {
			dialled = o[0].Start
		} else if time.Now().After(deadline) {
			t.Fatalf("A of the second session was never dialled\n%s", formatTimeline(h.timeline(y.ID)))
		}
	}
	if !dialled.Before(bridged.Add(slow)) {
		t.Errorf("the second session dialled A %v after the first one's uuid_bridge, whose reply took %v: it waited for that reply",
			dialled.Sub(bridged), slow)
	}
	n.SetAPIDelay(0)
	if err := n.FarEndHangup(held.CallerLeg, "NORMAL_CLEARING"); err != nil {
		t.Fatal(err)
	}
	if got := h.waitOutcome(x.ID); got.Outcome != store.Completed {
		t.Errorf("first session: %s\n%s", got.Outcome, formatTimeline(h.timeline(x.ID)))
	}
	// The second one's own bridge was slow too: A may have hung up first.
	h.waitOutcome(y.ID)
	h.waitIdle()
}

// TestOriginateLostOnItsWay: an originate whose connection is lost before
// FreeSWITCH reads it ends the attempt as the node's fault, and the
// session goes on by its policy.
func TestOriginateLostOnItsWay(t *testing.T) {
	cases := []struct {
		role, cause, note string
	}{
		{"callee", "DESTINATION_OUT_OF_ORDER", "originate not sent"},
		{"caller", "NODE_LOST", "node lost while B was on hold"},
	}
	for i, c := range cases {
		t.Run(c.role, func(t *testing.T) {
			var proxy *cutProxy
			h := newHarness(t, func(h *harness) {
				h.via = func(addr string) string {
					proxy = startCutProxy(t, addr)
					return proxy.addr()
				}
			})
			a, b := fmt.Sprintf("43%d1", i), fmt.Sprintf("43%d2", i)
			h.nodes[0].SetSubscriber(b, answer)
			h.nodes[0].SetSubscriber(a, talkShort)
			proxy.cutNext(func(cmd string) bool {
				return strings.Contains(cmd, "originate") && strings.Contains(cmd, "bgcall_leg="+c.role)
			})
			s := h.create(a, b)
			got := h.waitOutcome(s.ID)
			tl := h.timeline(s.ID)
			if got.Outcome != store.Completed || got.Attempts != 2 {
				t.Fatalf("outcome %s after %d attempts, want completed after 2\n%s", got.Outcome, got.Attempts, formatTimeline(tl))
			}
			cut := proxy.cutCommands()
			if len(cut) != 1 {
				t.Fatalf("%d commands cut, want 1", len(cut))
			}
			k := slices.IndexFunc(tl, func(e store.Entry) bool { return e.Kind == store.KindAttemptEnded })
			if k < 0 || tl[k].Cause != c.cause || !strings.Contains(tl[k].Note, c.note) || tl[k].Attempt != 1 {
				t.Errorf("first attempt did not end with cause %s, note %q\n%s", c.cause, c.note, formatTimeline(tl))
			}
			for _, o := range h.nodes[0].Originates() {
				if strings.Contains(cut[0], o.UUID) {
					t.Errorf("the node ran the originate that was cut: %s", o.UUID)
				}
			}
			if n := h.nodes[0].MaxConcurrent(b); n != 1 {
				t.Errorf("B had %d legs at once, want 1", n)
			}
			h.waitIdle()
		})
	}
}

// cutProxy relays event-socket connections to a node. Armed with cutNext,
// it cuts the connection that carries the next matching command before the
// node reads it: a connection lost with the command in flight.
type cutProxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	match func(cmd string) bool
	cut   []string
	conns map[net.Conn]bool
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{t: t, ln: ln, target: target, conns: make(map[net.Conn]bool)}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

// cutNext arms the proxy for one command matching match.
func (p *cutProxy) cutNext(match func(cmd string) bool) {
	p.mu.Lock()
	p.match = match
	p.mu.Unlock()
}

func (p *cutProxy) cutCommands() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.cut)
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns[client], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			io.Copy(client, up)
			client.Close()
		}()
		go func() {
			defer p.wg.Done()
			defer up.Close()
			p.relayCommands(client, up)
		}()
	}
}

// relayCommands copies commands (text up to a blank line) from client to
// up, one whole command at a time, so a cut one never partly arrives.
func (p *cutProxy) relayCommands(client, up net.Conn) {
	r := bufio.NewReader(client)
	var cmd []byte
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		cmd = append(cmd, line...)
		if strings.TrimRight(string(line), "\r\n") != "" {
			continue
		}
		if p.take(string(cmd)) {
			client.Close()
			return
		}
		if _, err := up.Write(cmd); err != nil {
			return
		}
		cmd = cmd[:0]
	}
}

// take reports whether cmd is the one to cut, disarming the proxy if so.
func (p *cutProxy) take(cmd string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.match == nil || !p.match(cmd) {
		return false
	}
	p.match = nil
	p.cut = append(p.cut, cmd)
	return true
}
