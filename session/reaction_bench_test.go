package session_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"bgcall/fssim"
	"bgcall/session"
)

// BenchmarkReactionBesideSlowNode measures, at the simulator, how long the
// engine takes from B's answer to dialling A, for sessions on a prompt node
// while the other node takes slowAPI to answer every api command. Sessions
// of both nodes share the workers: the prompt node's figures show whether
// the slow node's replies hold them up.
func BenchmarkReactionBesideSlowNode(b *testing.B) {
	const (
		slowAPI  = 20 * time.Millisecond
		sessions = 120
		rate     = 100 // new sessions per second
	)
	h := newHarness(b, withNodes(2), withOptions(func(o *session.Options) {
		o.Workers = 4
		o.Policy.CallerRingTime = 100 * time.Second
		o.ParkTimeout = 300 * time.Second
		o.LegGrace = 5 * time.Second
	}))
	h.nodes[1].SetAPIDelay(slowAPI)
	var prompt, slow []time.Duration
	round := 0
	for b.Loop() {
		round++
		var ids []string
		for i := range sessions {
			a, c := fmt.Sprintf("5%d%03d1", round, i), fmt.Sprintf("5%d%03d2", round, i)
			for _, n := range h.nodes {
				n.SetSubscriber(c, answer)
				n.SetSubscriber(a, fssim.Behavior{Action: fssim.Answer, Ring: simSecond, Talk: 100 * time.Millisecond})
			}
			ids = append(ids, h.create(a, c).ID)
			time.Sleep(time.Second / rate)
		}
		for _, id := range ids {
			// Any outcome: the slow node may bridge after A hung up.
			h.waitOutcome(id)
		}
	}
	for i, n := range h.nodes {
		answered := map[string]time.Time{} // session → B's answer
		for _, o := range n.Originates() {
			if o.Vars["bgcall_leg"] == "callee" && !o.Answered.IsZero() {
				answered[o.Vars["bgcall_session"]] = o.Answered
			}
		}
		for _, o := range n.Originates() {
			at, ok := answered[o.Vars["bgcall_session"]]
			if o.Vars["bgcall_leg"] != "caller" || !ok {
				continue
			}
			if i == 0 {
				prompt = append(prompt, o.Start.Sub(at))
			} else {
				slow = append(slow, o.Start.Sub(at))
			}
		}
	}
	if len(prompt) == 0 || len(slow) == 0 {
		b.Fatalf("reactions measured: %d on the prompt node, %d on the slow one; want both", len(prompt), len(slow))
	}
	report := func(d []time.Duration, name string) {
		slices.Sort(d)
		q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))]) / float64(time.Millisecond) }
		b.ReportMetric(q(0.5), name+"-p50-ms")
		b.ReportMetric(q(0.99), name+"-p99-ms")
	}
	report(prompt, "prompt-node")
	report(slow, "slow-node")
}
