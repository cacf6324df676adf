package fssim

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bgcall/internal/uuid"
)

// benchConn is a lean client: one goroutine reads every frame, events are
// counted and dropped, replies are handed over in order.
type benchConn struct {
	nc      net.Conn
	replies chan string
	events  chan int
}

func dialBench(b *testing.B, n *Node, events string) *benchConn {
	nc, err := net.Dial("tcp", n.Addr())
	if err != nil {
		b.Fatal(err)
	}
	c := &benchConn{nc: nc, replies: make(chan string, 16), events: make(chan int, 1)}
	go c.read()
	<-c.replies // auth/request
	c.cmd("auth ClueCon")
	if events != "" {
		c.cmd("event plain " + events)
	}
	return c
}

func (c *benchConn) read() {
	r := bufio.NewReaderSize(c.nc, 256<<10)
	count := 0
	var buf []byte // event bodies are dropped: one buffer serves them all
	defer func() { c.events <- count; close(c.replies) }()
	for {
		var ctype string
		length := 0
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) == 1 {
				break
			}
			s := string(line[:len(line)-1])
			if v, ok := strings.CutPrefix(s, "Content-Length: "); ok {
				length, _ = strconv.Atoi(v)
			} else if v, ok := strings.CutPrefix(s, "Content-Type: "); ok {
				ctype = v
			}
		}
		if cap(buf) < length {
			buf = make([]byte, length)
		}
		body := buf[:length]
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if strings.HasPrefix(ctype, "text/event") {
			count++
			continue
		}
		c.replies <- ctype + "\n" + string(body)
	}
}

func (c *benchConn) cmd(line string) string {
	fmt.Fprintf(c.nc, "%s\n\n", line)
	return <-c.replies
}

const benchEvents = "CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_ANSWER CHANNEL_PARK " +
	"CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY " +
	"PLAYBACK_START PLAYBACK_STOP DTMF BACKGROUND_JOB HEARTBEAT"

// BenchmarkOriginateCycle measures originate → answer → hangup cycles over
// one connection subscribed to the events a controller follows. "pipelined"
// keeps up to 16 cycles in flight, as a controller with many calls does;
// "sequential" waits for every reply before the next command;
// "pipelined_all_events" subscribes to everything, as fs_cli does.
//
// "pipelined_3_listeners" adds three more connections subscribed to the same
// events, as three controller replicas sharing a node are.
func BenchmarkOriginateCycle(b *testing.B) {
	b.Run("pipelined", func(b *testing.B) { benchCycles(b, 16, benchEvents, 0) })
	b.Run("sequential", func(b *testing.B) { benchCycles(b, 1, benchEvents, 0) })
	b.Run("pipelined_all_events", func(b *testing.B) { benchCycles(b, 16, "ALL", 0) })
	b.Run("pipelined_3_listeners", func(b *testing.B) { benchCycles(b, 16, benchEvents, 3) })
}

func benchCycles(b *testing.B, window int, events string, listeners int) {
	n, err := Start(Options{Default: Behavior{Action: Answer}, Heartbeat: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	c := dialBench(b, n, events)
	for i := 0; i < listeners; i++ {
		l := dialBench(b, n, events)
		defer l.nc.Close()
	}
	slots := make(chan string, window)
	failed := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < b.N; i++ {
			u := <-slots
			if got := <-c.replies; got != "api/response\n+OK "+u+"\n" {
				failed <- "originate: " + got
				return
			}
			if got := <-c.replies; got != "api/response\n+OK\n" {
				failed <- "uuid_kill: " + got
				return
			}
		}
	}()
	cpu0 := cpuTime()
	b.ResetTimer()
	w := bufio.NewWriter(c.nc)
	for i := 0; i < b.N; i++ {
		u := uuid.New()
		select {
		case slots <- u:
		case msg := <-failed:
			b.Fatal(msg)
		}
		fmt.Fprintf(w, "api originate {origination_uuid=%s,originate_timeout=30}user/1000@example.com &park()\n\napi uuid_kill %s\n\n", u, u)
		if len(slots) == cap(slots) || i == b.N-1 {
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	select {
	case <-done:
	case msg := <-failed:
		b.Fatal(msg)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
	// CPU time of the whole process (simulator and client) per cycle: the
	// machine may be shared, and this is what a cycle costs whatever the load.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/cycle")
	c.nc.Close()
	b.ReportMetric(float64(<-c.events)/float64(b.N), "events/cycle")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEventFanout measures building one channel event (channel data
// and variables) and handing it to every subscribed connection, without
// the network: the node's own cost per event and listener.
func BenchmarkEventFanout(b *testing.B) {
	for _, tc := range []struct {
		name    string
		formats []string
	}{
		{"plain_1", []string{"plain"}},
		{"plain_3", []string{"plain", "plain", "plain"}},
		{"json_3", []string{"json", "json", "json"}},
		{"mixed_3", []string{"plain", "json", "xml"}},
	} {
		b.Run(tc.name, func(b *testing.B) { benchFanout(b, tc.formats, 0) })
	}
	// Outbound sockets each follow their own channel (myevents): every
	// event is offered to all of them.
	b.Run("plain_1_and_100_outbound", func(b *testing.B) { benchFanout(b, []string{"plain"}, 100) })
}

func benchFanout(b *testing.B, formats []string, outbound int) {
	n, err := Start(Options{Default: Behavior{Action: NoAnswer}, Heartbeat: -1, RecordLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	u := uuid.New()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.originate("{origination_uuid="+u+",bgcall_session=s1}user/1000@example.com &park()", func(string) {})
	ch := n.channels[u]
	if ch == nil {
		b.Fatal("no channel")
	}
	var conns []*conn
	for _, f := range formats {
		c := newConn(n, nil)
		c.format, c.all = f, true
		n.conns[c] = struct{}{}
		conns = append(conns, c)
	}
	for i := 0; i < outbound; i++ {
		c := newConn(n, nil)
		c.format, c.mine = "plain", uuid.New()
		for _, name := range myEventNames {
			c.names[name] = true
		}
		n.conns[c] = struct{}{}
	}
	n.events.stale = true
	bytes := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.fireCh(ch, "CHANNEL_EXECUTE", true, header{"Application", "playback"}, header{"Application-UUID", u})
		for _, c := range conns {
			for _, f := range c.queue {
				bytes += len(f.b)
				f.written()
			}
			c.queue, c.queued = c.queue[:0], 0
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes-out/op")
	for c := range n.conns {
		delete(n.conns, c)
	}
}
