package freeswitch

import (
	"errors"
	"strings"
)

// Error is a failed FreeSWITCH command: "-ERR <text>" or "-USAGE: <text>".
// When the text after -ERR is a single cause name, Cause holds it, so callers can
// switch on it (originate answers "-ERR NO_ANSWER", "-ERR USER_BUSY", ...).
type Error struct {
	Text  string // the reply without its trailing newline, e.g. "-ERR NO_ANSWER"
	Cause Cause  // set when the reply names a hangup cause
	Usage bool   // the command was malformed ("-USAGE: ...")
}

func (e *Error) Error() string { return "freeswitch: " + e.Text }

// ParseResult reads the body of an api/response or of a BACKGROUND_JOB event.
// "+OK rest" gives rest; "-ERR ..." and "-USAGE: ..." give an *Error. Any other
// body (uuid_exists answers "true", chat answers "Sent", status prints a report)
// is a value: FreeSWITCH only marks failures, so the caller interprets it.
// A trailing newline is removed from values and error texts.
func ParseResult(body string) (string, error) {
	text := strings.TrimRight(body, "\r\n")
	switch {
	case text == "+OK":
		return "", nil
	case strings.HasPrefix(text, "+OK "):
		return strings.TrimSpace(text[len("+OK "):]), nil
	case strings.HasPrefix(text, "-USAGE"):
		return "", &Error{Text: text, Usage: true}
	case strings.HasPrefix(text, "-ERR"):
		e := &Error{Text: text}
		rest := strings.TrimSpace(text[len("-ERR"):])
		if isCauseToken(rest) {
			e.Cause = ParseCause(rest)
		}
		return "", e
	}
	return text, nil
}

// isCauseToken reports whether s looks like a cause name (one upper-case word
// of letters, digits and underscores), known or not.
func isCauseToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s[0] >= 'A' && s[0] <= 'Z'
}

// NoSuchChannel reports whether err carries FreeSWITCH's answer that the
// channel a command names is not there: "-ERR No such channel!" to
// uuid_kill, uuid_break and uuid_dump, for a leg that never existed or has
// already hung up. To a command that ends or looks up a leg that may have
// gone by itself, it is an expected answer rather than a failure.
func NoSuchChannel(err error) bool {
	var fe *Error
	return errors.As(err, &fe) && strings.EqualFold(strings.TrimRight(strings.TrimSpace(strings.TrimPrefix(fe.Text, "-ERR")), "!"), "No such channel")
}
