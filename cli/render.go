package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"bgcall/api"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSONLine writes v as one line of JSON, for streams a program reads
// line by line (watch --json, call --wait --json).
func printJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// describe turns one timeline entry into the words an operator reads.
func describe(s api.Session, e api.Entry) string { return api.Describe(s, e) }

func clock(t time.Time) string {
	return t.Local().Format("15:04:05")
}

func printSession(w io.Writer, s api.Session) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "session\t%s\n", s.ID)
	fmt.Fprintf(tw, "caller (A)\t%s\n", s.Caller)
	fmt.Fprintf(tw, "callee (B)\t%s\n", s.Callee)
	fmt.Fprintf(tw, "state\t%s\n", s.State)
	if s.Outcome != "" {
		o := s.Outcome
		if s.Cause != "" {
			o += " (" + s.Cause + ")"
		}
		fmt.Fprintf(tw, "outcome\t%s\n", o)
	}
	fmt.Fprintf(tw, "attempts\t%s\n", attempts(s))
	if s.Node != "" {
		fmt.Fprintf(tw, "node\t%s\n", s.Node)
	}
	if s.CalleeLeg != "" {
		fmt.Fprintf(tw, "callee leg\t%s\n", s.CalleeLeg)
	}
	if s.CallerLeg != "" {
		fmt.Fprintf(tw, "caller leg\t%s\n", s.CallerLeg)
	}
	fmt.Fprintf(tw, "created\t%s\n", s.CreatedAt.Local().Format(time.RFC3339))
	if s.DueAt != nil && s.State == "waiting" {
		next := s.DueAt.Local().Format(time.RFC3339)
		if s.HeldByQuietHours {
			next += " (held by quiet hours)"
		}
		fmt.Fprintf(tw, "next attempt\t%s\n", next)
	}
	if s.DeadlineAt != nil && s.State != "finished" {
		fmt.Fprintf(tw, "gives up at\t%s\n", s.DeadlineAt.Local().Format(time.RFC3339))
	}
	if s.QuietHours != "" {
		fmt.Fprintf(tw, "quiet hours\t%s\n", s.QuietHours)
	}
	if s.FinishedAt != nil {
		fmt.Fprintf(tw, "finished\t%s\n", s.FinishedAt.Local().Format(time.RFC3339))
	}
	tw.Flush()
	printWarnings(w, s)
	if len(s.Timeline) > 0 {
		fmt.Fprintln(w, "\ntimeline:")
		for _, e := range s.Timeline {
			line := describe(s, e)
			if e.UUID != "" {
				line += "  [" + legName(e.Leg) + " leg " + e.UUID + "]"
			}
			fmt.Fprintf(w, "  %s  %s\n", clock(e.At), line)
		}
	}
}

func printList(w io.Writer, sessions []api.Session) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCALLER\tCALLEE\tSTATE\tOUTCOME\tATTEMPTS\tNEXT\tCREATED")
	for _, s := range sessions {
		out := s.Outcome
		if out == "" {
			out = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Caller, s.Callee, s.State, out, attempts(s), nextAttempt(s), s.CreatedAt.Local().Format("2006-01-02 15:04:05"))
	}
	tw.Flush()
}

// nextAttempt reads when a waiting session dials B next, and whether quiet
// hours hold it.
func nextAttempt(s api.Session) string {
	if s.State != "waiting" || s.DueAt == nil {
		return "-"
	}
	at := s.DueAt.Local().Format("15:04:05")
	if s.DueAt.Local().YearDay() != time.Now().YearDay() {
		at = s.DueAt.Local().Format("Jan 2 15:04")
	}
	if s.HeldByQuietHours {
		at += " (quiet hours)"
	}
	return at
}

// printHeld says when a session held by quiet hours makes its first attempt.
func printHeld(w io.Writer, s api.Session) {
	printWarnings(w, s)
	if !s.HeldByQuietHours || s.DueAt == nil {
		return
	}
	fmt.Fprintf(w, "quiet hours (%s): first attempt at %s", s.QuietHours, s.DueAt.Local().Format(time.RFC3339))
	if s.DeadlineAt != nil {
		fmt.Fprintf(w, "; gives up at %s", s.DeadlineAt.Local().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
}

// attempts reads "2 of 10", or "2" when the session retries until answered.
func attempts(s api.Session) string {
	if s.MaxAttempts > 0 {
		return fmt.Sprintf("%d of %d", s.Attempts, s.MaxAttempts)
	}
	return fmt.Sprint(s.Attempts)
}

// liveLine is one line at the bottom of a terminal, redrawn in place; off
// a terminal it shows nothing.
type liveLine struct {
	w     io.Writer
	on    bool
	shown bool
}

// show replaces the line with text ("" clears it).
func (l *liveLine) show(text string) {
	if !l.on {
		return
	}
	l.clear()
	if text != "" {
		fmt.Fprint(l.w, "          "+text)
		l.shown = true
	}
}

// clear removes the line, so that a line printed next starts clean.
func (l *liveLine) clear() {
	if l.shown {
		fmt.Fprint(l.w, "\r\x1b[K")
		l.shown = false
	}
}

// progress says what a session is doing at now, for the live line.
func progress(s api.Session, now time.Time) string {
	switch s.State {
	case "waiting":
		if s.DueAt == nil {
			return ""
		}
		line := "next attempt in " + countdown(s.DueAt.Sub(now))
		if s.HeldByQuietHours {
			line += " (quiet hours " + s.QuietHours + ")"
		}
		return line
	case "dialing_callee":
		return fmt.Sprintf("ringing B (%s) for %d s", s.Callee, int(now.Sub(s.UpdatedAt).Seconds()))
	case "confirming":
		return fmt.Sprintf("B answered, asked to press 1 for %d s", int(now.Sub(s.UpdatedAt).Seconds()))
	case "callee_hold":
		return fmt.Sprintf("B on hold, ringing A (%s) for %d s", s.Caller, int(now.Sub(s.UpdatedAt).Seconds()))
	case "bridged":
		if s.BridgedAt != nil {
			return "A and B talking for " + countdown(now.Sub(*s.BridgedAt))
		}
	}
	return ""
}

// countdown reads d as mm:ss, or h:mm:ss from an hour on.
func countdown(d time.Duration) string {
	sec := int(max(d, 0).Round(time.Second) / time.Second)
	if sec >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	return fmt.Sprintf("%02d:%02d", sec/60, sec%60)
}

// roundWait reads a wait to a precision that suits its length.
func roundWait(d time.Duration) time.Duration {
	switch {
	case d <= 0:
		return 0
	case d < time.Minute:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// printWarnings prints what keeps a session from going on.
func printWarnings(w io.Writer, s api.Session) {
	for _, warning := range s.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
}

// legName reads a timeline entry's leg as the operator knows it.
func legName(leg string) string {
	switch leg {
	case "callee":
		return "B's"
	case "caller":
		return "A's"
	}
	return "the"
}
