package fssim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fixtures = "../../shared/fixtures/freeswitch"

// captureFrames splits a capture into frames.
func captureFrames(t *testing.T, name string) []rawFrame {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Skipf("captures not available: %v", err)
	}
	c := &rawClient{t: t, r: bufioReader(data)}
	var out []rawFrame
	for {
		f, err := c.readFrameFrom()
		if err != nil {
			return out
		}
		out = append(out, f)
	}
}

// parsePlain splits an event-plain payload into ordered headers and body,
// with values still encoded.
func parsePlain(payload string) ([]header, string) {
	head, body, _ := strings.Cut(payload, "\n\n")
	var hs []header
	for _, l := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(l, ": ")
		hs = append(hs, header{k, v})
	}
	// A body is announced by a last Content-Length header.
	if n := len(hs); n > 0 && hs[n-1].name == "Content-Length" {
		hs = hs[:n-1]
	}
	return hs, body
}

// TestSerializeMatchesCaptures re-serializes every captured event from its
// decoded headers and requires the very same bytes: URL encoding, _undef_,
// body framing and the outer Content-Length/Content-Type frame.
func TestSerializeMatchesCaptures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "events-*.raw"))
	if len(files) == 0 {
		t.Skip("captures not available")
	}
	count := 0
	for _, file := range files {
		for _, f := range captureFrames(t, filepath.Base(file)) {
			if f.ctype() != "text/event-plain" {
				continue
			}
			hs, body := parsePlain(f.body)
			e := &event{}
			for _, h := range hs {
				v := urlDecode(h.value)
				if h.value == "_undef_" {
					v = ""
				}
				e.add(h.name, v)
			}
			if body != "" {
				e.body, e.hasBody = body, true
			}
			got := eventFrame("text/event-plain", e.serializePlain())
			if !bytes.Equal(got, f.raw) {
				t.Fatalf("%s: re-serialized event differs:\n got %q\nwant %q", file, got, f.raw)
			}
			count++
		}
	}
	if count < 400 {
		t.Fatalf("only %d captured events checked", count)
	}
}

func TestURLEncode(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-29 00:13:18":              "2026-11-29%2000%3A13%3A18",
		"fd00::2":                          "fd00%3A%3A2",
		"tone_stream://%(1000,0,440)":      "tone_stream%3A//%25(1000,0,440)",
		"{a=1,b=2}user/1000@x &park()":     "%7Ba%3D1,b%3D2%7Duser/1000%40x%20%26park()",
		"already%20encoded":                "already%20encoded",
		"caf\xc3\xa9\r\n\"#&+;<>?[\\]^`|}": "caf%C3%A9%0D%0A%22%23%26%2B%3B%3C%3E%3F%5B%5C%5D%5E%60%7C%7D",
		"":                                 "",
	} {
		if got := urlEncode(in); got != want {
			t.Errorf("urlEncode(%q) = %q, want %q", in, got, want)
		}
	}
	e := &event{}
	e.add("Empty", "")
	if got := string(e.serializePlain()); got != "Empty: _undef_\n\n" {
		t.Errorf("empty value serialized %q", got)
	}
}

// FuzzURLEncode holds the run-copying encoder to a byte-at-a-time reading
// of switch_url_encode.
func FuzzURLEncode(f *testing.F) {
	for _, s := range []string{"", "plain", "a b:c", "%", "%2", "%20", "%2g", "x%41%", "caf\xc3\xa9\r\n", "100%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want []byte
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
				want = append(want, c)
			case c < ' ' || c > '~' || strings.IndexByte(urlUnsafe, c) >= 0:
				want = append(want, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			default:
				want = append(want, c)
			}
		}
		if got := appendURLEncoded([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendURLEncoded(%q) = %q, want x%q", s, got, want)
		}
		if got := urlEncode(s); got != string(want) {
			t.Errorf("urlEncode(%q) = %q, want %q", s, got, want)
		}
	})
}

// FuzzJSONString holds the run-copying JSON quoting to a byte-at-a-time
// reading of cJSON's printer.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c/d\x01é", "\b\f\n\r\t\x7f", "\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := []byte{'"'}
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '"' || c == '\\':
				want = append(want, '\\', c)
			case c == '\b':
				want = append(want, `\b`...)
			case c == '\f':
				want = append(want, `\f`...)
			case c == '\n':
				want = append(want, `\n`...)
			case c == '\r':
				want = append(want, `\r`...)
			case c == '\t':
				want = append(want, `\t`...)
			case c < ' ':
				want = append(want, fmt.Sprintf(`\u%04x`, c)...)
			default:
				want = append(want, c)
			}
		}
		want = append(want, '"')
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendJSONString(%q) = %s, want x%s", s, got, want)
		}
	})
}

// FuzzXMLEscape holds appendXMLEscaped to the XML escapes of
// switch_event_xmlize's body.
func FuzzXMLEscape(f *testing.F) {
	for _, s := range []string{"", "a<b>&\"c\"", "&amp;", "plain text\n"} {
		f.Add(s)
	}
	escaper := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&quot;")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendXMLEscaped([]byte("x"), s)), "x"+escaper.Replace(s); got != want {
			t.Errorf("appendXMLEscaped(%q) = %q, want %q", s, got, want)
		}
	})
}

func TestJSONEvent(t *testing.T) {
	e := &event{}
	e.add("Event-Name", "BACKGROUND_JOB")
	e.add("Job-Command-Arg", "a\"b\\c/d\x01é")
	e.body, e.hasBody = "+OK x\n", true
	want := `{"Event-Name":"BACKGROUND_JOB","Job-Command-Arg":"a\"b\\c/d\u0001é","Content-Length":"6","_body":"+OK x\n"}`
	if got := string(e.serializeJSON()); got != want {
		t.Errorf("json event\n got %s\nwant %s", got, want)
	}
}

// headerNames lists an event's header names, variables left out (their set
// depends on the endpoint: loopback in the captures, SIP here).
func headerNames(payload string) []string {
	hs, _ := parsePlain(payload)
	var out []string
	for _, h := range hs {
		if !strings.HasPrefix(h.name, "variable_") {
			out = append(out, h.name)
		}
	}
	return out
}

// captureEvent finds the first event in a capture named name on a channel
// whose name ends in "-a" (the leg the controller owns), or any event when
// it is not a channel event.
func captureEvent(t *testing.T, file, name string, match func(map[string]string) bool) rawFrame {
	t.Helper()
	for _, f := range captureFrames(t, file) {
		if f.ctype() != "text/event-plain" {
			continue
		}
		e := f.event()
		if e["Event-Name"] != name {
			continue
		}
		if cn, ok := e["Channel-Name"]; ok && !strings.HasSuffix(cn, "-a") {
			continue
		}
		if match == nil || match(e) {
			return f
		}
	}
	t.Fatalf("%s: no %s event", file, name)
	return rawFrame{}
}

// TestEventLayoutsMatchCaptures drives the same calls as the captures
// (answer, bridge, kill, broadcast, no answer, busy, chat) and requires
// every event to carry the captured headers in the captured order.
func TestEventLayoutsMatchCaptures(t *testing.T) {
	opts := fastOptions()
	opts.Heartbeat = 30 * time.Millisecond
	n := StartT(t, opts)
	n.SetSubscriber("noanswer", Behavior{Action: NoAnswer})
	n.SetSubscriber("busy", Behavior{Action: Busy})
	c := authedRaw(t, n)
	var ours []rawFrame
	tap := &frameTap{frames: &ours}
	c.tap = tap
	c.reply("event plain ALL")
	const a, b = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"
	c.reply("bgapi originate {origination_uuid=" + a + ",originate_timeout=10}loopback/answer-1000/default &park()")
	c.reply("bgapi originate {origination_uuid=" + b + ",originate_timeout=10}loopback/answer-1500/default &park()")
	c.waitEvent("CHANNEL_PARK", a)
	c.waitEvent("CHANNEL_PARK", b)
	c.reply("api uuid_broadcast " + a + " tone_stream://%(1000,0,440) aleg")
	c.waitEvent("CHANNEL_EXECUTE_COMPLETE", a)
	c.reply("api uuid_bridge " + a + " " + b)
	c.reply("api uuid_kill " + a + " NORMAL_CLEARING")
	c.waitEvent("CHANNEL_DESTROY", b)
	c.reply("bgapi originate {origination_uuid=22222222-2222-2222-2222-222222222222,originate_timeout=1}loopback/noanswer/default &park()")
	c.waitEvent("CHANNEL_DESTROY", "22222222-2222-2222-2222-222222222222")
	c.reply("api chat event|alice@127.0.0.1|bob@127.0.0.1|hello via event proto|text/plain")
	c.waitEvent("MESSAGE", "")
	c.waitEvent("HEARTBEAT", "")

	find := func(name string, match func(map[string]string) bool) rawFrame {
		for _, f := range ours {
			if f.ctype() != "text/event-plain" {
				continue
			}
			if e := f.event(); e["Event-Name"] == name && (match == nil || match(e)) {
				return f
			}
		}
		t.Fatalf("simulator sent no %s event", name)
		return rawFrame{}
	}
	uuidIs := func(u string) func(map[string]string) bool {
		return func(e map[string]string) bool { return e["Unique-ID"] == u }
	}
	app := func(u, name string) func(map[string]string) bool {
		return func(e map[string]string) bool { return e["Unique-ID"] == u && e["Application"] == name }
	}
	const na = "22222222-2222-2222-2222-222222222222"
	for _, tc := range []struct {
		file, name string
		capMatch   func(map[string]string) bool
		ourMatch   func(map[string]string) bool
	}{
		{"events-noanswer.raw", "CHANNEL_UUID", nil, uuidIs(na)},
		{"events-noanswer.raw", "CHANNEL_OUTGOING", nil, uuidIs(na)},
		{"events-noanswer.raw", "CHANNEL_STATE", nil, uuidIs(na)},
		{"events-noanswer.raw", "CHANNEL_CREATE", nil, uuidIs(na)},
		{"events-noanswer.raw", "CHANNEL_ORIGINATE", nil, uuidIs(na)},
		{"events-noanswer.raw", "CHANNEL_PROGRESS", nil, uuidIs(na)},
		{"events-noanswer.raw", "CHANNEL_CALLSTATE", nil, uuidIs(na)},
		{"events-noanswer.raw", "CHANNEL_HANGUP", nil, uuidIs(na)},
		{"events-noanswer.raw", "CHANNEL_HANGUP_COMPLETE", nil, uuidIs(na)},
		{"events-noanswer.raw", "CHANNEL_DESTROY", nil, uuidIs(na)},
		{"events-noanswer.raw", "BACKGROUND_JOB", nil, func(e map[string]string) bool { return strings.Contains(e["_body"], "NO_ANSWER") }},
		{"events-noanswer.raw", "API", nil, func(e map[string]string) bool { return e["API-Command"] == "originate" }},
		{"events-bridge.raw", "CHANNEL_ANSWER", nil, uuidIs(a)},
		{"events-bridge.raw", "CALL_UPDATE", nil, uuidIs(a)},
		{"events-bridge.raw", "CHANNEL_EXECUTE", nil, app(a, "park")},
		{"events-bridge.raw", "CHANNEL_PARK", nil, uuidIs(a)},
		{"events-bridge.raw", "CHANNEL_UNPARK", nil, uuidIs(a)},
		{"events-bridge.raw", "CHANNEL_EXECUTE_COMPLETE", func(e map[string]string) bool { return e["Application"] == "park" }, app(a, "park")},
		{"events-bridge.raw", "CHANNEL_EXECUTE", func(e map[string]string) bool { return e["Application"] == "uuid_bridge" }, app(a, "uuid_bridge")},
		{"events-bridge.raw", "CHANNEL_BRIDGE", nil, nil},
		{"events-bridge.raw", "CHANNEL_UNBRIDGE", nil, nil},
		{"events-bridge.raw", "CHANNEL_HANGUP", nil, uuidIs(a)},
		{"events-bridge.raw", "CHANNEL_HANGUP_COMPLETE", nil, uuidIs(a)},
		{"events-bridge.raw", "HEARTBEAT", nil, nil},
		{"events-broadcast.raw", "PLAYBACK_START", nil, nil},
		{"events-broadcast.raw", "PLAYBACK_STOP", nil, nil},
		{"events-broadcast.raw", "CHANNEL_EXECUTE", func(e map[string]string) bool { return e["Application"] == "playback" }, app(a, "playback")},
		{"events-broadcast.raw", "CHANNEL_EXECUTE_COMPLETE", func(e map[string]string) bool { return e["Application"] == "playback" }, app(a, "playback")},
		{"events-chat.raw", "MESSAGE", func(e map[string]string) bool { return e["dest_proto"] == "event" }, nil},
	} {
		want := headerNames(captureEvent(t, tc.file, tc.name, tc.capMatch).body)
		got := headerNames(find(tc.name, tc.ourMatch).body)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s %s headers:\n got %v\nwant %v", tc.file, tc.name, got, want)
		}
	}
}

type frameTap struct {
	frames *[]rawFrame
}

// Write collects whole frames (readFrame writes one frame per call).
func (ft *frameTap) Write(p []byte) (int, error) {
	c := &rawClient{r: bufioReader(p)}
	if f, err := c.readFrameFrom(); err == nil {
		*ft.frames = append(*ft.frames, f)
	}
	return len(p), nil
}
