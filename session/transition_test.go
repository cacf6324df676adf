package session

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/store"
)

var updateDocs = flag.Bool("update-docs", false, "write docs/engine.md from the transition table")

const (
	legB = "0b0b0b0b-0000-4000-8000-00000000000b"
	legA = "0a0a0a0a-0000-4000-8000-00000000000a"
)

// machineUnderTest is an engine on in-memory fakes, not running: the test
// hands inputs to its first worker and settles what they queue.
type machineUnderTest struct {
	e   *Engine
	st  *fakeStore
	sw  *fakeSwitch
	sms *fakeNotifier
	w   *worker
}

func newMachine(t *testing.T) *machineUnderTest {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	m := &machineUnderTest{st: newFakeStore(now), sw: &fakeSwitch{up: map[string]bool{legA: true, legB: true}}, sms: &fakeNotifier{}}
	p := DefaultPolicy()
	p.Jitter, p.Quiet = 0, QuietHours{}
	e, err := New(Options{Store: m.st, Pool: m.sw, Replica: "r1", Policy: p, Workers: 1, Notifier: m.sms,
		Prompts: Prompts{Hold: "hold.wav", CallerUnavailable: "unavailable.wav", Cancelled: "cancelled.wav", Confirm: "confirm.wav"},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: m.st.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.fence.until = time.Now().Add(time.Hour) // the lease is held
	t.Cleanup(func() {
		for _, t := range e.workers[0].live {
			e.workers[0].stopTimer(t)
		}
	})
	m.e, m.w = e, e.workers[0]
	return m
}

// sessionIn returns a session steered by r1 in state st, with the legs
// that state has.
func sessionIn(st store.State, now time.Time) store.Session {
	s := store.Session{ID: "s1", Caller: "1001", Callee: "1002", Source: "api", State: st, Version: 3, Fence: 1,
		Owner: "r1", Attempts: 1, CreatedAt: now.Add(-time.Minute), UpdatedAt: now, DueAt: now, DeadlineAt: now.Add(time.Hour)}
	if st != store.Waiting {
		s.Node, s.CalleeLeg = "fs1", legB
	}
	if st == store.CalleeHold || st == store.Bridged {
		s.CallerLeg = legA
	}
	return s
}

// words turns the commands the fake switch saw into the table's words.
func words(cmds []string, s store.Session, sms int) string {
	var out []string
	who := func(cmd string) string {
		switch {
		case strings.Contains(cmd, legB), strings.Contains(cmd, "bgcall_leg=callee"):
			return "B"
		case strings.Contains(cmd, legA), strings.Contains(cmd, "bgcall_leg=caller"), strings.Contains(cmd, s.CallerLeg):
			return "A"
		}
		return "?"
	}
	for _, c := range cmds {
		verb, _, _ := strings.Cut(strings.TrimPrefix(c, "bgapi "), " ")
		switch verb {
		case "originate":
			out = append(out, "originate "+who(c))
		case "uuid_kill":
			out = append(out, "hang up "+who(c))
		case "uuid_broadcast":
			kind := map[bool]string{true: "hold", false: ""}[strings.Contains(c, "hold.wav")]
			switch {
			case strings.Contains(c, "unavailable.wav"):
				kind = "unavailable"
			case strings.Contains(c, "cancelled.wav"):
				kind = "cancel"
			case strings.Contains(c, "confirm.wav"):
				kind = "confirm"
			}
			out = append(out, kind+" prompt to "+who(c))
		case "avmd":
			out = append(out, "avmd "+c[strings.LastIndex(c, " ")+1:]+" "+who(c))
		case "uuid_break":
			// A closing prompt first stops the hold prompt, the hold
			// prompt the confirmation prompt; part of it.
		case "uuid_dump":
			out = append(out, "uuid_dump "+who(c))
		case "show":
			out = append(out, "busy check of A")
		case "uuid_getvar":
			// Part of the busy check: whether a channel of A's is a
			// background call's.
		default:
			out = append(out, verb)
		}
	}
	for range sms {
		out = append(out, "SMS to A")
	}
	return strings.Join(out, ", ")
}

func kindsOf(entries []store.Entry) string {
	var ks []string
	for _, e := range entries {
		ks = append(ks, string(e.Kind))
	}
	return strings.Join(ks, ", ")
}

// setups are the conditions the table's rows name: each puts a tracked
// session (and the fakes) into it, and may shape the input.
var setups = map[string]func(m *machineUnderTest, t *tracked, in *input){
	"":                            func(*machineUnderTest, *tracked, *input) {},
	"no node connected":           func(m *machineUnderTest, _ *tracked, _ *input) { m.sw.noNode = true },
	"past max_total":              func(m *machineUnderTest, t *tracked, _ *input) { t.s.DeadlineAt = m.st.now.Add(-time.Second) },
	"the claim began the attempt": func(*machineUnderTest, *tracked, *input) {},
	"USER_BUSY, attempts left":    func(_ *machineUnderTest, _ *tracked, in *input) { in.cause = freeswitch.UserBusy },
	"UNALLOCATED_NUMBER":          func(_ *machineUnderTest, _ *tracked, in *input) { in.cause = freeswitch.UnallocatedNumber },
	"NO_ANSWER, attempts left":    func(_ *machineUnderTest, _ *tracked, in *input) { in.cause = freeswitch.NoAnswer },
	"NO_ANSWER, last attempt": func(_ *machineUnderTest, t *tracked, in *input) {
		in.cause, t.s.Attempts = freeswitch.NoAnswer, t.policy.MaxAttempts
	},
	"attempts left": func(*machineUnderTest, *tracked, *input) {},
	"B gone": func(m *machineUnderTest, t *tracked, in *input) {
		in.probed.caller.exists = true
		t.s.UpdatedAt = m.st.now.Add(-time.Minute) // the attempt began long ago
	},
	"B's leg not created yet": func(*machineUnderTest, *tracked, *input) {}, // the attempt began just now
	"B answered": func(_ *machineUnderTest, _ *tracked, in *input) {
		in.probed.callee = legStatus{exists: true, answered: true}
	},
	"B rings":          func(_ *machineUnderTest, _ *tracked, in *input) { in.probed.callee = legStatus{exists: true} },
	"node unreachable": func(_ *machineUnderTest, _ *tracked, in *input) { in.probed.callee.err = esl.ErrNotConnected },
	"A gone": func(_ *machineUnderTest, _ *tracked, in *input) {
		in.probed.callee = legStatus{exists: true, answered: true}
	},
	"A gone, A's window over": func(m *machineUnderTest, t *tracked, in *input) {
		in.probed.callee = legStatus{exists: true, answered: true}
		t.s.AnsweredAt = m.st.now.Add(-t.policy.CallerRingTime - m.e.opt.LegGrace - m.e.opt.CallerBusy.Wait)
	},
	"A rings": func(_ *machineUnderTest, _ *tracked, in *input) {
		in.probed.callee, in.probed.caller = up(), legStatus{exists: true}
	},
	"both bridged": func(_ *machineUnderTest, _ *tracked, in *input) {
		in.probed.callee, in.probed.caller = bridgedLeg(), bridgedLeg()
	},
	"both up":                            func(_ *machineUnderTest, _ *tracked, in *input) { in.probed.callee, in.probed.caller = up(), up() },
	"jobs not in":                        func(_ *machineUnderTest, t *tracked, _ *input) { t.calleeParked, t.callerParked = false, false },
	"both jobs in":                       func(_ *machineUnderTest, t *tracked, _ *input) { t.calleeParked, t.callerParked = true, true },
	"B's job in":                         func(_ *machineUnderTest, t *tracked, _ *input) { t.calleeParked = true },
	"B's job not in":                     func(_ *machineUnderTest, t *tracked, _ *input) { t.calleeParked = false },
	"A's job in":                         func(_ *machineUnderTest, t *tracked, _ *input) { t.callerParked = true },
	"A's job not in":                     func(*machineUnderTest, *tracked, *input) {},
	"A has not answered":                 func(*machineUnderTest, *tracked, *input) {},
	"A has not answered, B's job not in": func(_ *machineUnderTest, t *tracked, _ *input) { t.calleeParked = false },
	"bridge sent":                        func(_ *machineUnderTest, t *tracked, _ *input) { t.bridging = true },
	"bridge sent, its event late": func(m *machineUnderTest, t *tracked, _ *input) {
		t.bridging = true
		m.sw.bridged = map[string]bool{legA: true, legB: true}
	},
	"bridge sent, not bridged": func(_ *machineUnderTest, t *tracked, in *input) {
		t.bridging, t.bridgeAsked = true, true
		in.probed.callee, in.probed.caller = up(), up()
	},
	"end bridged": func(*machineUnderTest, *tracked, *input) {},
	"connection lost, attempts left": func(_ *machineUnderTest, _ *tracked, in *input) {
		in.err = fmt.Errorf("fs1: bgapi originate: %w", esl.ErrConnectionLost)
	},
	"caller_busy.before_callee": func(m *machineUnderTest, _ *tracked, _ *input) { m.e.opt.CallerBusy.BeforeCallee = true },
	"caller_busy.before_callee, A busy": func(m *machineUnderTest, _ *tracked, _ *input) {
		m.e.opt.CallerBusy.BeforeCallee, m.sw.callerBusy = true, true
	},
	"A free": func(m *machineUnderTest, t *tracked, in *input) { beingAsked(m, t, in, &checked{}) },
	"A busy": func(m *machineUnderTest, t *tracked, in *input) { beingAsked(m, t, in, busyAnswer()) },
	"check failed": func(m *machineUnderTest, t *tracked, in *input) {
		beingAsked(m, t, in, &checked{err: esl.ErrNotConnected})
	},
	"A busy, wait over": func(m *machineUnderTest, t *tracked, in *input) {
		beingAsked(m, t, in, busyAnswer())
		t.s.AnsweredAt = m.st.now.Add(-m.e.opt.CallerBusy.Wait)
	},
	"A being asked, no answer": func(m *machineUnderTest, t *tracked, in *input) { beingAsked(m, t, in, nil) },
	"A busy, asking again": func(m *machineUnderTest, t *tracked, in *input) {
		beingAsked(m, t, in, nil)
		t.check, m.sw.callerBusy = 0, true
	},
	"A still busy, asking again": func(m *machineUnderTest, t *tracked, in *input) {
		beingAsked(m, t, in, nil)
		t.check, t.busyNoted, m.sw.callerBusy = 0, true, true
	},
	"A free again, asking again": func(m *machineUnderTest, t *tracked, in *input) {
		beingAsked(m, t, in, nil)
		t.check, t.busyNoted = 0, true
	},
	"A being asked": func(m *machineUnderTest, t *tracked, in *input) {
		beingAsked(m, t, in, nil)
		if in.kind == inProbed {
			in.probed.callee = up()
		}
	},
	"confirmation on": func(_ *machineUnderTest, t *tracked, _ *input) { t.policy.Confirm = true },
	"confirmation and machine detection on": func(m *machineUnderTest, t *tracked, in *input) {
		t.policy.Confirm = true
		m.e.opt.MachineDetection = func(string) bool { return true }
	},
	"machine detection on": func(m *machineUnderTest, _ *tracked, _ *input) {
		m.e.opt.MachineDetection = func(string) bool { return true }
	},
	"B answered, confirmation on": func(_ *machineUnderTest, t *tracked, in *input) {
		t.policy.Confirm = true
		in.probed.callee = legStatus{exists: true, answered: true}
	},
	"last attempt": func(_ *machineUnderTest, t *tracked, _ *input) { t.s.Attempts = t.policy.MaxAttempts },
	"B pressed 1":  func(_ *machineUnderTest, _ *tracked, in *input) { in.digit = "1" },
	"B pressed 2":  func(_ *machineUnderTest, _ *tracked, in *input) { in.digit = "2" },
	"B pressed 2, declining opts out": func(m *machineUnderTest, _ *tracked, in *input) {
		in.digit, m.e.opt.DeclineOptsOut = "2", true
	},
	"B pressed 5": func(_ *machineUnderTest, _ *tracked, in *input) { in.digit = "5" },
	"B pressed 1, machine detection on": func(m *machineUnderTest, _ *tracked, in *input) {
		in.digit = "1"
		m.e.opt.MachineDetection = func(string) bool { return true }
	},
	"the confirmation prompt B interrupted": func(_ *machineUnderTest, _ *tracked, in *input) {
		in.file = "/usr/share/freeswitch/sounds/confirm.wav"
	},
	"A answered": func(m *machineUnderTest, t *tracked, in *input) {
		t.callerHeard = m.st.now
		if in.kind == inProbed {
			in.probed.callee, in.probed.caller = up(), up()
		}
	},
}

// beingAsked puts t where A is asked whether A is in a call: before B is
// dialled (waiting) or with B holding and no caller leg yet. c, when not
// nil, is the node's answer the input brings.
func beingAsked(m *machineUnderTest, t *tracked, in *input, c *checked) {
	t.check, t.checkNode = 7, "fs1"
	if t.s.State == store.CalleeHold {
		t.s.CallerLeg, t.s.AnsweredAt = "", m.st.now
		t.holdSent = in.kind != inProbed // B hears the hold prompt, unless taken over
	}
	if c != nil {
		c.seq = t.check
		in.check = c
	}
}

func busyAnswer() *checked {
	return &checked{busy: true, why: "channel sofia/internal/1001@10.0.0.1 (c0c0c0c0-0000-4000-8000-00000000000c) is up"}
}

func up() legStatus         { return legStatus{exists: true, answered: true} }
func bridgedLeg() legStatus { return legStatus{exists: true, answered: true, bridged: true} }

func inputNamed(name string) (inputKind, bool) {
	for k := range inputKinds {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

// TestTransitionTable holds the state functions to the table, row by row,
// on in-memory fakes: each row puts a session in its state and condition,
// hands the input to the machine (or cancels), and compares the state it
// ends in, the commands that went to FreeSWITCH and the timeline entries
// written with the row's.
func TestTransitionTable(t *testing.T) {
	for _, row := range transitions {
		name := fmt.Sprintf("%s/%s/%s/%s", row.state, row.input, row.leg, row.when)
		t.Run(name, func(t *testing.T) {
			m := newMachine(t)
			setup, ok := setups[row.when]
			if !ok {
				t.Fatalf("no setup for the condition %q", row.when)
			}
			ctx := context.Background()
			s := sessionIn(row.state, m.st.now)
			in := input{leg: row.leg, cause: freeswitch.NormalClearing, err: errors.New("fs1: bgapi originate: -ERR DESTINATION_OUT_OF_ORDER"), at: time.Now()}
			kind, isInput := inputNamed(row.input)
			in.kind = kind
			if kind == inProbed {
				in.probed = &probed{}
			}
			var tr *tracked
			if row.input != "claimed" && row.input != "cancel" {
				tr = m.w.track(s)
			} else {
				tr = &tracked{s: s, policy: m.e.policyOf(s)}
			}
			// B holds: as a rule its originate returned long before.
			tr.calleeParked = s.State == store.Confirming || s.State == store.CalleeHold || s.State == store.Bridged
			setup(m, tr, &in)
			m.st.put(tr.s)
			before := len(m.st.timelines[s.ID])
			switch {
			case row.input == "claimed":
				m.w.handle(ctx, job{kind: jobClaimed, id: s.ID, sess: tr.s})
			case row.input == "cancel":
				_, err := m.e.CancelBy(ctx, s.ID, row.when == "end bridged", "test")
				if err != nil && !errors.Is(err, ErrBridged) {
					t.Fatal(err)
				}
			case isInput:
				m.w.step(ctx, tr, in)
			default:
				t.Fatalf("unknown input %q", row.input)
			}
			settle(ctx, m.e)

			got, _ := m.st.Get(ctx, s.ID)
			next := ""
			switch {
			case got.State == store.Finished:
				next = "finished: " + string(got.Outcome)
			case got.State != row.state:
				next = string(got.State)
			}
			if next != row.next {
				t.Errorf("next state %q, want %q", next, row.next)
			}
			if c := words(m.sw.sent(), s, len(m.sms.sent)); c != row.commands {
				t.Errorf("commands %q, want %q\n%s", c, row.commands, strings.Join(m.sw.sent(), "\n"))
			}
			if k := kindsOf(m.st.timelines[s.ID][before:]); k != row.timeline {
				t.Errorf("timeline %q, want %q", k, row.timeline)
			}
		})
	}
}

// TestTransitionTableComplete: every state has a row for every input (and
// cancel), so the table says what each pair does, even nothing.
func TestTransitionTableComplete(t *testing.T) {
	for _, st := range store.LiveStates {
		for _, name := range append(inputNames[:], "cancel") {
			if !slices.ContainsFunc(transitions, func(r transition) bool { return r.state == st && r.input == name }) {
				t.Errorf("no row for %s on %s", st, name)
			}
		}
	}
}

// TestTransitionTableDocs: docs/engine.md is the table, as generated.
func TestTransitionTableDocs(t *testing.T) {
	want := engineDoc()
	const path = "../docs/engine.md"
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./session -run TransitionTableDocs -update-docs writes it)", err)
	}
	if string(got) != want {
		t.Errorf("docs/engine.md is not the table in session/machine.go; go test ./session -run TransitionTableDocs -update-docs rewrites it")
	}
}

func engineDoc() string {
	var b strings.Builder
	b.WriteString(`# The session engine, state by state

Generated from the table in session/machine.go by
` + "`go test ./session -run TransitionTableDocs -update-docs`" + `; the transition table test
(` + "`go test ./session -run Transition`" + `, no Redis or FreeSWITCH needed) holds the code to every row.

Inputs: **claimed** (the scheduler claimed the session), **answer** (CHANNEL_ANSWER), **parked**
(BACKGROUND_JOB +OK: the originate handed the answered leg to park), **job failed**
(BACKGROUND_JOB -ERR), **hangup** (CHANNEL_HANGUP), **node lost** (the leg vanished with its node),
**bridge** (CHANNEL_BRIDGE), **playback stop**, **deadline** (the state's timer), **not sent** (an
originate never reached FreeSWITCH), **probed** (FreeSWITCH's answer about the legs after a takeover
or restart), **checked** (the node's answer whether A is in a call, see
[caller-busy.md](caller-busy.md)), **dtmf** (a key B pressed), **beep** (CUSTOM avmd::beep: mod_avmd
heard a voicemail's beep), **cancel** (from any replica). **confirming** is the state of a session
that asks B to press 1 before A is dialled ([confirmation.md](confirmation.md)). An empty "next" keeps the state; a row with nothing in it
deliberately does nothing. A closing prompt stops the hold prompt first (uuid_break).

`)
	var last store.State
	for _, r := range transitions {
		if r.state != last {
			fmt.Fprintf(&b, "\n## %s\n\n| input | leg | when | next | commands to FreeSWITCH | timeline |\n|---|---|---|---|---|---|\n", r.state)
			last = r.state
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.input, r.leg, r.when, r.next, r.commands, r.timeline)
	}
	return b.String()
}

// TestTransitionSequences feeds whole event sequences, in the orders
// FreeSWITCH may deliver them, through the worker as the dispatcher would,
// and checks the outcome the channels call for.
func TestTransitionSequences(t *testing.T) {
	ev := func(name, leg string) esl.Event {
		e := esl.Event{Node: "fs1", Name: name, UniqueID: leg, Received: time.Now()}
		if name == freeswitch.EventBackgroundJob {
			e.UniqueID, e.JobUUID, e.Body = "", leg, "+OK "+leg+"\n"
		}
		return e
	}
	failed := func(leg, cause string) esl.Event {
		return esl.Event{Node: "fs1", Name: freeswitch.EventBackgroundJob, JobUUID: leg, Body: "-ERR " + cause + "\n", Received: time.Now()}
	}
	hangup := func(leg, cause string) esl.Event {
		e := ev(freeswitch.EventChannelHangup, leg)
		e.HangupCause = freeswitch.Cause(cause)
		return e
	}
	const answer, parked, bridge = freeswitch.EventChannelAnswer, freeswitch.EventBackgroundJob, freeswitch.EventChannelBridge
	for _, c := range []struct {
		name    string
		events  []esl.Event // callee leg is legB; the caller leg is whatever bgcall dialled (legA stands for it)
		state   store.State
		outcome store.Outcome
		bridges int
	}{
		{"in order, then A hangs up", []esl.Event{ev(answer, legB), ev(parked, legB), ev(answer, legA), ev(parked, legA), ev(bridge, legB), hangup(legA, "NORMAL_CLEARING")},
			store.Finished, store.Completed, 1},
		{"B's job before B's answer", []esl.Event{ev(parked, legB), ev(answer, legB), ev(answer, legA), ev(parked, legA), ev(bridge, legB)},
			store.Bridged, "", 1},
		{"a duplicate CHANNEL_ANSWER of A", []esl.Event{ev(answer, legB), ev(parked, legB), ev(answer, legA), ev(answer, legA), ev(parked, legA), ev(bridge, legB)},
			store.Bridged, "", 1},
		{"A's originate cancelled after A answered, then the bridge", []esl.Event{ev(answer, legB), ev(parked, legB), ev(answer, legA),
			failed(legA, "ORIGINATOR_CANCEL"), ev(bridge, legB)}, store.Bridged, "", 0},
		{"a late ORIGINATOR_CANCEL once bridged", []esl.Event{ev(answer, legB), ev(parked, legB), ev(answer, legA), ev(parked, legA), ev(bridge, legB),
			failed(legA, "ORIGINATOR_CANCEL")}, store.Bridged, "", 1},
		{"B hangs up before its originate returns", []esl.Event{hangup(legB, "NO_ANSWER"), failed(legB, "NO_ANSWER")},
			store.Waiting, "", 0},
		{"A refuses before answering", []esl.Event{ev(answer, legB), ev(parked, legB), failed(legA, "USER_BUSY"), hangup(legA, "USER_BUSY")},
			store.Finished, store.CallerMissed, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newMachine(t)
			ctx := context.Background()
			s := sessionIn(store.DialingCallee, m.st.now)
			m.st.put(s)
			m.w.track(s)
			for _, e := range c.events {
				cur, _ := m.st.Get(ctx, s.ID)
				if e.UniqueID == legA {
					e.UniqueID = cur.CallerLeg
				}
				if e.JobUUID == legA {
					e.JobUUID = cur.CallerLeg
				}
				m.w.handle(ctx, job{kind: jobEvent, id: s.ID, ev: &e})
				settle(ctx, m.e)
			}
			got, _ := m.st.Get(ctx, s.ID)
			if got.State != c.state || got.Outcome != c.outcome {
				t.Errorf("ended %s %s, want %s %s\n%s", got.State, got.Outcome, c.state, c.outcome, strings.Join(m.sw.sent(), "\n"))
			}
			bridges := 0
			for _, cmd := range m.sw.sent() {
				if strings.HasPrefix(cmd, "uuid_bridge") {
					bridges++
				}
				if got.State == store.Bridged && strings.HasPrefix(cmd, "uuid_kill") {
					t.Errorf("a bridged call got %q", cmd)
				}
			}
			if bridges != c.bridges {
				t.Errorf("%d uuid_bridge sent, want %d", bridges, c.bridges)
			}
		})
	}
}

// TestCancelUnknownOrFinishedSendsNothing: a cancel of a session that does
// not exist or is over is refused, and nothing goes to FreeSWITCH (above
// all no hupall, which would end every call on the node).
func TestCancelUnknownOrFinishedSendsNothing(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	if _, err := m.e.CancelBy(ctx, "nosuchsession", false, "test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancel of an unknown session: %v, want ErrNotFound", err)
	}
	done := sessionIn(store.Finished, m.st.now)
	done.Outcome = store.Completed
	m.st.put(done)
	if _, err := m.e.CancelBy(ctx, done.ID, true, "test"); !errors.Is(err, ErrFinished) {
		t.Errorf("cancel of a finished session: %v, want ErrFinished", err)
	}
	settle(ctx, m.e)
	if sent := m.sw.sent(); len(sent) != 0 {
		t.Errorf("refused cancels sent %q", sent)
	}
}

// TestAdoptConfirming: a session taken over while B was asked to confirm
// has no caller leg to ask about; once FreeSWITCH says B is still up, B is
// asked again, with the whole time to answer.
func TestAdoptConfirming(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	s := sessionIn(store.Confirming, m.st.now)
	m.st.put(s)
	m.w.adopt(ctx, m.w.track(s))
	settle(ctx, m.e)
	if got, want := words(m.sw.sent(), s, 0), "uuid_dump B, confirm prompt to B"; got != want {
		t.Errorf("commands %q, want %q", got, want)
	}
	if tr := m.w.live[s.ID]; tr == nil || tr.timer == nil {
		t.Errorf("no deadline armed for the confirmation")
	}
}

// TestDeclineOptsOut: where B's 2 means "never from this caller", B
// declining stores B's opt-out from A (by the confirmation), and the
// session's end says so; elsewhere a 2 stores none.
func TestDeclineOptsOut(t *testing.T) {
	for _, optsOut := range []bool{true, false} {
		m := newMachine(t)
		m.e.opt.DeclineOptsOut = optsOut
		ctx := context.Background()
		s := sessionIn(store.Confirming, m.st.now)
		m.st.put(s)
		m.w.step(ctx, m.w.track(s), input{kind: inDTMF, leg: roleCallee, digit: "2"})
		settle(ctx, m.e)
		got, _ := m.st.Get(ctx, s.ID)
		if got.Outcome != store.Declined {
			t.Fatalf("opts out %v: outcome %q, want declined", optsOut, got.Outcome)
		}
		tl := m.st.timelines[s.ID]
		note := tl[len(tl)-1].Note
		want := []store.OptOut{{Callee: s.Callee, Caller: s.Caller, By: "confirmation", Since: m.st.now}}
		if !optsOut {
			want = nil
		}
		if !slices.Equal(m.st.optOuts, want) {
			t.Errorf("opts out %v: opt-outs stored %+v, want %+v", optsOut, m.st.optOuts, want)
		}
		if said := strings.Contains(note, "opted out of background calls from "+s.Caller); said != optsOut {
			t.Errorf("opts out %v: the end says %q", optsOut, note)
		}
	}
}

// TestConfirmPromptDefault: options that name the other prompts but not
// the confirmation prompt get the stock one, since any request may switch
// confirmation on; a configured one is kept, with {caller} filled in.
func TestConfirmPromptDefault(t *testing.T) {
	s := store.Session{Caller: "1001"}
	for _, c := range []struct{ set, want string }{
		{"", DefaultPrompts().Confirm},
		{"phrase::bgcall-confirm:{caller}", "phrase::bgcall-confirm:1001"},
	} {
		e, err := New(Options{Store: newFakeStore(time.Now()), Pool: &fakeSwitch{}, Replica: "r1",
			Prompts: Prompts{Hold: "hold.wav", Confirm: c.set}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.confirmPrompt(s); got != c.want {
			t.Errorf("prompts.confirm %q: B hears %q, want %q", c.set, got, c.want)
		}
	}
}
