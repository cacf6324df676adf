package freeswitch

import (
	"fmt"
	"strings"
)

// valueRefused lists what a {} or [] variable value may never contain:
// brackets and braces would end the variable block or open another, a quote
// would switch FreeSWITCH's argument splitter into quoted mode for the rest of
// the line, a backslash would combine with the escapes added here, and '|'
// separates failover destinations.
const valueRefused = "{}[]'\\|"

// EscapeValue returns value in the form a {} or [] channel variable needs on an
// originate line. Commas are escaped as `\,` (FreeSWITCH's comma splitter skips
// an escaped byte and its cleanup turns `\,` back into ','); a value with blanks
// is wrapped in single quotes, which the API's blank splitter honours and strips.
// Values that cannot be carried safely are refused: control bytes, `{}[]'\|`,
// "^^" (FreeSWITCH's custom-delimiter prefix), "${" (variable and API
// expansion), and leading or trailing blanks (which FreeSWITCH trims).
func EscapeValue(value string) (string, error) {
	if err := refuseControl("variable value", value); err != nil {
		return "", err
	}
	if err := refuseAny("variable value", value, valueRefused); err != nil {
		return "", err
	}
	if strings.Contains(value, "^^") {
		return "", fmt.Errorf("variable value %q: \"^^\" is not allowed (it changes FreeSWITCH's delimiter)", value)
	}
	if strings.Contains(value, "${") {
		return "", fmt.Errorf("variable value %q: \"${\" is not allowed (it would expand variables or run API commands)", value)
	}
	if strings.TrimSpace(value) != value {
		return "", fmt.Errorf("variable value %q: leading or trailing blanks are not allowed", value)
	}
	out := strings.ReplaceAll(value, ",", `\,`)
	if strings.Contains(out, " ") {
		out = "'" + out + "'"
	}
	return out, nil
}

// endpointAllowed reports whether c may appear in a dial string's destination
// part: letters, digits and the punctuation of "sofia/gateway/gw1/+4930123",
// "user/1002@example.com" or "sofia/internal/1002@10.0.0.1:5060;transport=tcp".
// Blanks, commas, '|', quotes, braces, brackets, '&', '$', '^' and backslash are
// absent: each of them splits the line, adds a destination or a variable block,
// or starts an application.
func endpointAllowed(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("/@._-+:;=*#%", c) >= 0
}

// ValidEndpoint checks a dial string's destination (no {} or [] blocks).
func ValidEndpoint(s string) error {
	if s == "" {
		return fmt.Errorf("endpoint: must not be empty")
	}
	if err := refuseControl("endpoint", s); err != nil {
		return err
	}
	for i := 0; i < len(s); i++ {
		if !endpointAllowed(s[i]) {
			return fmt.Errorf("endpoint %q: %q is not allowed (one destination, letters, digits and /@._-+:;=*#%% only)", s, s[i])
		}
	}
	if strings.Contains(s, ":_:") {
		return fmt.Errorf("endpoint %q: \":_:\" (a second destination) is not allowed", s)
	}
	return nil
}
