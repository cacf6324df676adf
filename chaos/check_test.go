package chaos

import (
	"slices"
	"strings"
	"testing"
	"time"

	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// The checker is what makes the fault run able to fail: each case breaks
// one promise in otherwise sound evidence, and the checker must name that
// promise, and only it.

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func originate(id, role, uuid, number string, start, answered, ended int, cause string) fssim.OriginateRecord {
	o := fssim.OriginateRecord{UUID: uuid, Number: number, Start: at(start), Cause: cause,
		Vars: map[string]string{session.VarSession: id, session.VarLeg: role}}
	if answered > 0 {
		o.Answered = at(answered)
	}
	if ended > 0 {
		o.Ended = at(ended)
	}
	return o
}

// soundEvidence is two sessions that went as they should: s1 was bridged
// after one unanswered attempt and A hung up; s2's A missed the call back
// and got one SMS.
func soundEvidence() *evidence {
	finished := func(id, a, b string, out store.Outcome, kinds ...store.Kind) *sessionRecord {
		r := &sessionRecord{s: store.Session{ID: id, Caller: a, Callee: b, State: store.Finished, Outcome: out}}
		for i, k := range kinds {
			r.timeline = append(r.timeline, store.Entry{At: at(i), Kind: k})
		}
		return r
	}
	s1 := finished("s1", "100000", "200000", store.Completed, store.KindCreated, store.KindAttempt, store.KindAttemptEnded, store.KindScheduled, store.KindAttempt, store.KindCalleeAnswered, store.KindCallerDialing, store.KindBridged, store.KindFinished)
	s1.s.CalleeLeg, s1.s.CallerLeg = "b2", "a1"
	s2 := finished("s2", "100001", "200001", store.CallerMissed, store.KindCreated, store.KindAttempt, store.KindCalleeAnswered, store.KindCallerDialing, store.KindCallerEnded, store.KindFinished)
	s2.s.CalleeLeg, s2.s.CallerLeg = "b3", "a2"
	return &evidence{
		planned:  []*sessionPlan{{index: 0, caller: "100000", callee: "200000"}, {index: 1, caller: "100001", callee: "200001"}},
		created:  map[int]string{0: "s1", 1: "s2"},
		cancels:  map[string]cancelAck{},
		sessions: map[string]*sessionRecord{"s1": s1, "s2": s2},
		nodes: []nodeRecord{{
			name: "fs1",
			originates: []fssim.OriginateRecord{
				originate("s1", "callee", "b1", "200000", 0, 0, 3000, "NO_ANSWER"),
				originate("s1", "callee", "b2", "200000", 3500, 4000, 9000, farEndCause),
				originate("s1", "caller", "a1", "100000", 4100, 4500, 8999, farEndCause),
				originate("s2", "callee", "b3", "200001", 0, 500, 5000, killCause),
				originate("s2", "caller", "a2", "100001", 600, 0, 3600, "NO_ANSWER"),
			},
			bridges:  []fssim.Bridge{{A: "b2", B: "a1", At: at(4600)}},
			commands: []string{"api uuid_kill b3 NORMAL_CLEARING"},
			chats:    []fssim.ChatMessage{{Proto: "sip", To: "100001@chaos.test", At: at(4000)}},
		}},
	}
}

func TestCheckerPassesSoundEvidence(t *testing.T) {
	c := check(soundEvidence())
	if len(c.violations) != 0 {
		t.Fatalf("violations in sound evidence: %+v", c.violations)
	}
	for _, inv := range []string{invOutcome, invOverlap, invBridgeCut, invLegLeft, invSMS, invRecord, invHupall} {
		if c.checked[inv] == 0 {
			t.Errorf("%q: nothing checked", inv)
		}
	}
}

func TestCheckerFindsEachViolation(t *testing.T) {
	node := func(ev *evidence) *nodeRecord { return &ev.nodes[0] }
	for _, tc := range []struct {
		name   string
		want   string
		break_ func(*evidence)
	}{
		{"a session never ends", invOutcome, func(ev *evidence) {
			ev.sessions["s1"].s.State, ev.sessions["s1"].s.Outcome = store.DialingCallee, ""
		}},
		{"a session finishes twice", invOutcome, func(ev *evidence) {
			r := ev.sessions["s2"]
			r.timeline = append(r.timeline, store.Entry{Kind: store.KindFinished})
		}},
		{"one request, two sessions", invOutcome, func(ev *evidence) {
			dup := *ev.sessions["s2"]
			dup.s.ID = "s3"
			ev.sessions["s3"] = &dup
		}},
		{"a created session is lost", invOutcome, func(ev *evidence) { delete(ev.sessions, "s1") }},
		{"two callee legs up at once", invOverlap, func(ev *evidence) {
			node(ev).originates[0].Ended = at(3600) // b1 still rings when b2 is dialled
		}},
		{"a leg dialled after the cancel was acknowledged", invCancel, func(ev *evidence) {
			ev.cancels["s1"] = cancelAck{at: at(3400)}
			r := ev.sessions["s1"]
			r.s.Outcome = store.Cancelled
			r.timeline = append(r.timeline[:3], store.Entry{Kind: store.KindCancelled, Note: "cancelled while waiting by " + runName}, store.Entry{Kind: store.KindFinished})
			node(ev).bridges = nil
		}},
		{"bgcall hangs up a bridged call", invBridgeCut, func(ev *evidence) {
			node(ev).originates[1].Cause, node(ev).originates[1].Ended = killCause, at(8000)
			node(ev).originates[2].Cause = killCause
			node(ev).commands = append(node(ev).commands, "api uuid_kill b2 NORMAL_CLEARING")
		}},
		{"a leg is left up", invLegLeft, func(ev *evidence) {
			node(ev).live = []fssim.ChannelInfo{{UUID: "b2", Number: "200000", AnswerState: "answered"}}
		}},
		{"an SMS twice", invSMS, func(ev *evidence) {
			node(ev).chats = append(node(ev).chats, node(ev).chats[0])
		}},
		{"an SMS for a completed call", invSMS, func(ev *evidence) {
			node(ev).chats = append(node(ev).chats, fssim.ChatMessage{Proto: "sip", To: "100000@chaos.test"})
		}},
		{"completed without a bridge", invRecord, func(ev *evidence) { node(ev).bridges = nil }},
		{"bridged, recorded as missed", invRecord, func(ev *evidence) {
			r := ev.sessions["s2"]
			r.timeline = append([]store.Entry{{Kind: store.KindBridged}}, r.timeline...)
			node(ev).bridges = append(node(ev).bridges, fssim.Bridge{A: "b3", B: "a2"})
			node(ev).originates[3].Cause = farEndCause
			node(ev).originates[4].Cause = farEndCause
		}},
		{"B's hold cut, recorded as B leaving", invRecord, func(ev *evidence) {
			r := ev.sessions["s2"]
			r.s.Outcome = store.CalleeLeft
			node(ev).chats = nil
		}},
		{"A answered and was hung up, recorded as missed", invRecord, func(ev *evidence) {
			node(ev).originates[4].Answered, node(ev).originates[4].Cause = at(1000), killCause
		}},
		{"failed, though nothing failed for good", invRecord, func(ev *evidence) {
			ev.sessions["s2"].s.Outcome = store.Failed
			node(ev).chats = nil
		}},
		{"hupall", invHupall, func(ev *evidence) {
			node(ev).commands = append(node(ev).commands, "api hupall NORMAL_CLEARING bgcall_session s1")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := soundEvidence()
			tc.break_(ev)
			var got []string
			for _, v := range check(ev).violations {
				got = append(got, v.Invariant)
			}
			if len(got) == 0 || slices.ContainsFunc(got, func(inv string) bool { return inv != tc.want }) {
				t.Errorf("violations %q, want only %q", got, tc.want)
			}
		})
	}
}

// A bridged call ended by a cancel that asked for it, or by its node going
// away, was not cut by bgcall.
func TestCheckerExcusesRequestedAndNodeEndings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		excuse func(*evidence)
	}{
		{"cancel with end_bridged", func(ev *evidence) {
			r := ev.sessions["s1"]
			r.s.Outcome = store.Cancelled
			r.timeline = append(r.timeline[:len(r.timeline)-1],
				store.Entry{Kind: store.KindCancelled, Note: "cancelled while bridged by " + runName}, store.Entry{Kind: store.KindFinished})
		}},
		{"bridged as a cancel landed while B held", func(ev *evidence) {
			r := ev.sessions["s1"]
			r.s.Outcome = store.Cancelled
			r.timeline = append(r.timeline[:len(r.timeline)-2],
				store.Entry{Kind: store.KindCancelled, Note: "cancelled while callee_hold by " + runName}, store.Entry{Kind: store.KindFinished})
		}},
		{"node restarted", func(ev *evidence) {
			ev.nodes[0].originates[1].Cause, ev.nodes[0].originates[1].Ended = "", at(8000)
			ev.nodes[0].originates[2].Cause, ev.nodes[0].originates[2].Ended = "", at(8000)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := soundEvidence()
			n := &ev.nodes[0]
			n.originates[1].Cause, n.originates[1].Ended = killCause, at(8000)
			n.originates[2].Cause = killCause
			n.commands = append(n.commands, "api uuid_kill b2 NORMAL_CLEARING")
			tc.excuse(ev)
			if v := check(ev).violations; len(v) != 0 {
				t.Errorf("violations %+v", v)
			}
		})
	}
}

// An uncertain cancel (answered "already finished" after a try whose
// answer was lost) counts only if the run's cancel did land.
func TestCheckerUncertainCancel(t *testing.T) {
	ev := soundEvidence()
	ev.cancels["s1"] = cancelAck{at: at(3400), uncertain: true}
	if v := check(ev).violations; len(v) != 0 {
		t.Errorf("a cancel that never landed was held against the session: %+v", v)
	}
}

func TestKeyShape(t *testing.T) {
	for key, want := range map[string]string{
		"chaos7:due":                    "due",
		"chaos7:s:0123456789abcdefghjk": "s:*",
		"chaos7:own:r1-2":               "own:*",
		"chaos7:replicas":               "replicas",
		"chaos12:caller:100001:live":    "caller:*:live",
	} {
		if got := keyShape(key); got != want {
			t.Errorf("keyShape(%q) = %q, want %q", key, got, want)
		}
	}
	if !strings.Contains(keyShape("x"), "x") {
		t.Error("a key without namespace loses its name")
	}
}
