package fssim

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// acceptController listens where the socket application connects and
// returns the address and a function that takes the next connection.
func acceptController(t *testing.T) (string, func() *rawClient) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), func() *rawClient {
		t.Helper()
		_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		nc, err := ln.Accept()
		if err != nil {
			t.Fatalf("the socket application did not connect: %v", err)
		}
		t.Cleanup(func() { nc.Close() })
		return &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
	}
}

// replyHeaders reads a command/reply frame's headers in order, decoded.
func replyHeaders(f rawFrame) ([]string, map[string]string) {
	var order []string
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(f.raw), "\n\n"), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		order = append(order, k)
		out[k] = urlDecode(v)
	}
	return order, out
}

func TestFailedCallGoesToTheSocket(t *testing.T) {
	n := StartT(t, fastOptions())
	n.SetSubscriber("1002", Behavior{Action: Busy, Ring: 10 * time.Millisecond})
	watcher := authedRaw(t, n)
	watcher.reply("event plain ALL")
	addr, accept := acceptController(t)

	a, err := n.Call(CallOptions{From: "1001", To: "1002", Socket: addr, DTMF: "1"})
	if err != nil {
		t.Fatal(err)
	}
	ctl := accept()

	// The B leg fails first, with the SIP status behind its cause.
	var b map[string]string
	for b == nil {
		e := watcher.waitEvent("CHANNEL_HANGUP_COMPLETE", "")
		if e["Unique-ID"] != a {
			b = e
		}
	}
	for k, want := range map[string]string{"Hangup-Cause": "USER_BUSY", "Call-Direction": "outbound",
		"Caller-Caller-ID-Number": "1001", "Caller-Destination-Number": "1002", "variable_sip_term_status": "486"} {
		if b[k] != want {
			t.Errorf("B leg hangup %s = %q, want %q", k, b[k], want)
		}
	}

	// connect: the channel's data, then the reply headers, URL-encoded.
	f := ctl.reply("connect")
	order, h := replyHeaders(f)
	if !strings.Contains(string(f.raw), "\nReply-Text: %2BOK%0A\n") {
		t.Errorf("Reply-Text is not encoded as FreeSWITCH sends it:\n%s", f.raw)
	}
	if order[0] != "Event-Name" || order[len(order)-1] != "Control" {
		t.Errorf("connect reply starts with %s and ends with %s", order[0], order[len(order)-1])
	}
	for k, want := range map[string]string{"Event-Name": "CHANNEL_DATA", "Content-Type": "command/reply",
		"Unique-ID": a, "Call-Direction": "inbound", "Channel-Caller-ID-Number": "1001",
		"Channel-Destination-Number": "1002", "Caller-Caller-ID-Number": "1001",
		"variable_originate_disposition": "USER_BUSY", "variable_DIALSTATUS": "BUSY",
		"variable_current_application": "socket", "Socket-Mode": "async", "Control": "full"} {
		if h[k] != want {
			t.Errorf("connect reply %s = %q, want %q", k, h[k], want)
		}
	}

	if f := ctl.reply("myevents"); f.headers["Reply-Text"] != "+OK Events Enabled" {
		t.Errorf("myevents: %q", f.raw)
	}
	if f := ctl.reply("linger"); f.headers["Reply-Text"] != "+OK will linger" {
		t.Errorf("linger: %q", f.raw)
	}
	exec := func(app, arg, id string) map[string]string {
		t.Helper()
		if f := ctl.reply("sendmsg\ncall-command: execute\nexecute-app-name: " + app +
			"\nexecute-app-arg: " + arg + "\nEvent-UUID: " + id); f.headers["Reply-Text"] != "+OK" {
			t.Fatalf("sendmsg %s: %q", app, f.raw)
		}
		for {
			e := ctl.waitEvent("CHANNEL_EXECUTE_COMPLETE", a)
			if e["Application-UUID"] == id {
				return e
			}
		}
	}
	exec("answer", "", "11111111-0000-4000-8000-000000000001")
	e := exec("play_and_get_digits", `1 1 1 2000 # ivr/offer.wav silence_stream://250 choice \d 2000`,
		"11111111-0000-4000-8000-000000000002")
	if e["variable_choice"] != "1" || e["Answer-State"] != "answered" {
		t.Errorf("digits read: choice=%q answer state %q", e["variable_choice"], e["Answer-State"])
	}
	for _, ev := range ctl.seen {
		if ev["Unique-ID"] != a {
			t.Errorf("myevents delivered %s of another channel %s", ev["Event-Name"], ev["Unique-ID"])
		}
	}

	ctl.send("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
	var notice rawFrame
	for {
		f := ctl.next()
		if f.ctype() == "text/disconnect-notice" {
			notice = f
			break
		}
	}
	if notice.headers["Controlled-Session-UUID"] != a || notice.headers["Content-Disposition"] != "linger" {
		t.Errorf("disconnect notice %q", notice.raw)
	}
	if f := ctl.reply("exit"); f.headers["Reply-Text"] != "+OK bye" {
		t.Errorf("exit: %q", f.raw)
	}
	n.RequireIdle(t)
}

func TestCallerCancelWhileBRings(t *testing.T) {
	n := StartT(t, fastOptions())
	n.SetSubscriber("1002", Behavior{Action: NoAnswer})
	watcher := authedRaw(t, n)
	watcher.reply("event plain CHANNEL_HANGUP_COMPLETE")
	a, err := n.Call(CallOptions{From: "1001", To: "1002", HangupAfter: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var aEv, bEv map[string]string
	for aEv == nil || bEv == nil {
		e := watcher.waitEvent("CHANNEL_HANGUP_COMPLETE", "")
		if e["Unique-ID"] == a {
			aEv = e
		} else {
			bEv = e
		}
	}
	if bEv["Hangup-Cause"] != "ORIGINATOR_CANCEL" || bEv["variable_sip_term_status"] != "487" {
		t.Errorf("B leg: cause %q, sip status %q", bEv["Hangup-Cause"], bEv["variable_sip_term_status"])
	}
	if aEv["variable_originate_disposition"] != "ORIGINATOR_CANCEL" || aEv["Caller-Channel-Progress-Time"] == "0" ||
		aEv["Call-Direction"] != "inbound" || aEv["Caller-Destination-Number"] != "1002" {
		t.Errorf("caller leg: disposition %q, progress %q, direction %q, destination %q",
			aEv["variable_originate_disposition"], aEv["Caller-Channel-Progress-Time"], aEv["Call-Direction"], aEv["Caller-Destination-Number"])
	}
}

func TestAnsweredCallEndsWithTheBridge(t *testing.T) {
	n := StartT(t, fastOptions())
	n.SetSubscriber("1002", Behavior{Action: Answer, Ring: 10 * time.Millisecond, Talk: 40 * time.Millisecond})
	watcher := authedRaw(t, n)
	watcher.reply("event plain CHANNEL_HANGUP_COMPLETE CHANNEL_BRIDGE")
	addr, _ := acceptController(t)
	a, err := n.Call(CallOptions{From: "1001", To: "1002", Socket: addr})
	if err != nil {
		t.Fatal(err)
	}
	watcher.waitEvent("CHANNEL_BRIDGE", a)
	e := watcher.waitEvent("CHANNEL_HANGUP_COMPLETE", a)
	if e["variable_originate_disposition"] != "SUCCESS" || e["variable_last_bridge_hangup_cause"] != "NORMAL_CLEARING" {
		t.Errorf("caller leg after an answered call: disposition %q, last bridge cause %q",
			e["variable_originate_disposition"], e["variable_last_bridge_hangup_cause"])
	}
	if e["variable_socket_host"] != "" {
		t.Error("an answered call reached the socket")
	}
	n.RequireIdle(t)
}
