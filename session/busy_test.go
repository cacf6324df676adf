package session_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// busyOptions asks whether A is busy every 100 ms, B holding up to wait.
func busyOptions(wait time.Duration, n session.Notifier) harnessOpt {
	return withOptions(func(o *session.Options) {
		o.CallerBusy = session.CallerBusy{Check: session.BusyChannels, Wait: wait, Interval: 100 * time.Millisecond, Defer: 200 * time.Millisecond}
		o.Notifier = n
	})
}

// told drains what the engine asked n to send so far.
func told(n messages) []session.Message {
	var out []session.Message
	for {
		select {
		case m := <-n:
			out = append(out, m)
		default:
			return out
		}
	}
}

// inACall puts a in a call to other on n, as a phone would: a's own leg
// and other's answered leg stay up until the test hangs a's leg up.
func inACall(t *testing.T, h *harness, n *fssim.Node, a, other string) string {
	t.Helper()
	n.SetSubscriber(other, fssim.Behavior{Action: fssim.Answer})
	leg, err := n.Call(fssim.CallOptions{From: a, To: other})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(n.Bridges()) == 0 || !slices.ContainsFunc(n.Bridges(), func(b fssim.Bridge) bool { return b.A == leg || b.B == leg }) {
		if time.Now().After(deadline) {
			t.Fatalf("%s's call to %s was never bridged", a, other)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return leg
}

func hangUp(t *testing.T, h *harness, leg string) {
	t.Helper()
	kill, _ := freeswitch.UUIDKill(leg, freeswitch.NormalClearing)
	if _, err := h.pool.API(context.Background(), "fs1", kill); err != nil {
		t.Fatalf("hang up %s: %v", leg, err)
	}
}

func hasEntry(tl []store.Entry, kind store.Kind, note string) bool {
	return slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Kind == kind && strings.Contains(e.Note, note) })
}

// TestCallerBusyToTheEnd: A is in another call all the while B holds. B
// hears the hold prompt, then the unavailable prompt, and is hung up; A is
// never rung and gets the message; the outcome is caller_busy.
func TestCallerBusyToTheEnd(t *testing.T) {
	msgs := make(messages, 4)
	h := newHarness(t, busyOptions(600*time.Millisecond, msgs))
	n := h.nodes[0]
	other := inACall(t, h, n, "8101", "8109")
	n.SetSubscriber("8102", answer)
	n.SetSubscriber("8101", answer)
	s := h.create("8101", "8102")
	got := h.waitOutcome(s.ID)
	tl := h.timeline(s.ID)
	if got.Outcome != store.CallerBusy {
		t.Fatalf("outcome %s, want caller_busy\n%s", got.Outcome, formatTimeline(tl))
	}
	if a := h.originates("8101"); len(a) != 0 {
		t.Errorf("A was rung %d times while in a call", len(a))
	}
	if !hasEntry(tl, store.KindCallerBusy, "caller busy: channel sofia/internal/8101@") {
		t.Errorf("the timeline does not say A was busy in which call\n%s", formatTimeline(tl))
	}
	if got.AnsweredAt.IsZero() || got.FinishedAt.Sub(got.AnsweredAt) < 600*time.Millisecond {
		t.Errorf("B held from %v to %v, want the whole wait of 600ms", got.AnsweredAt, got.FinishedAt)
	}
	hangUp(t, h, other)
	h.waitIdle()
	p := h.prompts(got.CalleeLeg)
	if len(p) < 2 || p[0] != session.DefaultPrompts().Hold || p[len(p)-1] != session.DefaultPrompts().CallerUnavailable {
		t.Errorf("B heard %v, want the hold prompt, then the unavailable prompt", p)
	}
	if b := h.originates("8102"); len(b) != 1 || b[0].Ended.IsZero() {
		t.Errorf("B's legs %+v, want one, ended", b)
	}
	h.waitLooked(h.eng)
	// The message goes out after the session is let go: wait for it.
	select {
	case m := <-msgs:
		if !m.CallerBusy || m.Caller != "8101" || m.Callee != "8102" {
			t.Errorf("message to A: %+v, want one saying B called while A was busy", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no message to A")
	}
	if m := told(msgs); len(m) != 0 {
		t.Errorf("more messages to A: %+v, want one", m)
	}
}

// TestCallerBusyThenFree: A hangs up the other call while B holds; A is
// rung then, once, and A and B are bridged.
func TestCallerBusyThenFree(t *testing.T) {
	msgs := make(messages, 4)
	h := newHarness(t, busyOptions(20*time.Second, msgs))
	n := h.nodes[0]
	other := inACall(t, h, n, "8201", "8209")
	n.SetSubscriber("8202", answer)
	n.SetSubscriber("8201", talkShort)
	s := h.create("8201", "8202")
	h.waitFor(s.ID, "A found busy", func(store.Session) bool {
		return hasEntry(h.timeline(s.ID), store.KindCallerBusy, "caller busy")
	})
	if a := h.originates("8201"); len(a) != 0 {
		t.Fatalf("A was rung while busy")
	}
	hangUp(t, h, other)
	got := h.waitOutcome(s.ID)
	tl := h.timeline(s.ID)
	if got.Outcome != store.Completed || got.BridgedAt.IsZero() {
		t.Fatalf("outcome %s, bridged at %v; want completed after a bridge\n%s", got.Outcome, got.BridgedAt, formatTimeline(tl))
	}
	if !hasEntry(tl, store.KindCallerDialing, "A is free again") {
		t.Errorf("the timeline does not say A was rung once free\n%s", formatTimeline(tl))
	}
	if a := h.originates("8201"); len(a) != 1 {
		t.Errorf("A rung %d times, want once", len(a))
	}
	h.waitLooked(h.eng)
	if m := told(msgs); len(m) != 0 {
		t.Errorf("A was told %+v of a call A took", m)
	}
}

// TestCallerBusyBeforeCallee: with the check before B is dialled, a busy
// A puts the attempt off without counting it; once A is free, B is
// dialled as the first attempt.
func TestCallerBusyBeforeCallee(t *testing.T) {
	h := newHarness(t, busyOptions(time.Second, nil), withOptions(func(o *session.Options) { o.CallerBusy.BeforeCallee = true }))
	n := h.nodes[0]
	other := inACall(t, h, n, "8301", "8309")
	n.SetSubscriber("8302", answer)
	n.SetSubscriber("8301", talkShort)
	s := h.create("8301", "8302")
	deferred := func() int {
		k := 0
		for _, e := range h.timeline(s.ID) {
			if e.Kind == store.KindDeferred && strings.Contains(e.Note, "caller busy") && strings.Contains(e.Note, "B not dialled, attempt 1 put off") {
				k++
			}
		}
		return k
	}
	h.waitFor(s.ID, "two attempts put off", func(store.Session) bool { return deferred() >= 2 })
	if st, _ := h.st.Get(context.Background(), s.ID); st.Attempts != 0 || len(h.originates("8302")) != 0 {
		t.Fatalf("%d attempts counted and B dialled %d times while A was busy, want none", st.Attempts, len(h.originates("8302")))
	}
	hangUp(t, h, other)
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.Completed || got.Attempts != 1 {
		t.Fatalf("outcome %s after %d attempts, want completed after 1\n%s", got.Outcome, got.Attempts, formatTimeline(h.timeline(s.ID)))
	}
	if b := h.originates("8302"); len(b) != 1 {
		t.Errorf("B dialled %d times, want once", len(b))
	}
}

// TestCallerBusyCancelled: a cancel while B holds for a busy A plays B
// the cancel prompt and ends B's leg; A is never rung nor told.
func TestCallerBusyCancelled(t *testing.T) {
	msgs := make(messages, 4)
	h := newHarness(t, busyOptions(20*time.Second, msgs))
	n := h.nodes[0]
	inACall(t, h, n, "8401", "8409")
	n.SetSubscriber("8402", answer)
	s := h.create("8401", "8402")
	held := h.waitFor(s.ID, "A found busy", func(store.Session) bool {
		return hasEntry(h.timeline(s.ID), store.KindCallerBusy, "caller busy")
	})
	// B hears the hold prompt: B's originate returned (a prompt sent
	// before is dropped, the cancel prompt too).
	for deadline := time.Now().Add(5 * time.Second); len(h.prompts(held.CalleeLeg)) == 0; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("B never heard the hold prompt")
		}
	}
	if _, err := h.eng.CancelBy(context.Background(), s.ID, false, "test"); err != nil {
		t.Fatal(err)
	}
	if got := h.waitOutcome(s.ID); got.Outcome != store.Cancelled {
		t.Fatalf("outcome %s, want cancelled", got.Outcome)
	}
	h.waitChannel(held.CalleeLeg, false)
	if p := h.prompts(held.CalleeLeg); !slices.Contains(p, session.DefaultPrompts().Cancelled) {
		t.Errorf("B heard %v, want the cancel prompt\n%s\n%s", p, formatTimeline(h.timeline(s.ID)), strings.Join(n.Commands(), "\n"))
	}
	h.waitLooked(h.eng)
	if a, m := h.originates("8401"), told(msgs); len(a) != 0 || len(m) != 0 {
		t.Errorf("A rung %d times and told %+v, want neither", len(a), m)
	}
}

// TestCallerBusyResumedAfterRestart: the replica stops while B holds for
// a busy A; its next run asks again, keeps B on hold, and rings A once A
// is free.
func TestCallerBusyResumedAfterRestart(t *testing.T) {
	h := newHarness(t, withoutEngine(), busyOptions(20*time.Second, nil), withOptions(func(o *session.Options) { o.Replica = "steady" }))
	n := h.nodes[0]
	other := inACall(t, h, n, "8501", "8509")
	n.SetSubscriber("8502", answer)
	n.SetSubscriber("8501", talkShort)
	var stop func()
	h.eng, stop = h.startStoppable(h.opts)
	s := h.create("8501", "8502")
	h.waitFor(s.ID, "A found busy", func(store.Session) bool {
		return hasEntry(h.timeline(s.ID), store.KindCallerBusy, "caller busy")
	})
	stop()
	before := len(n.Commands())
	h.eng, _ = h.startStoppable(h.opts)
	h.waitFor(s.ID, "A found busy again after the restart", func(store.Session) bool {
		k := 0
		for _, e := range h.timeline(s.ID) {
			if e.Kind == store.KindCallerBusy {
				k++
			}
		}
		return k >= 2
	})
	if !slices.ContainsFunc(n.Commands()[before:], func(c string) bool { return strings.HasPrefix(c, "api show channels like 8501") }) {
		t.Errorf("the new run did not ask whether A is busy: %q", n.Commands()[before:])
	}
	hangUp(t, h, other)
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.Completed || got.Attempts != 1 {
		t.Fatalf("outcome %s after %d attempts, want completed after 1\n%s", got.Outcome, got.Attempts, formatTimeline(h.timeline(s.ID)))
	}
	if a, b := len(h.originates("8501")), len(h.originates("8502")); a != 1 || b != 1 {
		t.Errorf("A dialled %d times and B %d, want once each", a, b)
	}
}

// BenchmarkBusyCheckReaction measures, at the simulator, B's answer to A's
// originate with A asked first (the default) and without (check off): what
// the busy check costs the silence B hears before A rings.
func BenchmarkBusyCheckReaction(b *testing.B) {
	const sessions, rate = 60, 50 // sessions a round, new sessions per second
	for _, check := range []session.BusyCheck{session.BusyOff, session.BusyChannels} {
		b.Run(string(check), func(b *testing.B) {
			h := newHarness(b, withOptions(func(o *session.Options) {
				o.CallerBusy = session.DefaultCallerBusy()
				o.CallerBusy.Check = check
			}))
			n := h.nodes[0]
			round := 0
			for b.Loop() {
				round++
				var ids []string
				for i := range sessions {
					a, c := fmt.Sprintf("6%d%03d1", round, i), fmt.Sprintf("6%d%03d2", round, i)
					n.SetSubscriber(c, answer)
					n.SetSubscriber(a, fssim.Behavior{Action: fssim.Answer, Ring: simSecond, Talk: 100 * time.Millisecond})
					ids = append(ids, h.create(a, c).ID)
					time.Sleep(time.Second / rate)
				}
				for _, id := range ids {
					h.waitOutcome(id)
				}
			}
			answered := map[string]time.Time{}
			for _, o := range n.Originates() {
				if o.Vars["bgcall_leg"] == "callee" && !o.Answered.IsZero() {
					answered[o.Vars["bgcall_session"]] = o.Answered
				}
			}
			var d []time.Duration
			for _, o := range n.Originates() {
				if at, ok := answered[o.Vars["bgcall_session"]]; ok && o.Vars["bgcall_leg"] == "caller" {
					d = append(d, o.Start.Sub(at))
				}
			}
			if len(d) == 0 {
				b.Fatal("no caller leg dialled")
			}
			slices.Sort(d)
			q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))]) / float64(time.Millisecond) }
			b.ReportMetric(q(0.5), "answer-to-A-p50-ms")
			b.ReportMetric(q(0.99), "answer-to-A-p99-ms")
		})
	}
}
