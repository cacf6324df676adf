package chaos

import (
	"slices"
	"strings"
	"testing"
)

// A failing report says which promise broke, for which session, what was
// injected, and the command that runs the same seed again.
func TestReportOfAFailure(t *testing.T) {
	r := newReport(42, 2)
	r.Short = true
	r.Faults[string(faultPause)] = 3
	r.Checked[invOverlap] = 7
	r.Violations = []Violation{{Invariant: invOverlap, Session: "s1", Detail: "two legs"}}
	r.Timelines["s1"] = "  the timeline\n"
	r.Log = []string{"10:00:00.000 (+  1.00s) SIGSTOP past the lease, SIGCONT: r2 for 3s"}
	var b strings.Builder
	r.Write(&b)
	out := b.String()
	for _, want := range []string{
		"seed 42: FAIL (1 violations)",
		invOverlap, "7 checked, BROKEN 1 times",
		"[" + invOverlap + "] session s1: two legs",
		"session s1:\n  the timeline",
		"SIGSTOP past the lease, SIGCONT: r2 for 3s",
		"-chaos.seed=42",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
		return strings.Contains(l, string(faultPause)) && strings.HasSuffix(l, " 3")
	}) {
		t.Errorf("report does not count 3 pauses:\n%s", out)
	}
	r.Violations, r.Short = nil, false
	b.Reset()
	r.Write(&b)
	if out := b.String(); !strings.Contains(out, "seed 42: PASS") || strings.Contains(out, "reproduce") {
		t.Errorf("a passing report:\n%s", out)
	}
}
