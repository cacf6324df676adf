package api

import (
	"fmt"
	"strings"

	"bgcall/metrics"
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
// registered, does not exist. An empty cause is a call nobody answered.
func CauseText(party, cause string) string {
	switch cause {
	case "", "NO_ANSWER", "ALLOTTED_TIMEOUT":
		return party + " did not answer"
	case "NO_USER_RESPONSE":
		return party + "'s phone did not respond"
	case "USER_BUSY":
		return party + " was busy"
	case "CALL_REJECTED":
		return party + " rejected the call"
	case "UNALLOCATED_NUMBER":
		return party + "'s number does not exist"
	case "INVALID_NUMBER_FORMAT":
		return party + "'s number is not valid"
	case "NUMBER_CHANGED", "REDIRECTION_TO_NEW_DESTINATION":
		return party + "'s number has changed"
	case "USER_NOT_REGISTERED":
		return party + "'s phone is not registered"
	case "SUBSCRIBER_ABSENT":
		return party + " is not reachable (no phone registered or present)"
	case "NO_ROUTE_DESTINATION", "NO_ROUTE_TRANSIT_NET":
		return "no route to " + party
	case "OUTGOING_CALL_BARRED", "INCOMING_CALL_BARRED":
		return "calls to " + party + " are barred"
	case "PICKED_OFF":
		return party + "'s call was picked up on another phone"
	case "RECOVERY_ON_TIMER_EXPIRE", "PROGRESS_TIMEOUT":
		return party + "'s side did not reply in time"
	case "DESTINATION_OUT_OF_ORDER":
		return party + "'s line is out of order, or FreeSWITCH refused the call (its session limits)"
	case "NORMAL_CLEARING":
		return party + " hung up"
	case "NODE_LOST":
		return "the FreeSWITCH node was lost during the call to " + party
	}
	switch metrics.CauseClass(cause) {
	case metrics.ClassNoAnswer:
		return party + " did not answer"
	case metrics.ClassRejected:
		return "the call to " + party + " was refused"
	case metrics.ClassUnreachable:
		return party + " could not be reached"
	case metrics.ClassInvalidNumber:
		return party + "'s number cannot be dialled"
	case metrics.ClassCancelled:
		return "the call to " + party + " was cancelled"
	case metrics.ClassAnswered:
		return party + " hung up"
	}
	return "the call to " + party + " failed"
}
