package fssim

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"bgcall/internal/uuid"
)

func TestSubscriptionsAndFilters(t *testing.T) {
	n := StartT(t, fastOptions())
	c := authedRaw(t, n)
	c.reply("event plain CHANNEL_ANSWER BACKGROUND_JOB CUSTOM sofia::register")
	u, other := uuid.New(), uuid.New()
	n.FireCustom("sofia::register", "from-user", "1000")
	n.FireCustom("sofia::unregister", "from-user", "1000")
	c.api("originate {origination_uuid=" + u + "}user/1000 &park()")
	if e := c.waitEvent("CUSTOM", ""); e["Event-Subclass"] != "sofia::register" || e["from-user"] != "1000" {
		t.Errorf("custom event %v", e)
	}
	c.waitEvent("CHANNEL_ANSWER", u)
	for _, e := range c.seen {
		if e["Event-Name"] != "CHANNEL_ANSWER" && e["Event-Name"] != "BACKGROUND_JOB" {
			t.Errorf("unsubscribed event delivered: %s %s", e["Event-Name"], e["Event-Subclass"])
		}
	}
	// A filter is a whitelist: BACKGROUND_JOB and other channels vanish.
	if f := c.reply("filter Unique-ID " + u); f.headers["Reply-Text"] != "+OK filter added. [Unique-ID]=["+u+"]" {
		t.Fatalf("filter: %q", f.raw)
	}
	c.seen = nil
	c.reply("bgapi originate {origination_uuid=" + other + "}user/1001 &park()")
	c.api("uuid_kill " + other)
	c.api("uuid_kill " + u)
	c.reply("event plain CHANNEL_HANGUP_COMPLETE")
	c.api("status") // a round trip: everything fired before it has been written
	for _, e := range c.seen {
		if e["Unique-ID"] != u {
			t.Errorf("filtered connection got %s of %q", e["Event-Name"], e["Unique-ID"])
		}
	}
	if f := c.reply("nixevent ALL"); f.headers["Reply-Text"] != "+OK events nixed" {
		t.Errorf("nixevent: %q", f.raw)
	}
	if f := c.reply("noevents"); f.headers["Reply-Text"] != "+OK no longer listening for events" {
		t.Errorf("noevents: %q", f.raw)
	}
}

func TestJSONEvents(t *testing.T) {
	n := StartT(t, fastOptions())
	c := authedRaw(t, n)
	c.reply("event json CHANNEL_CREATE")
	u := uuid.New()
	c.send("api originate {origination_uuid=" + u + "}user/1000 &park()")
	var ev map[string]string
	for ev == nil {
		f := c.next()
		if f.ctype() == "text/event-json" {
			if err := json.Unmarshal([]byte(f.body), &ev); err != nil {
				t.Fatalf("json event: %v (%q)", err, f.body)
			}
		}
	}
	if ev["Event-Name"] != "CHANNEL_CREATE" || ev["Unique-ID"] != u || ev["variable_origination_uuid"] != u {
		t.Errorf("json CHANNEL_CREATE: %v", ev)
	}
	c.api("uuid_kill " + u)
}

func TestSlowAPIReply(t *testing.T) {
	n := StartT(t, fastOptions())
	c := authedRaw(t, n)
	n.SetAPIDelay(60 * time.Millisecond)
	start := time.Now()
	c.api("status")
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("api reply after %v with a 60ms delay", d)
	}
	n.SetAPIDelay(0)
}

func TestStallEvents(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	n.StallEvents(true)
	u := uuid.New()
	if got := c.api("originate {origination_uuid=" + u + "}user/1000 &park()"); got != "+OK "+u+"\n" {
		t.Fatalf("originate while stalled = %q", got)
	}
	if len(c.seen) != 0 {
		t.Fatalf("%d events delivered while stalled", len(c.seen))
	}
	n.StallEvents(false)
	var last uint64
	for _, name := range []string{"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_PARK"} {
		e := c.waitEvent(name, u)
		seq, _ := strconv.ParseUint(e["Event-Sequence"], 10, 64)
		if seq <= last {
			t.Errorf("%s out of order after the stall", name)
		}
		last = seq
	}
	c.api("uuid_kill " + u)
}

func TestDropConnections(t *testing.T) {
	n := StartT(t, fastOptions())
	c := authedRaw(t, n)
	n.DropConnections()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatalf("read after drop: %v", err)
	}
	if len(rest) == 0 || strings.Contains(string(rest), "disconnect-notice") {
		t.Errorf("expected half a frame and no notice, got %q", rest)
	}
	// The node itself is fine.
	authedRaw(t, n).api("status")
}

func TestRestart(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	old := n.CoreUUID()
	u := uuid.New()
	c.api("originate {origination_uuid=" + u + "}user/1000 &park()")
	n.Restart()
	for {
		f, err := c.readFrame()
		if err != nil {
			t.Fatal("connection closed without the disconnect notice")
		}
		if f.ctype() == "text/disconnect-notice" {
			break
		}
	}
	if _, err := c.readFrame(); err == nil {
		t.Error("connection still open after restart")
	}
	if n.CoreUUID() == old {
		t.Error("Core-UUID unchanged by restart")
	}
	c2 := listening(t, n)
	if got := c2.api("uuid_exists " + u); got != "false" {
		t.Errorf("channel survived restart: %q", got)
	}
	n.SetDefault(Behavior{Action: Answer})
	c2.api("originate user/1000 &park()")
	e := c2.waitEvent("CHANNEL_CREATE", "")
	if e["Core-UUID"] != n.CoreUUID() {
		t.Errorf("event Core-UUID %q", e["Core-UUID"])
	}
	if seq, _ := strconv.Atoi(e["Event-Sequence"]); seq > 20 {
		t.Errorf("Event-Sequence %d did not restart", seq)
	}
	c2.api("hupall")
}

func TestReorderKeepsPerChannelOrder(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	n.ReorderEvents(true)
	var ids []string
	for i := 0; i < 4; i++ {
		u := uuid.New()
		ids = append(ids, u)
		c.api("originate {origination_uuid=" + u + "}user/100" + strconv.Itoa(i) + " &park()")
	}
	c.api("hupall")
	for _, u := range ids {
		c.waitEvent("CHANNEL_DESTROY", u)
	}
	c.api("status")
	n.ReorderEvents(false)
	last := map[string]uint64{}
	inversions := 0
	var prev uint64
	for _, e := range c.seen {
		seq, _ := strconv.ParseUint(e["Event-Sequence"], 10, 64)
		if u := e["Unique-ID"]; u != "" {
			if seq <= last[u] {
				t.Errorf("%s of %s out of order", e["Event-Name"], u)
			}
			last[u] = seq
			if seq < prev {
				inversions++
			}
			prev = seq
		}
	}
	if inversions == 0 {
		t.Error("no events of different channels were reordered")
	}
}

func TestSlowClientDoesNotStallNode(t *testing.T) {
	opts := fastOptions()
	opts.EventQueue = 50
	n := StartT(t, opts)
	slow := authedRaw(t, n)
	slow.reply("event plain ALL")
	if tcp, ok := slow.nc.(*net.TCPConn); ok {
		_ = tcp.SetReadBuffer(1024)
	}
	fast := authedRaw(t, n)
	for i := 0; i < 200; i++ {
		u := uuid.New()
		if got := fast.api("originate {origination_uuid=" + u + "}user/1000 &park()"); got != "+OK "+u+"\n" {
			t.Fatalf("originate %d = %q", i, got)
		}
		fast.api("uuid_kill " + u)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	n, err := Start(fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	c := listening(t, n)
	c.api("originate {park_timeout=100}user/1000 &park()")
	c.reply("bgapi originate {originate_timeout=100}user/1001 &park()")
	n.SetSubscriber("2000", Behavior{Action: NoAnswer})
	c.reply("bgapi originate {originate_timeout=100}user/2000 &park()")
	n.Close()
	c.nc.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

func TestClusterNodesAreIndependent(t *testing.T) {
	nodes, err := StartCluster(2, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	if nodes[0].Addr() == nodes[1].Addr() || nodes[0].CoreUUID() == nodes[1].CoreUUID() {
		t.Fatal("nodes share an address or a Core-UUID")
	}
	c0, c1 := listening(t, nodes[0]), listening(t, nodes[1])
	u := uuid.New()
	c0.api("originate {origination_uuid=" + u + "}user/1000 &park()")
	if got := c1.api("uuid_exists " + u); got != "false" {
		t.Error("a channel of node 1 exists on node 2")
	}
	e := c0.waitEvent("CHANNEL_CREATE", u)
	if e["FreeSWITCH-Hostname"] != "fssim-1" {
		t.Errorf("hostname %q", e["FreeSWITCH-Hostname"])
	}
	c0.api("uuid_kill " + u)
}

type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, format)
}

func TestRequireIdleFailsOnLiveChannels(t *testing.T) {
	n, err := Start(fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := authedRaw(t, n)
	c.api("originate user/1000 &park()")
	rec := &recordingTB{TB: t}
	n.RequireIdle(rec)
	if len(rec.errors) != 1 {
		t.Errorf("RequireIdle with a live channel reported %d errors", len(rec.errors))
	}
	c.api("hupall")
	rec = &recordingTB{TB: t}
	n.RequireIdle(rec)
	if len(rec.errors) != 0 {
		t.Errorf("RequireIdle on an idle node: %v", rec.errors)
	}
}

func TestManyClientsAtOnce(t *testing.T) {
	opts := fastOptions()
	opts.Default = Behavior{Action: Answer} // answered before the next command is read
	n := StartT(t, opts)
	const clients, calls = 12, 10
	errs := make(chan string, clients*calls)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, n.Addr())
			if _, err := c.readFrame(); err != nil {
				errs <- err.Error()
				return
			}
			c.send("auth ClueCon")
			c.send("event plain CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB")
			// Every client sees every client's events: only its own count,
			// or it could hang up (and lose commands) before its own ran.
			mine, kills := map[string]bool{}, map[string]bool{}
			for j := 0; j < calls; j++ {
				u, job1, job2 := uuid.New(), uuid.New(), uuid.New()
				mine[u], mine[job1], mine[job2], kills[job2] = true, true, true, true
				c.send("bgapi originate {origination_uuid=" + u + "}user/1000 &park()\nJob-UUID: " + job1)
				c.send("bgapi uuid_kill " + u + "\nJob-UUID: " + job2)
			}
			// Every kill lands after its originate answered, and unless the
			// machine is slow before the originate returned, when the
			// originate fails as on FreeSWITCH (flows.json, "kill on
			// answer"): two jobs and a hangup per call.
			jobs, hangups := 0, 0
			for jobs < 2*calls || hangups < calls {
				f, err := c.readFrame()
				if err != nil {
					errs <- err.Error()
					return
				}
				switch e := f.event(); e["Event-Name"] {
				case "BACKGROUND_JOB":
					if !mine[e["Job-UUID"]] {
						continue
					}
					jobs++
					b := e["_body"]
					if kills[e["Job-UUID"]] && b != "+OK\n" || !kills[e["Job-UUID"]] && !strings.HasPrefix(b, "+OK ") && b != "-ERR NORMAL_CLEARING\n" {
						errs <- "job: " + b
					}
				case "CHANNEL_HANGUP_COMPLETE":
					if mine[e["Unique-ID"]] {
						hangups++
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestShowLag(t *testing.T) {
	n := StartT(t, fastOptions())
	c := authedRaw(t, n)
	n.SetShowLag(time.Hour)
	if got := c.api("show channels count"); got != "\n0 total.\n" {
		t.Fatalf("empty node: %q", got)
	}
	u := uuid.New()
	c.api("originate {origination_uuid=" + u + "}user/1000 &park()")
	if got := c.api("show channels count"); got != "\n0 total.\n" {
		t.Errorf("lagging table already shows the new channel: %q", got)
	}
	if got := c.api("uuid_exists " + u); got != "true" {
		t.Errorf("uuid_exists does not lag: %q", got)
	}
	n.SetShowLag(0)
	if got := c.api("show channels count"); got != "\n1 total.\n" {
		t.Errorf("without lag: %q", got)
	}
	c.api("uuid_kill " + u)
}

func TestXMLEvents(t *testing.T) {
	n := StartT(t, fastOptions())
	c := authedRaw(t, n)
	if f := c.reply("event xml BACKGROUND_JOB"); f.headers["Reply-Text"] != "+OK event listener enabled xml" {
		t.Fatalf("event xml: %q", f.raw)
	}
	c.send("bgapi version")
	for {
		f := c.next()
		if f.ctype() != "text/event-xml" {
			continue
		}
		var ev struct {
			Headers struct {
				EventName string `xml:"Event-Name"`
			} `xml:"headers"`
			Body string `xml:"body"`
		}
		if err := xml.Unmarshal([]byte(f.body), &ev); err != nil {
			t.Fatalf("xml event: %v\n%s", err, f.body)
		}
		if ev.Headers.EventName != "BACKGROUND_JOB" || !strings.HasPrefix(ev.Body, "FreeSWITCH Version") {
			t.Errorf("xml event: %+v", ev)
		}
		return
	}
}

// TestSubscriptionChangesTakeEffect changes subscriptions on two
// connections between calls: the node decides from the union of them
// whether an event is built at all, and every change must count at once.
func TestSubscriptionChangesTakeEffect(t *testing.T) {
	opts := fastOptions()
	opts.Default = Behavior{Action: Answer}
	n := StartT(t, opts)
	a, b := authedRaw(t, n), authedRaw(t, n)
	call := func() string {
		u := uuid.New()
		a.api("originate {origination_uuid=" + u + "}user/1000 &park()")
		a.api("uuid_kill " + u)
		b.api("status") // a round trip: b has been sent everything fired before
		return u
	}
	got := func(c *rawClient, name, u string) bool {
		for _, e := range c.seen {
			if e["Event-Name"] == name && e["Unique-ID"] == u {
				return true
			}
		}
		return false
	}
	a.reply("event plain CHANNEL_ANSWER")
	u := call()
	if !got(a, "CHANNEL_ANSWER", u) || len(b.seen) != 0 {
		t.Fatalf("a subscribed to answers: a saw answer %v, b saw %d events", got(a, "CHANNEL_ANSWER", u), len(b.seen))
	}
	b.reply("event plain CHANNEL_HANGUP")
	u = call()
	if !got(b, "CHANNEL_HANGUP", u) || got(a, "CHANNEL_HANGUP", u) {
		t.Fatalf("b subscribed to hangups: b saw it %v, a saw it %v", got(b, "CHANNEL_HANGUP", u), got(a, "CHANNEL_HANGUP", u))
	}
	b.reply("nixevent CHANNEL_HANGUP")
	a.reply("noevents")
	a.seen, b.seen = nil, nil
	call()
	if len(a.seen)+len(b.seen) != 0 {
		t.Fatalf("events after nixevent and noevents: a %d, b %d", len(a.seen), len(b.seen))
	}
	a.reply("event json ALL")
	u = uuid.New()
	a.send("api originate {origination_uuid=" + u + "}user/1000 &park()")
	for {
		if f := a.next(); f.ctype() == "text/event-json" && strings.Contains(f.body, u) {
			break
		}
	}
	a.api("uuid_kill " + u)
}
