package esl

import (
	"strings"
	"testing"
)

// FreeSWITCH ends a command's first line at its first CR, if it has one:
// "bgapi status\nJob-UUID: X\r\n\r\n" (LF, then the CRLFs eslgo appends) is
// run as the command "status\nJob-UUID:" with argument X, so the job id is
// lost and the command fails (checked on FreeSWITCH 1.10.12). Every command
// must reach the socket with one line-ending style throughout.
func TestCommandFramingUsesOneLineEnding(t *testing.T) {
	for _, line := range []string{
		"bgapi status\nJob-UUID: 0b5e6f1c-4d1f-4e8a-9d55-0a1b2c3d4e5f",
		"bgapi originate {origination_uuid=0b5e6f1c-4d1f-4e8a-9d55-0a1b2c3d4e5f}loopback/1001/default &park()\nJob-UUID: 1c5e6f1c-4d1f-4e8a-9d55-0a1b2c3d4e5f",
		"api status",
		"auth ClueCon",
	} {
		wire := string(Wire(line))
		if !strings.HasSuffix(wire, "\r\n\r\n") {
			t.Fatalf("%q: frame does not end in a blank CRLF line", wire)
		}
		if bare := strings.Count(wire, "\n") - strings.Count(wire, "\r\n"); bare != 0 {
			t.Errorf("%q goes out with %d bare LF beside CRLFs: FreeSWITCH would misread it", wire, bare)
		}
		if got := strings.ReplaceAll(strings.TrimSuffix(wire, "\r\n\r\n"), "\r\n", "\n"); got != line {
			t.Errorf("framing changed the command: %q, want %q", got, line)
		}
	}
}
