package esl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

func TestReadFrame(t *testing.T) {
	stream := "\n" + // stray line end between frames
		"Content-Type: auth/request\n\n" +
		"Content-Type: api/response\nContent-Length: 5\n\n+OK\n\n" +
		"Content-Length: 41\nContent-Type: text/event-plain\n\nEvent-Name: HEARTBEAT\nEvent-Sequence: 7\n\n" +
		"Content-Type: command/reply\r\nReply-Text: -ERR invalid\r\n\r\n"
	r := bufio.NewReader(strings.NewReader(stream))
	want := []struct{ ctype, reply, body string }{
		{"auth/request", "", ""},
		{"api/response", "", "+OK\n\n"},
		{"text/event-plain", "", "Event-Name: HEARTBEAT\nEvent-Sequence: 7\n\n"},
		{"command/reply", "-ERR invalid", ""},
	}
	for i, w := range want {
		f, err := readFrame(r)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if f.contentType != w.ctype || f.replyText != w.reply || string(f.raw[f.bodyStart:]) != w.body {
			t.Errorf("frame %d: %q %q body %q", i, f.contentType, f.replyText, f.raw[f.bodyStart:])
		}
	}
	if _, err := readFrame(r); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}

	for _, cut := range []string{
		"Content-Type: api/res",                               // inside a header
		"Content-Type: api/response\nContent-Length: 5\n",     // before the blank line
		"Content-Type: api/response\nContent-Length: 5\n\n+O", // inside the body
	} {
		if _, err := readFrame(bufio.NewReader(strings.NewReader(cut))); !errors.Is(err, errMidFrame) {
			t.Errorf("cut %q: %v, want errMidFrame", cut, err)
		}
	}
	if _, err := readFrame(bufio.NewReader(strings.NewReader("Content-Length: -1\n\n"))); err == nil {
		t.Error("negative Content-Length accepted")
	}
	if _, err := readFrame(bufio.NewReader(strings.NewReader("Content-Length: 999999999999\n\n"))); err == nil {
		t.Error("huge Content-Length accepted")
	}
}

// TestPumpDownFilters checks what the relay lets through to eslgo, and
// that it keeps events (in wire order, job results aside) for itself.
func TestPumpDownFilters(t *testing.T) {
	p, err := NewPool([]Node{{Name: "n", Addr: "x:1"}}, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	n := p.nodes[0]
	c := &conn{n: n, gen: 1, events: true, dead: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	job := n.jobs.add("job-1")
	event := func(body string) string {
		return "Content-Length: " + strconv.Itoa(len(body)) + "\nContent-Type: text/event-plain\n\n" + body
	}
	in := "Content-Type: auth/request\n\n" +
		"Content-Type: command/reply\nReply-Text: +OK accepted\n\n" +
		event("Event-Name: CHANNEL_CREATE\nEvent-Sequence: 9\nUnique-ID: u1\n\n") +
		event("Event-Name: BACKGROUND_JOB\nEvent-Sequence: 8\nJob-UUID: job-1\nContent-Length: 4\n\n+OK\n") +
		event("Event-Name HEARTBEAT\n\n") + // does not parse: dropped
		event("Event-Name: CHANNEL_ANSWER\nEvent-Sequence: 7\nUnique-ID: u1\n\n") +
		"Content-Type: log/data\nContent-Length: 3\n\nhi\n" +
		"Content-Type: auth/request\n\n" +
		"Content-Type: api/response\nContent-Length: 4\n\ntrue" +
		"Content-Type: text/disconnect-notice\nContent-Length: 3\n\nbye" +
		"Content-Type: api/response\nContent-Length: 4\n\nnope"
	var out bytes.Buffer
	c.pumpDown(strings.NewReader(in), &out)
	want := "Content-Type: auth/request\n\n" +
		"Content-Type: command/reply\nReply-Text: +OK accepted\n\n" +
		"Content-Type: api/response\nContent-Length: 4\n\ntrue"
	if out.String() != want {
		t.Errorf("relayed %q\nwant    %q", out.String(), want)
	}
	if err := c.failed(); err == nil || !strings.Contains(err.Error(), "disconnect notice") {
		t.Errorf("failure = %v", err)
	}
	if c.authRefused.Load() {
		t.Error("auth reported refused")
	}
	got := drain(n.queue)
	if len(got) != 2 || got[0].Name != "CHANNEL_CREATE" || got[1].Name != "CHANNEL_ANSWER" || got[1].UniqueID != "u1" || got[0].Node != "n" {
		t.Errorf("queued %+v, want CHANNEL_CREATE then CHANNEL_ANSWER of u1", got)
	}
	select {
	case ev := <-job:
		if ev.Body != "+OK\n" {
			t.Errorf("job result body %q", ev.Body)
		}
	default:
		t.Error("job result not handed to its waiter")
	}
}

func TestVerb(t *testing.T) {
	for in, want := range map[string]string{
		"api uuid_kill aaaa NORMAL_CLEARING":  "api uuid_kill",
		"bgapi originate {x=1}user/1 &park()": "bgapi originate",
		"bgapi status\nJob-UUID: x":           "bgapi status",
		"event plain CHANNEL_CREATE":          "event",
		"uuid_setvar a k 0301234":             "uuid_setvar",
		"":                                    "",
	} {
		if got := verb(in); got != want {
			t.Errorf("verb(%q) = %q, want %q", in, got, want)
		}
	}
}
