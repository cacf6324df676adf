package api

import (
	"fmt"
	"strings"

	"bgcall/freeswitch"
	"bgcall/store"
)

// Describe turns one timeline entry of s into the words an operator reads,
// as `bgcall status` and the web page show it. Unknown kinds still read,
// so a newer daemon never hides a step.
func Describe(s Session, e Entry) string {
	cause := ""
	if e.Cause != "" {
		cause = " (" + e.Cause + ")"
	}
	on := ""
	if e.Node != "" {
		on = " on " + e.Node
	}
	note := ""
	if e.Note != "" {
		note = ": " + e.Note
	}
	switch e.Kind {
	case store.KindCreated:
		line := fmt.Sprintf("requested: %s calls %s in the background", s.Caller, s.Callee)
		if e.Note != "" {
			line += " (" + e.Note + ")"
		}
		return line
	case store.KindAttempt:
		of := ""
		if s.MaxAttempts > 0 {
			of = fmt.Sprintf(" of %d", s.MaxAttempts)
		}
		return fmt.Sprintf("attempt %d%s: ringing B (%s)%s", e.Attempt, of, s.Callee, on)
	case store.KindAttemptEnded:
		return fmt.Sprintf("attempt %d: %s%s%s", e.Attempt, CauseText("B", e.Cause), cause, note)
	case store.KindScheduled:
		return fmt.Sprintf("attempt %d scheduled%s", e.Attempt, note)
	case store.KindDeferred:
		return "deferred" + note
	case store.KindDialNow:
		return fmt.Sprintf("attempt %d to be dialled now%s", e.Attempt, note)
	case store.KindCalleeAnswered:
		return fmt.Sprintf("B answered; B on hold%s", on)
	case store.KindCallerDialing:
		return fmt.Sprintf("ringing A (%s)%s", s.Caller, on)
	case store.KindBridged:
		return "bridged: A and B are talking" + on
	case store.KindCalleeHungUp:
		return "B hung up" + cause + note
	case store.KindCallerEnded:
		return CauseText("A", e.Cause) + cause + note
	case store.KindCallerBusy:
		// The note begins "caller busy: " for the timeline's own readers.
		return "A is on another call" + on + ": " + strings.TrimPrefix(e.Note, "caller busy: ")
	case store.KindCancelled:
		return "cancelled" + note
	case store.KindFinished:
		out := s.Outcome
		if out == "" {
			out, _, _ = strings.Cut(e.Note, ":")
		}
		reason := strings.TrimSpace(strings.TrimPrefix(e.Note, out+":"))
		if reason == out {
			reason = ""
		}
		line := "outcome: " + out
		if reason != "" {
			line += " (" + reason + ")"
		}
		if e.Cause != "" && !strings.Contains(reason, e.Cause) {
			line += " [" + e.Cause + "]"
		}
		return line
	}
	return string(e.Kind) + cause + note
}

// describeAll sets the Text of each of entries of s.
func describeAll(s Session, entries []Entry) {
	for i := range entries {
		entries[i].Text = Describe(s, entries[i])
	}
}

// CauseText says what a FreeSWITCH hangup cause means for a call to party
// ("A" or "B") that was not answered or ended: busy, rejected, not
// registered, does not exist (freeswitch.Cause.Describe). An empty cause is
// a call nobody answered.
func CauseText(party, cause string) string {
	return freeswitch.ParseCause(cause).Describe(party)
}
