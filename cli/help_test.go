package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"bgcall/cli"
)

// TestHelpOfEveryCommand: -h prints each command's flags with their
// defaults, and nothing else (the flag package's default printer once met
// a wrapped value it could not print: "panic calling String method").
func TestHelpOfEveryCommand(t *testing.T) {
	for _, cmd := range []string{"call", "cancel", "status", "list", "watch", "bench", "serve", "top", "find", "optout"} {
		var out, errOut bytes.Buffer
		cli.Main(context.Background(), []string{cmd, "-h"}, cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
		help := out.String() + errOut.String()
		if strings.Contains(help, "panic") || !strings.Contains(help, "Usage") {
			t.Errorf("bgcall %s -h:\n%s", cmd, help)
		}
	}
}
