package session_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"bgcall/metrics"
	"bgcall/session"
	"bgcall/store"
)

// TestReactionMetric: a session that bridges records one reaction per step,
// and each lies within what the simulator saw around it: FreeSWITCH sent
// the answer before the engine read it, and received the command after the
// engine wrote it.
func TestReactionMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.BuildInfo{})
	h := newHarness(t, withOptions(func(o *session.Options) { o.Metrics = m }))
	h.nodes[0].SetSubscriber("1702", answer)
	h.nodes[0].SetSubscriber("1701", talkShort)
	s := h.create("1701", "1702")
	if got := h.waitOutcome(s.ID); got.Outcome != store.Completed {
		t.Fatalf("outcome %s, want completed", got.Outcome)
	}

	var calleeAnswered, callerStart, callerAnswered time.Time
	var callerLeg string
	for _, o := range h.nodes[0].Originates() {
		if o.Vars[session.VarSession] != s.ID {
			continue
		}
		switch o.Vars[session.VarLeg] {
		case "callee":
			calleeAnswered = o.Answered
		case "caller":
			callerStart, callerAnswered, callerLeg = o.Start, o.Answered, o.UUID
		}
	}
	var bridgedAt time.Time
	for _, b := range h.nodes[0].Bridges() {
		if b.A == callerLeg || b.B == callerLeg {
			bridgedAt = b.At
		}
	}
	if calleeAnswered.IsZero() || callerStart.IsZero() || callerAnswered.IsZero() || bridgedAt.IsZero() {
		t.Fatalf("simulator saw B answer %v, A dialled %v, A answer %v, bridge %v; want all",
			calleeAnswered, callerStart, callerAnswered, bridgedAt)
	}
	for _, c := range []struct {
		step   string
		within time.Duration
	}{
		{"caller_originate", callerStart.Sub(calleeAnswered)},
		{"bridge", bridgedAt.Sub(callerAnswered)},
	} {
		n, sum := reaction(t, reg, c.step)
		if n != 1 || sum <= 0 || sum > c.within {
			t.Errorf("reaction %s: %d observations summing to %v, want 1 in (0, %v]", c.step, n, sum, c.within)
		}
	}
}

// reaction reads bgcall_reaction_seconds{step} from reg.
func reaction(t *testing.T, reg *prometheus.Registry, step string) (uint64, time.Duration) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "bgcall_reaction_seconds" {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "step" && l.GetValue() == step {
					h := mt.GetHistogram()
					return h.GetSampleCount(), time.Duration(h.GetSampleSum() * float64(time.Second))
				}
			}
		}
	}
	t.Fatalf("bgcall_reaction_seconds{step=%q} not exported", step)
	return 0, 0
}
