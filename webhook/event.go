// Package webhook tells HTTP endpoints about the life of background calls,
// as Twilio's status callbacks do: created, each attempt started and ended
// (with its cause), B answered, A ringing, bridged, finished (with the
// outcome). Each event is a signed JSON POST with an idempotency key.
//
// Events are not sent from the session engine: Hooks.Observe, the engine's
// transition observer, encodes them and queues them without waiting; a
// goroutine writes them to the outbox in Redis (store.OutboxAdd), and every
// replica delivers its share of the outbox, retrying with exponential
// backoff. An event stays in the outbox until its endpoint answered 2xx or
// it was given up, so a replica that dies with events in hand leaves them to
// another (store.OutboxClaim): delivery is at least once. docs/webhooks.md
// is the receiver's guide.
package webhook

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"bgcall/freeswitch"
	"bgcall/store"
)

// Type is what an event reports. The values are part of the payload, so
// they never change.
type Type string

const (
	Created        Type = "created"         // the session was requested
	AttemptStarted Type = "attempt_started" // B is being dialled
	AttemptEnded   Type = "attempt_ended"   // B's attempt ended without an answer; cause says why
	CalleeAnswered Type = "callee_answered" // B answered and holds
	CallerRinging  Type = "caller_ringing"  // bgcall dials A: A's phone rings
	Bridged        Type = "bridged"         // A and B talk
	Finished       Type = "finished"        // the session has its outcome
)

// Types are every event type, in the order of a session's life.
var Types = []Type{Created, AttemptStarted, AttemptEnded, CalleeAnswered, CallerRinging, Bridged, Finished}

// types maps the timeline entries that make an event to its type; other
// entries (scheduled, deferred, dial now, ...) make none.
var types = map[store.Kind]Type{
	store.KindCreated:        Created,
	store.KindAttempt:        AttemptStarted,
	store.KindAttemptEnded:   AttemptEnded,
	store.KindCalleeAnswered: CalleeAnswered,
	store.KindCallerDialing:  CallerRinging,
	store.KindBridged:        Bridged,
	store.KindFinished:       Finished,
}

// Event is the JSON body of one webhook request.
type Event struct {
	// ID is the idempotency key, also sent as the Idempotency-Key header:
	// the same on every retry and from every replica.
	ID        string `json:"id"`
	Type      Type   `json:"type"`
	SessionID string `json:"session_id"`
	// Sequence is the session's version after the step: it orders a
	// session's events. The events of one step share it (callee_answered
	// and caller_ringing; attempt_ended and finished) and come in the
	// order of Types.
	Sequence int64     `json:"sequence"`
	At       time.Time `json:"at"`
	Caller   string    `json:"caller"`
	Callee   string    `json:"callee"`
	State    string    `json:"state"`             // the session's state after the step
	Attempt  int       `json:"attempt,omitempty"` // B's attempt the event concerns, from 1
	Node     string    `json:"node,omitempty"`
	Leg      string    `json:"leg,omitempty"`      // callee (B) or caller (A)
	LegUUID  string    `json:"leg_uuid,omitempty"` // the FreeSWITCH channel
	Cause    *Cause    `json:"cause,omitempty"`
	Outcome  string    `json:"outcome,omitempty"` // finished: completed, caller_missed, ...
	Reason   string    `json:"reason,omitempty"`  // finished, attempt_ended: why, in words
}

// Cause is a FreeSWITCH hangup cause in bgcall's words.
type Cause struct {
	Name  string `json:"name"`  // as FreeSWITCH spells it: NO_ANSWER
	Code  int    `json:"code"`  // FreeSWITCH's (Q.850) number; -1 for bgcall's own (NODE_LOST)
	Class string `json:"class"` // no_answer, busy, rejected, unreachable, permanent, network, cancelled, answered, error
	Text  string `json:"text"`  // what it means for the call: "B was busy"
}

func causeOf(name, party string) *Cause {
	if name == "" {
		return nil
	}
	c := freeswitch.Cause(name)
	return &Cause{Name: name, Code: c.Code(), Class: string(c.Class()), Text: c.Describe(party)}
}

// Events returns the events the transition of s (as stored after it) that
// wrote entries makes, in order.
func Events(s store.Session, entries []store.Entry) []Event {
	var out []Event
	for _, en := range entries {
		typ, ok := types[en.Kind]
		if !ok {
			continue
		}
		at := en.At
		if at.IsZero() {
			at = s.UpdatedAt
		}
		ev := Event{
			ID: fmt.Sprintf("%s.%d.%s", s.ID, s.Version, typ), Type: typ, SessionID: s.ID, Sequence: s.Version,
			At: at.UTC(), Caller: s.Caller, Callee: s.Callee, State: string(s.State),
			Attempt: en.Attempt, Node: en.Node, Leg: en.Leg, LegUUID: en.UUID,
		}
		switch typ {
		case AttemptStarted:
			// A claim or the worker began it: the session holds its leg.
			ev.Attempt, ev.Node, ev.Leg, ev.LegUUID = s.Attempts, s.Node, "callee", s.CalleeLeg
		case AttemptEnded:
			ev.Cause, ev.Reason = causeOf(en.Cause, "B"), en.Note
			if ev.Cause == nil && ev.Reason == "" {
				ev.Reason = freeswitch.Cause("").Describe("B")
			}
		case CalleeAnswered, CallerRinging:
			ev.Attempt = s.Attempts
		case Finished:
			party := "B"
			if s.Outcome == store.CallerMissed || s.Outcome == store.CallerBusy {
				party = "A"
			}
			ev.Attempt, ev.Outcome, ev.Cause = s.Attempts, string(s.Outcome), causeOf(s.Cause, party)
			if _, reason, ok := strings.Cut(en.Note, ": "); ok {
				ev.Reason = reason
			}
			ev.Node, ev.Leg, ev.LegUUID = "", "", ""
		}
		out = append(out, ev)
	}
	return out
}

// record is an event as the outbox keeps it: the body is encoded once, so
// every try and every replica sends the same bytes.
type record struct {
	URL  string          `json:"u"`
	Key  string          `json:"k"`
	Type Type            `json:"t"`
	Line string          `json:"l"` // the session: its events to one URL go in order
	Seq  int64           `json:"q"` // the event's sequence in its session
	Body json.RawMessage `json:"b"`
}

func encodeRecords(events []Event, urls []string) ([]string, error) {
	var out []string
	for _, ev := range events {
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode %s event of session %s: %w", ev.Type, ev.SessionID, err)
		}
		for _, u := range urls {
			b, err := json.Marshal(record{URL: u, Key: ev.ID, Type: ev.Type, Line: ev.SessionID, Seq: ev.Sequence, Body: body})
			if err != nil {
				return nil, fmt.Errorf("encode %s event of session %s: %w", ev.Type, ev.SessionID, err)
			}
			out = append(out, string(b))
		}
	}
	return out, nil
}

func decodeRecord(data string) (record, error) {
	var r record
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return r, fmt.Errorf("decode outbox event %.60q: %w", data, err)
	}
	if r.URL == "" || r.Key == "" || len(r.Body) == 0 {
		return r, fmt.Errorf("decode outbox event %.60q: no URL, key or body", data)
	}
	return r, nil
}
