package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report is what a fault run did and found.
type Report struct {
	Seed     uint64
	Short    bool           // the short run of the test suite
	Sessions int            // sessions planned
	Outcomes map[string]int // sessions by outcome, as stored at the end
	// Faults counts the faults injected, by kind; Skipped those that found
	// no target (a kill or a pause while another replica was down or paused).
	Faults, Skipped map[string]int
	// RepliesLost is how many of the Redis replies planned to be lost were
	// (a planned loss waits for its script to run that often).
	RepliesLost int
	Requests    map[string]int // what the API requests met
	Checked     map[string]int // items checked, by invariant
	Notes       map[string]int // worth knowing, breaks no invariant
	Violations  []Violation
	// Log is the run's sequence of faults, and Timelines the timelines
	// and legs of the sessions named in Violations.
	Log       []string
	Timelines map[string]string
	Dir       string // the replicas' logs, kept when a violation was found
	Took      time.Duration
}

func newReport(seed uint64, sessions int) *Report {
	return &Report{Seed: seed, Sessions: sessions, Outcomes: map[string]int{}, Faults: map[string]int{},
		Skipped: map[string]int{}, Requests: map[string]int{}, Checked: map[string]int{}, Notes: map[string]int{},
		Timelines: map[string]string{}}
}

// Passed reports whether every invariant held.
func (r *Report) Passed() bool { return len(r.Violations) == 0 }

// Write prints the report: the counts, then every violation with what
// reproduces it.
func (r *Report) Write(w io.Writer) {
	verdict := "PASS"
	if !r.Passed() {
		verdict = fmt.Sprintf("FAIL (%d violations)", len(r.Violations))
	}
	fmt.Fprintf(w, "fault run seed %d: %s in %v\n", r.Seed, verdict, r.Took.Round(time.Second))
	fmt.Fprintf(w, "  sessions: %d planned; outcomes %s\n", r.Sessions, formatCounts(r.Outcomes))
	fmt.Fprintf(w, "  requests: %s\n", formatCounts(r.Requests))
	fmt.Fprintf(w, "  faults injected:\n")
	total := 0
	for _, k := range faultKinds {
		n := r.Faults[string(k)]
		total += n
		line := fmt.Sprintf("    %-40s %3d", k, n)
		if s := r.Skipped[string(k)]; s > 0 {
			line += fmt.Sprintf("  (%d found no target)", s)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "    %-40s %3d  (Redis replies actually lost: %d)\n", "all", total, r.RepliesLost)
	fmt.Fprintf(w, "  invariants checked:\n")
	broken := map[string]int{}
	for _, v := range r.Violations {
		broken[v.Invariant]++
	}
	for _, inv := range invariants {
		status := "held"
		if broken[inv] > 0 {
			status = fmt.Sprintf("BROKEN %d times", broken[inv])
		}
		fmt.Fprintf(w, "    %-62s %6d checked, %s\n", inv, r.Checked[inv], status)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "  notes: %s\n", formatCounts(r.Notes))
	}
	if r.Passed() {
		return
	}
	fmt.Fprintf(w, "\nviolations:\n")
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  [%s] session %s: %s\n", v.Invariant, orDash(v.Session), v.Detail)
	}
	ids := make([]string, 0, len(r.Timelines))
	for id := range r.Timelines {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(w, "\nsession %s:\n%s", id, r.Timelines[id])
	}
	fmt.Fprintf(w, "\nfaults, in order:\n  %s\n", strings.Join(r.Log, "\n  "))
	fmt.Fprintf(w, "\nreplica logs: %s\n", r.Dir)
	if r.Short {
		fmt.Fprintf(w, "reproduce: go test -race -count=1 -run 'TestChaos$' -v ./chaos -chaos.seed=%d\n", r.Seed)
	} else {
		fmt.Fprintf(w, "reproduce: make chaos SEED=%d\n", r.Seed)
	}
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
