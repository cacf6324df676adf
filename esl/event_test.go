package esl

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bgcall/freeswitch"
)

const fixtures = "../../shared/fixtures/freeswitch"

// rawFrame is one frame of a capture: outer headers and body.
type rawFrame struct {
	header textproto.MIMEHeader
	body   []byte
}

// readFrames splits a capture the way eslgo reads a socket.
func readFrames(t testing.TB, data []byte) []rawFrame {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(data))
	tp := textproto.NewReader(r)
	var out []rawFrame
	for {
		h, err := tp.ReadMIMEHeader()
		if err == io.EOF && len(h) == 0 {
			return out
		}
		if err != nil {
			t.Fatalf("frame %d: %v", len(out), err)
		}
		f := rawFrame{header: h}
		if cl := h.Get("Content-Length"); cl != "" {
			n, _ := strconv.Atoi(cl)
			f.body = make([]byte, n)
			if _, err := io.ReadFull(r, f.body); err != nil {
				t.Fatalf("frame %d body: %v", len(out), err)
			}
		}
		out = append(out, f)
	}
}

func fixtureEvents(t testing.TB, name string) []Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Skipf("fixtures not available: %v", err)
	}
	var evs []Event
	for _, f := range readFrames(t, data) {
		if f.header.Get("Content-Type") != "text/event-plain" {
			continue
		}
		ev, err := ParseEvent("fs1", f.body)
		if err != nil {
			t.Fatalf("%s: event %d: %v", name, len(evs), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestParseEventFixtures checks every captured event against its summary line
// (sequence, name, leg, cause) written independently when it was captured.
func TestParseEventFixtures(t *testing.T) {
	for _, c := range []string{"noanswer", "busy", "reject", "bridge", "broadcast", "chat"} {
		t.Run(c, func(t *testing.T) {
			evs := fixtureEvents(t, "events-"+c+".raw")
			summary, err := os.ReadFile(filepath.Join(fixtures, "events-"+c+".summary"))
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, l := range strings.Split(string(summary), "\n") {
				if strings.HasPrefix(l, "Event-Sequence=") {
					lines = append(lines, l)
				}
			}
			// The summary lists the events a controller cares about, in
			// capture order: walk both (a sequence can repeat: FreeSWITCH
			// delivers some MESSAGE events twice).
			pos := 0
			for i, line := range lines {
				fields := map[string]string{}
				for _, part := range strings.Split(strings.TrimSuffix(line, "  <-- NON-MONOTONIC"), " | ") {
					k, v, _ := strings.Cut(part, "=")
					fields[k] = v
				}
				for pos < len(evs) && strconv.FormatUint(evs[pos].Sequence, 10) != fields["Event-Sequence"] {
					pos++
				}
				if pos == len(evs) {
					t.Fatalf("summary line %d: no event with sequence %s in order", i, fields["Event-Sequence"])
				}
				ev := evs[pos]
				pos++
				if got := strconv.FormatUint(ev.Sequence, 10); got != fields["Event-Sequence"] {
					t.Errorf("event %d: sequence %s, summary %s", i, got, fields["Event-Sequence"])
				}
				if ev.Name != fields["Event-Name"] || ev.Header("event-name") != ev.Name {
					t.Errorf("event %d: name %q, summary %q", i, ev.Name, fields["Event-Name"])
				}
				if u := fields["Unique-ID"]; u != ev.UniqueID || ev.Header("Unique-ID") != u {
					t.Errorf("event %d: Unique-ID %q, summary %q", i, ev.UniqueID, u)
				}
				if hc := fields["Hangup-Cause"]; string(ev.HangupCause) != hc {
					t.Errorf("event %d: cause %q, summary %q", i, ev.HangupCause, hc)
				}
				if v := fields["variable_origination_uuid"]; v != ev.Var("origination_uuid") {
					t.Errorf("event %d: variable_origination_uuid %q, summary %q", i, ev.Var("origination_uuid"), v)
				}
				if as := fields["Answer-State"]; as != ev.AnswerState {
					t.Errorf("event %d: Answer-State %q, summary %q", i, ev.AnswerState, as)
				}
				if ev.CoreUUID == "" || ev.Time.Year() != 2026 || ev.Node != "fs1" {
					t.Errorf("event %d: core %q time %v node %q", i, ev.CoreUUID, ev.Time, ev.Node)
				}
				if ev.Name == freeswitch.EventBackgroundJob {
					if ev.JobUUID != fields["Job-UUID"] || ev.Body == "" || !strings.Contains(lines[i], "BODY='"+strings.TrimRight(ev.Body, "\n")+"'") {
						t.Errorf("event %d: job %q body %q, summary %s", i, ev.JobUUID, ev.Body, lines[i])
					}
				}
			}
		})
	}
}

func TestParseEventDecoding(t *testing.T) {
	payload := "Event-Name: CHANNEL_HANGUP\n" +
		"Core-UUID: 752c1dd4-064a-4bf0-b553-68b250ebe84c\n" +
		"Event-Sequence: 682\n" +
		"Event-Date-Timestamp: 1795911301090936\n" +
		"Unique-ID: 22222222-2222-2222-2222-222222222222\n" +
		"Other-Leg-Unique-ID: _undef_\n" +
		"Hangup-Cause: NO_ANSWER\n" +
		"Caller-Caller-ID-Name: Alice%20Smith%2C%20Sales\n" +
		"variable_bgcall_session: s%3A1%25%zz%4\n" +
		"variable_Mixed_Case: yes\n" +
		"Content-Length: 15\n\n" +
		"-ERR NO_ANSWER\n"
	ev, err := ParseEvent("n", []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want string }{
		{ev.Name, "CHANNEL_HANGUP"},
		{ev.UniqueID, "22222222-2222-2222-2222-222222222222"},
		{ev.OtherLegUniqueID, ""},
		{string(ev.HangupCause), "NO_ANSWER"},
		{ev.Header("Caller-Caller-ID-Name"), "Alice Smith, Sales"},
		{headerMap(&ev)["Caller-Caller-ID-Name"], "Alice Smith, Sales"},
		{ev.Var("bgcall_session"), "s:1%%zz%4"},
		{headerMap(&ev)["variable_bgcall_session"], "s:1%%zz%4"},
		{ev.Var("mixed_case"), "yes"},
		{ev.Var("Mixed_Case"), "yes"},
		{headerMap(&ev)["Core-UUID"], "752c1dd4-064a-4bf0-b553-68b250ebe84c"},
		{ev.Header("other-leg-unique-id"), ""},
		{ev.Header("Variable_Mixed_Case"), "yes"},
		{ev.Body, "-ERR NO_ANSWER\n"},
		{ev.Header("Content-Length"), ""},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %q, want %q", i, c.got, c.want)
		}
	}
	if ev.Sequence != 682 || !ev.Time.Equal(time.UnixMicro(1795911301090936)) {
		t.Errorf("sequence %d time %v", ev.Sequence, ev.Time)
	}

	bad := []string{
		"Core-UUID: x\n\n",                           // no Event-Name
		"Event-Name: X\nEvent-Sequence: -1\n\n",      // bad sequence
		"Event-Name: X\nContent-Length: 10\n\nshort", // short body
		"Event-Name: X\nContent-Length: zz\n\n",      // bad length
		"Event-Name X\n\n",                           // not a header line
		"Event-Name: X\n",                            // unterminated
	}
	for _, p := range bad {
		if _, err := ParseEvent("n", []byte(p)); err == nil {
			t.Errorf("ParseEvent(%q) accepted", p)
		}
	}
}

// headerMap is every header by name, the first of a repeated one.
func headerMap(ev *Event) map[string]string {
	m := map[string]string{}
	for k, v := range ev.Headers() {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return m
}

// encodePlain writes an event the way FreeSWITCH does, for round trips.
func encodePlain(ev Event) []byte {
	var b bytes.Buffer
	for k, v := range ev.Headers() {
		if v == "" {
			v = "_undef_"
		}
		fmt.Fprintf(&b, "%s: %s\n", k, urlEncode(v))
	}
	if ev.Body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(ev.Body), ev.Body)
	} else {
		b.WriteString("\n")
	}
	return b.Bytes()
}

func urlEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || strings.IndexByte("\r\n \"#%&+:;<=>?@[\\]^`{|}", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// FuzzParseEvent feeds arbitrary payloads to the event parser. It must never
// panic, and what it accepts must survive a FreeSWITCH-style re-encoding.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte("Event-Name: HEARTBEAT\nCore-UUID: x\nEvent-Sequence: 1\n\n"))
	f.Add([]byte("Event-Name: BACKGROUND_JOB\nJob-UUID: a\nContent-Length: 4\n\n+OK\n"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := ParseEvent("n", payload)
		if err != nil {
			return
		}
		if ev.Name == "" {
			t.Fatal("accepted an event without a name")
		}
		again, err := ParseEvent("n", encodePlain(ev))
		if err != nil {
			t.Fatalf("re-encoded event rejected: %v\n%q", err, encodePlain(ev))
		}
		if again.Name != ev.Name || again.Sequence != ev.Sequence || again.UniqueID != ev.UniqueID ||
			again.Body != ev.Body || len(headerMap(&again)) != len(headerMap(&ev)) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, again)
		}
		for k := range ev.Headers() {
			if again.Header(k) != ev.Header(k) {
				t.Fatalf("header %q: %q became %q", k, ev.Header(k), again.Header(k))
			}
		}
	})
}
