package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"bgcall/cli"
)

// TestDemo runs the code path of `bgcall demo` (and so `make demo`) and
// checks the outcomes it printed.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	var apiURL string
	res, err := cli.Demo(context.Background(), &out, cli.DemoOptions{Second: 100 * time.Millisecond, Timeout: 90 * time.Second,
		Ready: func(u string) { apiURL = u }})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	want := map[string]string{
		"B answers at once":            "completed",
		"B answers on the 3rd attempt": "completed",
		"B never answers":              "expired",
		"B is busy":                    "expired",
		"A misses the call back":       "caller_missed",
		"A cancels":                    "cancelled",
		"B's number does not exist":    "failed",
	}
	for label, outcome := range want {
		if res[label] != outcome {
			t.Errorf("%s: outcome %q, want %q", label, res[label], outcome)
		}
	}
	if !strings.HasPrefix(apiURL, "http://127.0.0.1:") {
		t.Errorf("Ready was told %q", apiURL)
	}
	text := out.String()
	_, outcomes, ok := strings.Cut(text, "\nOutcomes:\n")
	if !ok {
		t.Fatalf("no Outcomes section:\n%s", text)
	}
	for label, outcome := range want {
		found := false
		for _, line := range strings.Split(outcomes, "\n") {
			if strings.Contains(line, label) && strings.Contains(line, outcome) && strings.Contains(line, "as expected") {
				found = true
			}
		}
		if !found {
			t.Errorf("Outcomes section lacks %q → %s:\n%s", label, outcome, outcomes)
		}
	}
	for _, step := range []string{"bgapi originate", "attempt 3 of 3", "B answered; B on hold", "ringing A (1001)", "bridged", "A switches background calling off", "message to A by FreeSWITCH chat", "2005 called you back"} {
		if !strings.Contains(text, step) {
			t.Errorf("demo output lacks %q", step)
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", text)
	}
}
