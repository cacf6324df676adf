package esl

import (
	"errors"
	"fmt"
	"iter"
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
	Node     string // the node's Name
	Name     string // Event-Name, or a synthetic name
	Subclass string
	CoreUUID string
	Sequence uint64
	Time     time.Time // Event-Date-Timestamp
	// Received is when this replica read the event off the socket (or made
	// it, for a synthetic one): the start of any reaction time, on this
	// machine's clock rather than FreeSWITCH's.
	Received                             time.Time
	UniqueID, OtherLegUniqueID           string
	ChannelState, CallState, AnswerState string
	HangupCause                          freeswitch.Cause
	JobUUID                              string
	Body                                 string

	// fields are the headers in wire order, values still URL-encoded:
	// substrings of one copy of the payload. A channel event has a hundred
	// headers or more and a consumer reads a handful, so decoding happens on
	// read, and an event costs two allocations however many headers it has.
	fields []field
}

type field struct{ name, value string }

// Header returns a header by name, in any letter case ("Unique-ID",
// "unique-id"). Values are URL-decoded; FreeSWITCH's "_undef_" reads as "".
// Should a name repeat, the first wins.
func (e *Event) Header(name string) string { return e.lookup("", name) }

// Var returns the channel variable name (header "variable_<name>").
func (e *Event) Var(name string) string { return e.lookup(freeswitch.VariablePrefix, name) }

// lookup finds the header prefix+name in any letter case without building
// the name: Var runs on every event the engine reads.
func (e *Event) lookup(prefix, name string) string {
	n := len(prefix) + len(name)
	for _, f := range e.fields {
		if len(f.name) == n && strings.EqualFold(f.name[:len(prefix)], prefix) && strings.EqualFold(f.name[len(prefix):], name) {
			return decodeValue(f.value)
		}
	}
	return ""
}

// Headers yields every header in the order FreeSWITCH sent them, decoded as
// Header decodes them (Content-Length, which framed the body, excepted).
func (e *Event) Headers() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, f := range e.fields {
			if !yield(f.name, decodeValue(f.value)) {
				return
			}
		}
	}
}

var errNoEventName = errors.New("event without Event-Name")

// ParseEvent parses a text/event-plain payload: URL-encoded "Name: value"
// lines, a blank line, and a body when the payload has its own Content-Length.
// FreeSWITCH spells every header the same way each time, so the headers the
// Event has fields for are matched in that spelling.
func ParseEvent(node string, payload []byte) (Event, error) {
	raw := string(payload)
	e := Event{Node: node, fields: make([]field, 0, strings.Count(raw, "\n"))}
	bodyLen, rest := -1, raw
	for {
		nl := strings.IndexByte(rest, '\n')
		if nl < 0 {
			return Event{}, errors.New("parse event headers: no blank line after the headers")
		}
		line := rest[:nl]
		rest = rest[nl+1:]
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return Event{}, fmt.Errorf("parse event headers: malformed line %q", line)
		}
		name, value := line[:colon], trimBlanks(line[colon+1:])
		if name == freeswitch.HeaderContentLength {
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return Event{}, fmt.Errorf("parse event: bad Content-Length %q", value)
			}
			bodyLen = n
			continue
		}
		e.fields = append(e.fields, field{name, value})
		if err := e.known(name, value); err != nil {
			return Event{}, err
		}
	}
	if bodyLen >= 0 {
		if bodyLen > len(rest) {
			return Event{}, fmt.Errorf("parse event body: %d bytes announced, %d sent", bodyLen, len(rest))
		}
		e.Body = rest[:bodyLen]
	}
	if e.Name == "" {
		return Event{}, errNoEventName
	}
	return e, nil
}

// trimBlanks trims spaces and tabs (strings.Trim builds a set per call).
func trimBlanks(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// known fills the Event field a header stands for; the first of a repeated
// header wins, as in Header.
func (e *Event) known(name, value string) error {
	var dst *string
	switch name {
	case freeswitch.HeaderEventName:
		dst = &e.Name
	case freeswitch.HeaderEventSubclass:
		dst = &e.Subclass
	case freeswitch.HeaderCoreUUID:
		dst = &e.CoreUUID
	case freeswitch.HeaderUniqueID:
		dst = &e.UniqueID
	case freeswitch.HeaderOtherLegUniqueID:
		dst = &e.OtherLegUniqueID
	case freeswitch.HeaderChannelState:
		dst = &e.ChannelState
	case freeswitch.HeaderChannelCallState:
		dst = &e.CallState
	case freeswitch.HeaderAnswerState:
		dst = &e.AnswerState
	case freeswitch.HeaderJobUUID:
		dst = &e.JobUUID
	case freeswitch.HeaderHangupCause:
		if e.HangupCause == "" {
			e.HangupCause = freeswitch.ParseCause(decodeValue(value))
		}
		return nil
	case freeswitch.HeaderEventSequence:
		if e.Sequence != 0 {
			return nil
		}
		n, err := strconv.ParseUint(decodeValue(value), 10, 64)
		if err != nil {
			return fmt.Errorf("event: bad Event-Sequence %q", value)
		}
		e.Sequence = n
		return nil
	case freeswitch.HeaderEventTimestamp:
		if us, err := strconv.ParseInt(decodeValue(value), 10, 64); err == nil && e.Time.IsZero() {
			e.Time = time.UnixMicro(us)
		}
		return nil
	default:
		return nil
	}
	if *dst == "" {
		*dst = decodeValue(value)
	}
	return nil
}

// decodeValue is a header value as consumers read it.
func decodeValue(v string) string {
	if v == "_undef_" {
		return ""
	}
	return urlDecode(v)
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
