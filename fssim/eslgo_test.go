package fssim

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/percipia/eslgo"

	"bgcall/internal/uuid"
)

// eslgo v1.5.2 races with itself when a connection closes (Conn.close
// deletes from a map its auth loop reads without a lock), and the race
// detector fails any test where that happens. So these tests share one node
// that is never closed, and never close their eslgo connections; each test
// still requires the node to be idle when it ends.
var eslShared struct {
	once sync.Once
	node *Node
	err  error
}

func eslNode(t *testing.T) *Node {
	t.Helper()
	eslShared.once.Do(func() {
		opts := fastOptions()
		opts.Heartbeat = -1 // an idle shared node wakes nobody up
		eslShared.node, eslShared.err = Start(opts)
	})
	if eslShared.err != nil {
		t.Fatalf("start simulator: %v", eslShared.err)
	}
	n := eslShared.node
	t.Cleanup(func() { n.RequireIdle(t) })
	return n
}

// eslClient is an eslgo connection whose events land, in arrival order, on
// a channel (eslgo itself calls listeners on separate goroutines).
type eslClient struct {
	t      *testing.T
	conn   *eslgo.Conn
	mu     sync.Mutex
	events []*eslgo.Event
	signal chan struct{}
}

func dialESL(t *testing.T, n *Node) *eslClient {
	t.Helper()
	opts := eslgo.DefaultInboundOptions
	opts.Password = n.Password()
	opts.Logger = eslgo.NilLogger{}
	conn, err := opts.Dial(n.Addr())
	if err != nil {
		t.Fatalf("eslgo dial: %v", err)
	}
	c := &eslClient{t: t, conn: conn, signal: make(chan struct{}, 1)}
	conn.RegisterEventListener(eslgo.EventListenAll, func(e *eslgo.Event) {
		c.mu.Lock()
		c.events = append(c.events, e)
		c.mu.Unlock()
		select {
		case c.signal <- struct{}{}:
		default:
		}
	})
	return c
}

func (c *eslClient) cmd(line string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.conn.SendCommand(ctx, rawCommand(line))
	if err != nil {
		c.t.Fatalf("%s: %v", line, err)
	}
	return r.GetReply()
}

// rawCommand is a command whose lines are separated by "\n"; it goes out
// with CRLF throughout, the line end eslgo puts after the last line, since
// FreeSWITCH reads a command with mixed line ends differently.
type rawCommand string

func (r rawCommand) BuildMessage() string { return strings.ReplaceAll(string(r), "\n", "\r\n") }

// mixedCommand goes out as written: an "\n" inside it, then the "\r\n\r\n"
// eslgo appends. bgcall sent every bgapi this way until its esl package was
// fixed.
type mixedCommand string

func (r mixedCommand) BuildMessage() string { return string(r) }

// waitFor waits for an event matching match.
func (c *eslClient) waitFor(what string, match func(*eslgo.Event) bool) *eslgo.Event {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		for _, e := range c.events {
			if match(e) {
				c.mu.Unlock()
				return e
			}
		}
		c.mu.Unlock()
		select {
		case <-c.signal:
		case <-deadline:
			c.t.Fatalf("no %s event within 5s", what)
		}
	}
}

func (c *eslClient) job(id string) string {
	c.t.Helper()
	e := c.waitFor("BACKGROUND_JOB "+id, func(e *eslgo.Event) bool {
		return e.GetName() == "BACKGROUND_JOB" && e.GetHeader("Job-UUID") == id
	})
	return string(e.Body)
}

func (c *eslClient) channelEvent(name, uuid string) *eslgo.Event {
	c.t.Helper()
	return c.waitFor(name+" "+uuid, func(e *eslgo.Event) bool {
		return e.GetName() == name && e.GetHeader("Unique-ID") == uuid
	})
}

func TestESLAuthAndAPI(t *testing.T) {
	n := eslNode(t)
	opts := eslgo.DefaultInboundOptions
	opts.Password = "wrong"
	opts.ExitTimeout = 100 * time.Millisecond
	opts.Logger = eslgo.NilLogger{}
	if _, err := opts.Dial(n.Addr()); err == nil {
		t.Fatal("dial with a wrong password succeeded")
	}
	c := dialESL(t, n)
	if got := c.cmd("api status"); !strings.Contains(got, "FreeSWITCH (Version 1.10.12-release  64bit) is ready") {
		t.Errorf("status = %q", got)
	}
	if got := c.cmd("api version"); got != "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n" {
		t.Errorf("version = %q", got)
	}
	if got := c.cmd("api nosuchcmd"); got != "-ERR nosuchcmd Command not found!\n" {
		t.Errorf("unknown command = %q", got)
	}
}

func TestESLBgapiJobUUID(t *testing.T) {
	n := eslNode(t)
	c := dialESL(t, n)
	if got := c.cmd("event plain BACKGROUND_JOB CHANNEL_ANSWER"); got != "+OK event listener enabled plain" {
		t.Fatalf("event = %q", got)
	}
	const job = "11111111-2222-4333-8444-555555555555"
	if got := c.cmd("bgapi status\nJob-UUID: " + job); got != "+OK Job-UUID: "+job {
		t.Fatalf("bgapi reply = %q", got)
	}
	if body := c.job(job); !strings.HasPrefix(body, "UP 0 years") {
		t.Errorf("job body = %q", body)
	}
}

// A bgapi whose Job-UUID line follows an LF while eslgo ends it in CRLF is
// read by FreeSWITCH 1.10.12 as the command "status\nJob-UUID:" with
// argument X: its own job id, and a job that fails (recorded in
// testdata/freeswitch/framing.json). The simulator must answer the same, so
// that a client framing commands this way fails here as it does there.
func TestESLMixedLineEndsGetFreeSWITCHsAnswer(t *testing.T) {
	n := eslNode(t)
	c := dialESL(t, n)
	c.cmd("event plain BACKGROUND_JOB")
	const job = "21111111-2222-4333-8444-555555555555"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.conn.SendCommand(ctx, mixedCommand("bgapi status\nJob-UUID: "+job))
	if err != nil {
		t.Fatal(err)
	}
	other := r.GetHeader("Job-UUID")
	if other == job || r.GetReply() != "+OK Job-UUID: "+other || len(other) != 36 {
		t.Fatalf("bgapi reply %q, Job-UUID %q: want a job id of the node's own", r.GetReply(), other)
	}
	e := c.waitFor("BACKGROUND_JOB "+other, func(e *eslgo.Event) bool {
		return e.GetName() == "BACKGROUND_JOB" && e.GetHeader("Job-UUID") == other
	})
	if body := string(e.Body); body != "-ERR status\nJob-UUID: Command not found!\n" {
		t.Errorf("job body %q", body)
	}
	if cmd, arg := e.GetHeader("Job-Command"), e.GetHeader("Job-Command-Arg"); cmd != "status\nJob-UUID:" || arg != job {
		t.Errorf("job ran %q with %q", cmd, arg)
	}
}

func TestESLOriginateOutcomes(t *testing.T) {
	n := eslNode(t)
	n.SetSubscriber("2001", Behavior{Action: NoAnswer})
	n.SetSubscriber("2002", Behavior{Action: Busy})
	n.SetSubscriber("2003", Behavior{Action: Reject, Ring: 5 * time.Millisecond})
	n.SetSubscriber("2004", Behavior{Action: NoUserResponse})
	n.SetSubscriber("2005", Behavior{Action: NotRegistered})
	n.SetSubscriber("2006", Behavior{Action: Unallocated})
	n.SetSubscriber("2007", Behavior{Action: Fail, Cause: "NORMAL_TEMPORARY_FAILURE"})
	n.SetSubscriber("2008", Behavior{Action: Absent})
	c := dialESL(t, n)
	c.cmd("event plain ALL")
	cases := []struct{ number, want string }{
		{"2001", "-ERR NO_ANSWER\n"},
		{"2002", "-ERR USER_BUSY\n"},
		{"2003", "-ERR CALL_REJECTED\n"},
		{"2004", "-ERR NO_USER_RESPONSE\n"},
		{"2005", "-ERR USER_NOT_REGISTERED\n"},
		{"2006", "-ERR UNALLOCATED_NUMBER\n"},
		{"2007", "-ERR NORMAL_TEMPORARY_FAILURE\n"},
		{"2008", "-ERR SUBSCRIBER_ABSENT\n"},
	}
	for _, tc := range cases {
		job := uuid.New()
		uuid := uuid.New()
		c.cmd("bgapi originate {origination_uuid=" + uuid + ",originate_timeout=1}user/" + tc.number + "@example.com &park()\nJob-UUID: " + job)
		if got := c.job(job); got != tc.want {
			t.Errorf("%s: job = %q, want %q", tc.number, got, tc.want)
		}
		if tc.number == "2005" || tc.number == "2008" {
			if len(n.Channels()) != 0 {
				t.Errorf("%s made a channel", tc.number)
			}
			continue
		}
		hc := c.channelEvent("CHANNEL_HANGUP_COMPLETE", uuid)
		if want := strings.TrimSuffix(strings.TrimPrefix(tc.want, "-ERR "), "\n"); hc.GetHeader("Hangup-Cause") != want {
			t.Errorf("%s: hangup cause %q, want %q", tc.number, hc.GetHeader("Hangup-Cause"), want)
		}
	}
	// Answer, bridge, kill one leg: the other goes too.
	a, b := uuid.New(), uuid.New()
	for _, u := range []string{a, b} {
		if got := c.cmd("api originate {origination_uuid=" + u + "}sofia/gateway/gw1/3000 &park()"); got != "+OK "+u+"\n" {
			t.Fatalf("originate = %q", got)
		}
		c.channelEvent("CHANNEL_PARK", u)
	}
	if got := c.cmd("api uuid_bridge " + a + " " + b); got != "+OK "+b+"\n" {
		t.Fatalf("uuid_bridge = %q", got)
	}
	br := c.channelEvent("CHANNEL_BRIDGE", a)
	if br.GetHeader("Bridge-B-Unique-ID") != b || br.GetHeader("Other-Leg-Unique-ID") != b {
		t.Errorf("bridge headers: B=%q other=%q", br.GetHeader("Bridge-B-Unique-ID"), br.GetHeader("Other-Leg-Unique-ID"))
	}
	if got := c.cmd("api show channels as json"); !strings.HasPrefix(got, `{"row_count":2,"rows":[{"uuid":"`+a+`"`) {
		t.Errorf("show channels as json = %.80q", got)
	}
	if got := c.cmd("api uuid_kill " + a); got != "+OK\n" {
		t.Fatalf("uuid_kill = %q", got)
	}
	c.channelEvent("CHANNEL_DESTROY", b)
	if got := c.cmd("api uuid_kill " + b); got != "-ERR No such channel!\n" {
		t.Errorf("second uuid_kill = %q", got)
	}
	if got := c.cmd("api show channels"); got != "\n0 total.\n" {
		t.Errorf("show channels = %q", got)
	}
}

func TestESLBroadcastAndChat(t *testing.T) {
	n := eslNode(t)
	// The node is shared by the package's tests (and by reruns with
	// -count): only what this test adds counts.
	chats0, prompts0 := len(n.Chats()), len(n.Prompts())
	c := dialESL(t, n)
	c.cmd("event plain ALL")
	u := uuid.New()
	c.cmd("api originate {origination_uuid=" + u + "}user/1000 &park()")
	if got := c.cmd("api uuid_broadcast " + u + " /sounds/hold.wav aleg"); got != "+OK Message sent\n" {
		t.Fatalf("uuid_broadcast = %q", got)
	}
	stop := c.channelEvent("PLAYBACK_STOP", u)
	if stop.GetHeader("Playback-File-Path") != "/sounds/hold.wav" {
		t.Errorf("Playback-File-Path = %q", stop.GetHeader("Playback-File-Path"))
	}
	c.channelEvent("CHANNEL_EXECUTE_COMPLETE", u)
	if got := c.cmd("api chat sip|alice@example.com|1000@example.com|hello"); got != "Sent" {
		t.Errorf("chat = %q", got)
	}
	if ch := n.Chats()[chats0:]; len(ch) != 1 || ch[0].Body != "hello" {
		t.Errorf("chats = %+v", ch)
	}
	if got := c.cmd("api uuid_kill " + u); got != "+OK\n" {
		t.Errorf("uuid_kill = %q", got)
	}
	if p := n.Prompts()[prompts0:]; len(p) != 1 || p[0].UUID != u {
		t.Errorf("prompts = %+v", p)
	}
}
