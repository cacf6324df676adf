package esl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"bgcall/freeswitch"
)

// Synthetic events, never sent by FreeSWITCH (their names cannot collide: no
// FreeSWITCH event name contains "::" without being CUSTOM).
const (
	EventNodeUp      = "BGCALL::NODE_UP"      // connected, subscribed and resynced; CoreUUID set
	EventNodeDown    = "BGCALL::NODE_DOWN"    // connection lost; channels unknown until NODE_UP
	EventChannelGone = "BGCALL::CHANNEL_GONE" // a channel tracked before a loss no longer exists; UniqueID set
)

// Event is one FreeSWITCH event, or one of the synthetic events above.
type Event struct {
	Node                                 string // the node's Name
	Name                                 string // Event-Name, or a synthetic name
	Subclass                             string
	CoreUUID                             string
	Sequence                             uint64
	Time                                 time.Time // Event-Date-Timestamp
	UniqueID, OtherLegUniqueID           string
	ChannelState, CallState, AnswerState string
	HangupCause                          freeswitch.Cause
	JobUUID                              string
	Body                                 string
	Headers                              map[string]string // decoded; keys as FreeSWITCH spells them (see Header)
}

// Header returns a header by name, in any letter case ("Unique-ID",
// "unique-id"). Values are URL-decoded; FreeSWITCH's "_undef_" reads as "".
func (e *Event) Header(name string) string { return e.Headers[headerKey(name)] }

// Var returns the channel variable name (header "variable_<name>").
func (e *Event) Var(name string) string { return e.Headers[headerKey(freeswitch.VariablePrefix+name)] }

// fsSpelling maps Go's canonical MIME spelling back to FreeSWITCH's for the
// headers whose spelling differs, so Headers reads like a capture.
var fsSpelling = func() map[string]string {
	names := []string{
		"Core-UUID", "Unique-ID", "Other-Leg-Unique-ID", "Job-UUID", "Job-Owner-UUID",
		"Channel-Call-UUID", "Bridge-A-Unique-ID", "Bridge-B-Unique-ID", "Application-UUID",
		"FreeSWITCH-Hostname", "FreeSWITCH-Switchname", "FreeSWITCH-IPv4", "FreeSWITCH-IPv6",
		"Caller-Unique-ID", "Other-Leg-Caller-ID-Name", "Other-Leg-Caller-ID-Number",
		"Caller-Caller-ID-Name", "Caller-Caller-ID-Number", "Caller-Orig-Caller-ID-Name",
		"Caller-Orig-Caller-ID-Number", "Caller-Callee-ID-Name", "Caller-Callee-ID-Number",
		"Caller-ANI", "Caller-RDNIS", "Caller-Network-Addr", "Channel-HIT-Dialplan",
		"Old-Unique-ID", "DTMF-Digit", "DTMF-Duration", "DTMF-Source", "Event-UUID",
		"Channel-Read-Codec-Name", "Session-Count", "Max-Sessions", "FreeSWITCH-Version",
		"Up-Time", "Idle-CPU", "Heartbeat-Interval", "Session-Per-Sec", "Session-Since-Startup",
		"Session-Peak-Max", "Session-Peak-FiveMin", "Session-Per-Sec-Max", "Session-Per-Sec-FiveMin",
		"Session-Per-Sec-Last", "Event-Info", "Uptime-msec", "Other-Type", "API-Command",
		"API-Command-Argument", "Presence-Call-Direction",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		if c := textproto.CanonicalMIMEHeaderKey(n); c != n {
			m[c] = n
		}
	}
	return m
}()

// headerKey is the key under which Event.Headers stores a header: Go's
// canonical MIME form (eslgo hands headers over in it, and lookups must not
// depend on letter case), then FreeSWITCH's spelling where known, and
// "variable_" kept lower-case as FreeSWITCH sends it.
func headerKey(name string) string {
	return storedKey(textproto.CanonicalMIMEHeaderKey(name))
}

// storedKey is headerKey for a name already in canonical MIME form, as
// eslgo's parsed headers are: canonicalising again cost half of decodeEvent.
func storedKey(c string) string {
	if rest, ok := strings.CutPrefix(c, "Variable_"); ok {
		return freeswitch.VariablePrefix + rest
	}
	if fs, ok := fsSpelling[c]; ok {
		return fs
	}
	return c
}

// ParseEvent parses a text/event-plain payload: URL-encoded "Name: value"
// lines, a blank line, and a body when the payload has its own Content-Length.
// It reads frames exactly as eslgo does before decodeEvent sees them.
func ParseEvent(node string, payload []byte) (Event, error) {
	r := bufio.NewReader(bytes.NewReader(payload))
	h, err := textproto.NewReader(r).ReadMIMEHeader()
	if err != nil {
		return Event{}, fmt.Errorf("parse event headers: %w", err)
	}
	var body []byte
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > len(payload) {
			return Event{}, fmt.Errorf("parse event: bad Content-Length %q", cl)
		}
		body = make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return Event{}, fmt.Errorf("parse event body: %w", err)
		}
	}
	return decodeEvent(node, h, body)
}

var errNoEventName = errors.New("event without Event-Name")

// decodeEvent turns parsed headers and body into an Event.
func decodeEvent(node string, h textproto.MIMEHeader, body []byte) (Event, error) {
	e := Event{Node: node, Headers: make(map[string]string, len(h)), Body: string(body)}
	for k, vs := range h {
		if len(vs) == 0 || k == "Content-Length" {
			continue
		}
		v := urlDecode(vs[0])
		if v == "_undef_" {
			v = ""
		}
		e.Headers[storedKey(k)] = v
	}
	e.Name = e.Headers[freeswitch.HeaderEventName]
	if e.Name == "" {
		return Event{}, errNoEventName
	}
	e.Subclass = e.Headers[freeswitch.HeaderEventSubclass]
	e.CoreUUID = e.Headers[freeswitch.HeaderCoreUUID]
	if s := e.Headers[freeswitch.HeaderEventSequence]; s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Event{}, fmt.Errorf("event %s: bad Event-Sequence %q", e.Name, s)
		}
		e.Sequence = n
	}
	if s := e.Headers[freeswitch.HeaderEventTimestamp]; s != "" {
		if us, err := strconv.ParseInt(s, 10, 64); err == nil {
			e.Time = time.UnixMicro(us)
		}
	}
	e.UniqueID = e.Headers[freeswitch.HeaderUniqueID]
	e.OtherLegUniqueID = e.Headers[freeswitch.HeaderOtherLegUniqueID]
	e.ChannelState = e.Headers[freeswitch.HeaderChannelState]
	e.CallState = e.Headers[freeswitch.HeaderChannelCallState]
	e.AnswerState = e.Headers[freeswitch.HeaderAnswerState]
	e.HangupCause = freeswitch.ParseCause(e.Headers[freeswitch.HeaderHangupCause])
	e.JobUUID = e.Headers[freeswitch.HeaderJobUUID]
	return e, nil
}

// urlDecode undoes FreeSWITCH's header encoding. Unlike url.PathUnescape it
// never fails: a '%' not followed by two hex digits is kept as it is, as
// FreeSWITCH's own decoder does.
func urlDecode(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && unhex(s[i+1]) >= 0 && unhex(s[i+2]) >= 0 {
			b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
