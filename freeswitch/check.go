package freeswitch

import (
	"fmt"
	"strings"
)

// ValidNumber checks a telephone number given to a builder: 2 to 32 decimal
// digits with an optional leading '+'. Anything else (letters, blanks, '*', '#',
// separators) is refused so that a number can only ever be a number.
func ValidNumber(s string) error {
	digits := strings.TrimPrefix(s, "+")
	if len(digits) < 2 || len(digits) > 32 {
		return fmt.Errorf("number %q: want 2 to 32 digits with an optional leading '+'", s)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return fmt.Errorf("number %q: only digits and a leading '+' are allowed", s)
		}
	}
	return nil
}

// ValidFeatureCode checks a feature code such as "*77": 1 to 16 of digits, '*'
// and '#'. It exists for the few places that dial feature codes; numbers of
// people go through ValidNumber.
func ValidFeatureCode(s string) error {
	if len(s) < 1 || len(s) > 16 {
		return fmt.Errorf("feature code %q: want 1 to 16 of 0-9, '*' and '#'", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '*' || c == '#') {
			return fmt.Errorf("feature code %q: only 0-9, '*' and '#' are allowed", s)
		}
	}
	return nil
}

// ValidUUID checks the canonical 8-4-4-4-12 hexadecimal form FreeSWITCH uses
// for channel and job UUIDs.
func ValidUUID(s string) error {
	if len(s) != 36 {
		return fmt.Errorf("uuid %q: want the 36-character 8-4-4-4-12 hexadecimal form", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return fmt.Errorf("uuid %q: want the 36-character 8-4-4-4-12 hexadecimal form", s)
			}
		default:
			if !isHex(c) {
				return fmt.Errorf("uuid %q: want the 36-character 8-4-4-4-12 hexadecimal form", s)
			}
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// ValidVarName checks a channel variable name: 1 to 64 of [A-Za-z0-9_].
func ValidVarName(s string) error {
	if len(s) == 0 || len(s) > 64 {
		return fmt.Errorf("variable name %q: want 1 to 64 of A-Z, a-z, 0-9 and '_'", s)
	}
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) {
			return fmt.Errorf("variable name %q: only A-Z, a-z, 0-9 and '_' are allowed", s)
		}
	}
	return nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// refuseControl refuses bytes that end or split an event-socket command line
// (CR, LF), NUL, and every other control byte, which has no business in a
// command and confuses log readers.
func refuseControl(what, s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%s %q: control characters (new lines, NUL, ...) are not allowed", what, s)
		}
	}
	return nil
}

// refuseAny refuses s when it contains any byte of set, naming the first one.
func refuseAny(what, s, set string) error {
	if i := strings.IndexAny(s, set); i >= 0 {
		return fmt.Errorf("%s %q: %q is not allowed here", what, s, s[i])
	}
	return nil
}

// token checks one blank-separated API argument: not empty, no control bytes,
// no blank, and none of the bytes FreeSWITCH's argument splitter treats
// specially (quote, backslash) or that could start a variable expansion.
func token(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s: must not be empty", what)
	}
	if err := refuseControl(what, s); err != nil {
		return err
	}
	return refuseAny(what, s, " '\"\\$")
}
