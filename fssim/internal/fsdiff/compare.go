package fsdiff

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var rolePattern = regexp.MustCompile(`^[A-Z_]+\[([^\]]*)\]`)

// roleOf is the leg (or job) an event label is about; "" for events of no
// leg (MESSAGE).
func roleOf(label string) string {
	if m := rolePattern.FindStringSubmatch(label); m != nil {
		return m[1]
	}
	return ""
}

// Project leaves out of an outcome what the simulator does not model: the
// loopback "-b" channels, their events and their rows in show channels.
func Project(o Outcome) Outcome {
	p := Outcome{Count: o.Count}
	for _, r := range o.Replies {
		p.Replies = append(p.Replies, projectReply(r))
	}
	for _, l := range o.Events {
		if !strings.HasSuffix(roleOf(l), LoopbackSuffix) {
			p.Events = append(p.Events, l)
		}
	}
	return p
}

func projectReply(r string) string {
	rest, ok := strings.CutPrefix(r, "show: ")
	if !ok {
		return r
	}
	var rows []string
	for _, f := range strings.Fields(rest) {
		role, _, _ := strings.Cut(f, ":")
		if strings.HasPrefix(f, "row_count=") || strings.HasSuffix(role, LoopbackSuffix) {
			continue
		}
		rows = append(rows, f)
	}
	return strings.TrimSpace("show: row_count=" + strconv.Itoa(len(rows)) + " " + strings.Join(rows, " "))
}

// byRole splits event labels by the leg they are about.
func byRole(events []string) map[string][]string {
	m := map[string][]string{}
	for _, l := range events {
		m[roleOf(l)] = append(m[roleOf(l)], l)
	}
	return m
}

func sameRoles(a, b []string) bool {
	ra, rb := byRole(a), byRole(b)
	if len(ra) != len(rb) {
		return false
	}
	for role, la := range ra {
		if !equal(la, rb[role]) {
			return false
		}
	}
	return true
}

// occurrence is the k-th (from 0) event with a label.
type occurrence struct {
	label string
	k     int
}

func occurrences(events []string) []occurrence {
	seen := map[string]int{}
	out := make([]occurrence, len(events))
	for i, l := range events {
		out[i] = occurrence{l, seen[l]}
		seen[l]++
	}
	return out
}

func position(events []string, o occurrence) int {
	k := 0
	for i, l := range events {
		if l == o.label {
			if k == o.k {
				return i
			}
			k++
		}
	}
	return -1
}

// Compare holds one run of a flow on the simulator to its recording on
// FreeSWITCH, both projected (Project): the replies must be those of a
// recorded run and each leg's events those of the same run, in the same
// order; and wherever the simulator fired an event of one leg before an
// event of another, FreeSWITCH must have done so in at least one such run.
// Orders FreeSWITCH left to a race may come either way; orders it always
// kept must be kept.
func Compare(rec FlowResult, sim Outcome) error {
	got := Project(sim)
	var matching []Outcome
	for _, o := range rec.Outcomes {
		p := Project(o)
		if equal(p.Replies, got.Replies) && sameRoles(p.Events, got.Events) {
			matching = append(matching, p)
		}
	}
	if len(matching) == 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "flow %q: no run on FreeSWITCH (%d recorded) answered and fired what the simulator did.\nsimulator:\n%s", rec.Name, rec.Runs, describe(got))
		for i, o := range rec.Outcomes {
			fmt.Fprintf(&b, "FreeSWITCH, outcome %d (%d runs):\n%s", i+1, o.Count, describe(Project(o)))
		}
		return fmt.Errorf("%s", b.String())
	}
	occ := occurrences(got.Events)
	var problems []string
	for i := range occ {
		for j := i + 1; j < len(occ); j++ {
			if roleOf(occ[i].label) == roleOf(occ[j].label) {
				continue
			}
			if !anyBefore(matching, occ[i], occ[j]) {
				problems = append(problems, fmt.Sprintf("%s came before %s; on FreeSWITCH never (%d matching runs)", occ[i].label, occ[j].label, count(matching)))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("flow %q: the simulator's events came in an order FreeSWITCH did not show:\n  %s\nsimulator:\n%s", rec.Name, strings.Join(problems, "\n  "), describe(got))
	}
	return nil
}

func anyBefore(outcomes []Outcome, x, y occurrence) bool {
	for _, o := range outcomes {
		if px, py := position(o.Events, x), position(o.Events, y); px >= 0 && py >= 0 && px < py {
			return true
		}
	}
	return false
}

func count(outcomes []Outcome) int {
	n := 0
	for _, o := range outcomes {
		n += o.Count
	}
	return n
}

func describe(o Outcome) string {
	var b strings.Builder
	for _, r := range o.Replies {
		fmt.Fprintf(&b, "  reply %q\n", r)
	}
	for _, l := range o.Events {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	return b.String()
}
