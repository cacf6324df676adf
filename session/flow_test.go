package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bgcall/fssim"
	"bgcall/notify"
	"bgcall/session"
	"bgcall/store"
)

var (
	answer    = fssim.Behavior{Action: fssim.Answer, Ring: simSecond}
	noAnswer  = fssim.Behavior{Action: fssim.NoAnswer}
	busy      = fssim.Behavior{Action: fssim.Busy, Ring: simSecond}
	talkShort = fssim.Behavior{Action: fssim.Answer, Ring: simSecond, Talk: time.Second}
)

func TestCalleeAnswersAtOnceThenBridge(t *testing.T) {
	h := newHarness(t)
	h.nodes[0].SetSubscriber("1002", answer)
	h.nodes[0].SetSubscriber("1001", talkShort)
	s := h.create("1001", "1002")
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.Completed || got.Attempts != 1 {
		t.Fatalf("outcome %s after %d attempts, want completed after 1\n%s", got.Outcome, got.Attempts, formatTimeline(h.timeline(s.ID)))
	}
	if got.AnsweredAt.IsZero() || got.BridgedAt.IsZero() || got.BridgedAt.Before(got.AnsweredAt) {
		t.Errorf("answered %v, bridged %v", got.AnsweredAt, got.BridgedAt)
	}
	callee, caller := h.originates("1002"), h.originates("1001")
	if len(callee) != 1 || len(caller) != 1 {
		t.Fatalf("originates: %d to B, %d to A; want 1 each", len(callee), len(caller))
	}
	b, a := callee[0], caller[0]
	for _, c := range []struct {
		rec       fssim.OriginateRecord
		cid, role string
	}{{b, "1001", "callee"}, {a, "1002", "caller"}} {
		v := c.rec.Vars
		if v["origination_caller_id_number"] != c.cid || v["ignore_early_media"] != "true" || v["bgcall_session"] != s.ID || v["bgcall_leg"] != c.role || v["park_timeout"] == "" || v["origination_uuid"] != c.rec.UUID {
			t.Errorf("%s leg vars %v", c.role, v)
		}
		if !strings.HasPrefix(c.rec.DialString, "user/") || !strings.HasSuffix(c.rec.DialString, "@example.com") {
			t.Errorf("%s dial string %q", c.role, c.rec.DialString)
		}
	}
	if got.CalleeLeg != b.UUID || got.CallerLeg != a.UUID {
		t.Errorf("stored legs %s/%s, dialled %s/%s", got.CalleeLeg, got.CallerLeg, b.UUID, a.UUID)
	}
	if a.Start.Before(b.Answered) {
		t.Errorf("A was dialled at %v, before B answered at %v", a.Start, b.Answered)
	}
	br := h.nodes[0].Bridges()
	if len(br) != 1 || !(br[0].A == b.UUID && br[0].B == a.UUID) {
		t.Errorf("bridges %+v, want B=%s with A=%s", br, b.UUID, a.UUID)
	}
	if p := h.prompts(b.UUID); len(p) == 0 || p[0] != session.DefaultPrompts().Hold {
		t.Errorf("B heard %v, want the hold prompt first", p)
	}
	want := []string{"created", "attempt", "callee_answered", "caller_dialing", "bridged", "finished"}
	if k := kinds(h.timeline(s.ID)); !slices.Equal(k, want) {
		t.Errorf("timeline %v, want %v", k, want)
	}
	h.waitIdle()
}

func TestCalleeAnswersOnThirdAttempt(t *testing.T) {
	h := newHarness(t)
	h.nodes[0].SetSubscriber("2002", noAnswer, busy, answer)
	h.nodes[0].SetSubscriber("2001", talkShort)
	s := h.create("2001", "2002")
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.Completed || got.Attempts != 3 {
		t.Fatalf("outcome %s after %d attempts, want completed after 3\n%s", got.Outcome, got.Attempts, formatTimeline(h.timeline(s.ID)))
	}
	var causes []string
	for _, e := range h.timeline(s.ID) {
		if e.Kind == store.KindAttemptEnded {
			causes = append(causes, e.Cause)
		}
	}
	if want := []string{"NO_ANSWER", "USER_BUSY"}; !slices.Equal(causes, want) {
		t.Errorf("attempt causes %v, want %v", causes, want)
	}
	if n := h.nodes[0].MaxConcurrent("2002"); n != 1 {
		t.Errorf("B had %d legs at once, want 1", n)
	}
	h.waitIdle()
}

func TestCalleeNeverAnswers(t *testing.T) {
	t.Run("expired by attempts", func(t *testing.T) {
		h := newHarness(t)
		h.nodes[0].SetSubscriber("3002", noAnswer)
		s := h.create("3001", "3002")
		got := h.waitOutcome(s.ID)
		if got.Outcome != store.Expired || got.Attempts != 5 || len(h.originates("3002")) != 5 {
			t.Fatalf("outcome %s after %d attempts (%d originates), want expired after 5", got.Outcome, got.Attempts, len(h.originates("3002")))
		}
		h.waitIdle()
	})
	t.Run("expired by total time", func(t *testing.T) {
		h := newHarness(t, withOptions(func(o *session.Options) {
			o.Policy.MaxAttempts = 0
			o.Policy.MaxTotal = 400 * time.Millisecond
		}))
		h.nodes[0].SetSubscriber("3102", noAnswer)
		s := h.create("3101", "3102")
		got := h.waitOutcome(s.ID)
		if got.Outcome != store.Expired || got.Attempts < 2 {
			t.Fatalf("outcome %s after %d attempts, want expired by max_total after several", got.Outcome, got.Attempts)
		}
		if got.FinishedAt.Sub(got.CreatedAt) > 400*time.Millisecond+time.Second {
			t.Errorf("finished %v after creation; max_total was 400ms", got.FinishedAt.Sub(got.CreatedAt))
		}
		h.waitIdle()
	})
}

func TestCauseRules(t *testing.T) {
	cases := []struct {
		name     string
		behavior fssim.Behavior
		outcome  store.Outcome
		attempts int
		cause    string
	}{
		{"unallocated fails at once", fssim.Behavior{Action: fssim.Unallocated, Ring: simSecond}, store.Failed, 1, "UNALLOCATED_NUMBER"},
		{"rejected gives up after 3", fssim.Behavior{Action: fssim.Reject, Ring: simSecond}, store.Expired, 3, "CALL_REJECTED"},
		{"unregistered retries until max_attempts", fssim.Behavior{Action: fssim.NotRegistered}, store.Expired, 5, ""},
		{"busy retries until max_attempts", busy, store.Expired, 5, ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			callee := "40" + string(rune('1'+i)) + "2"
			h.nodes[0].SetSubscriber(callee, c.behavior)
			s := h.create("4001", callee)
			got := h.waitOutcome(s.ID)
			if got.Outcome != c.outcome || got.Attempts != c.attempts || (c.cause != "" && got.Cause != c.cause) {
				t.Fatalf("outcome %s cause %q after %d attempts; want %s %q after %d\n%s",
					got.Outcome, got.Cause, got.Attempts, c.outcome, c.cause, c.attempts, formatTimeline(h.timeline(s.ID)))
			}
			h.waitIdle()
		})
	}
}

func TestCallerMissed(t *testing.T) {
	var posts atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posts.Add(1) }))
	defer hook.Close()
	n, err := notify.New(notify.Options{Channel: notify.ChannelWebhook, WebhookURL: hook.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	h := newHarness(t, withOptions(func(o *session.Options) { o.Notifier = n }))
	h.nodes[0].SetSubscriber("5002", answer)
	h.nodes[0].SetSubscriber("5001", noAnswer)
	s := h.create("5001", "5002")
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.CallerMissed || got.Cause != "NO_ANSWER" {
		t.Fatalf("outcome %s %s, want caller_missed NO_ANSWER", got.Outcome, got.Cause)
	}
	h.waitIdle()
	if p := h.prompts(got.CalleeLeg); !slices.Contains(p, session.DefaultPrompts().CallerUnavailable) {
		t.Errorf("B heard %v, want the caller-unavailable prompt; commands:\n%s", p, strings.Join(h.nodes[0].Commands(), "\n"))
	}
	b := h.originates("5002")[0]
	if b.Cause != "NORMAL_CLEARING" {
		t.Errorf("B's leg ended %q, want NORMAL_CLEARING by bgcall after the prompt", b.Cause)
	}
	// Settled: the session is over and nothing is queued, so no further
	// message can come from the engine; then the notifier's queue drains.
	h.waitLooked(h.eng)
	deadline := time.Now().Add(5 * time.Second)
	for (posts.Load() == 0 || n.Backlog() > 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("webhook got %d notifications, want exactly 1", n)
	}
}

func TestCalleeHangsUpDuringHold(t *testing.T) {
	// A would ring for 2 s of simulator time: only bgcall can end it sooner.
	h := newHarness(t, withOptions(func(o *session.Options) { o.Policy.CallerRingTime = 100 * time.Second }))
	h.nodes[0].SetSubscriber("6002", fssim.Behavior{Action: fssim.Answer, Ring: simSecond, HangupOnPrompt: true, PromptHangupAfter: 5 * time.Millisecond})
	h.nodes[0].SetSubscriber("6001", fssim.Behavior{Action: fssim.Answer, Ring: 20 * simSecond})
	s := h.create("6001", "6002")
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.CalleeLeft {
		t.Fatalf("outcome %s, want callee_left\n%s", got.Outcome, formatTimeline(h.timeline(s.ID)))
	}
	h.waitIdle()
	a := h.originates("6001")
	if len(a) != 1 || !a[0].Answered.IsZero() || a[0].Cause == "NO_ANSWER" || a[0].Ended.Sub(a[0].Start) > time.Second {
		t.Errorf("A's leg: %+v; want one leg, hung up by bgcall before it answered or timed out", a)
	}
}

func TestHangupWhileBridged(t *testing.T) {
	for _, who := range []string{"callee", "caller"} {
		t.Run(who+" hangs up", func(t *testing.T) {
			// The party hangs up once the bridge is stored, not after a
			// fixed talk time a loaded machine may not reach the bridge in.
			h := newHarness(t)
			answer := fssim.Behavior{Action: fssim.Answer, Ring: simSecond}
			h.nodes[0].SetSubscriber("7002", answer)
			h.nodes[0].SetSubscriber("7001", answer)
			s := h.create("7001", "7002")
			bridged := h.waitState(s.ID, store.Bridged)
			leg := bridged.CalleeLeg
			if who == "caller" {
				leg = bridged.CallerLeg
			}
			if err := h.nodes[0].FarEndHangup(leg, "NORMAL_CLEARING"); err != nil {
				t.Fatal(err)
			}
			got := h.waitOutcome(s.ID)
			if got.Outcome != store.Completed || got.BridgedAt.IsZero() {
				t.Fatalf("outcome %s bridged %v, want completed after a bridge", got.Outcome, got.BridgedAt)
			}
			h.waitIdle()
		})
	}
}

func TestCancel(t *testing.T) {
	moments := []struct {
		name  string
		setup func(h *harness)
		state store.State
	}{
		{"waiting", func(h *harness) { h.nodes[0].SetSubscriber("8002", noAnswer) }, store.Waiting},
		{"callee ringing", func(h *harness) { h.nodes[0].SetSubscriber("8002", noAnswer) }, store.DialingCallee},
		{"callee on hold", func(h *harness) {
			h.nodes[0].SetSubscriber("8002", answer)
			h.nodes[0].SetSubscriber("8001", noAnswer)
		}, store.CalleeHold},
		{"bridged", func(h *harness) {
			h.nodes[0].SetSubscriber("8002", answer)
			h.nodes[0].SetSubscriber("8001", answer)
		}, store.Bridged},
	}
	for _, m := range moments {
		t.Run(m.name, func(t *testing.T) {
			opt := func(o *session.Options) {}
			if m.state == store.Waiting {
				opt = func(o *session.Options) {
					o.Policy.FirstInterval, o.Policy.MaxInterval, o.Policy.MaxTotal = time.Hour, time.Hour, 2*time.Hour
				}
			}
			h := newHarness(t, withOptions(opt))
			m.setup(h)
			s := h.create("8001", "8002")
			if m.state == store.Waiting {
				h.waitFor(s.ID, "waiting after one attempt", func(s store.Session) bool { return s.State == store.Waiting && s.Attempts == 1 })
			} else {
				h.waitState(s.ID, m.state)
			}
			if m.state == store.CalleeHold {
				time.Sleep(3 * simSecond) // let B hear some of the hold prompt
			}
			if m.state == store.Bridged {
				if _, err := h.eng.Cancel(context.Background(), s.ID, false); !errors.Is(err, session.ErrBridged) {
					t.Fatalf("cancel of a bridged call without end_bridged: %v, want ErrBridged", err)
				}
				// A refused cancel sends nothing: it returns before any
				// teardown, so the call is as it was.
				if got, _ := h.st.Get(context.Background(), s.ID); got.State != store.Bridged || len(h.nodes[0].Channels()) != 2 {
					t.Fatalf("a refused cancel changed the call: state %s, %d channels", got.State, len(h.nodes[0].Channels()))
				}
			}
			dialled := map[string]bool{}
			for _, o := range append(h.originates("8002"), h.originates("8001")...) {
				dialled[o.UUID] = true
			}
			got, err := h.eng.Cancel(context.Background(), s.ID, true)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != store.Finished || got.Outcome != store.Cancelled {
				t.Fatalf("after cancel: %s %s", got.State, got.Outcome)
			}
			h.waitIdle()
			h.waitLooked(h.eng)
			// The session stores a leg before its originate goes out, so the
			// leg it held when cancelled may reach the node only now; that one
			// must be torn down (waitIdle), and no other may be dialled:
			// once the engine has settled, nothing more can be.
			for _, o := range append(h.originates("8002"), h.originates("8001")...) {
				if !dialled[o.UUID] && o.UUID != got.CalleeLeg && o.UUID != got.CallerLeg {
					t.Errorf("%s dialled after the cancel was acknowledged (leg %s)", o.Number, o.UUID)
				}
			}
			if m.state == store.CalleeHold {
				if p := h.prompts(got.CalleeLeg); !slices.Contains(p, session.DefaultPrompts().Cancelled) {
					t.Errorf("B heard %v, want the cancelled prompt", p)
				}
			}
			if _, err := h.eng.Cancel(context.Background(), s.ID, true); !errors.Is(err, session.ErrFinished) {
				t.Errorf("second cancel: %v, want ErrFinished", err)
			}
			final, _ := h.st.Get(context.Background(), s.ID)
			if final.Outcome != store.Cancelled {
				t.Errorf("final outcome %s, want cancelled", final.Outcome)
			}
			// A hangup cause belongs to a leg: with none live, there is none.
			if wantCause := m.state != store.Waiting; (final.Cause != "") != wantCause {
				t.Errorf("cancelled while %s: cause %q", m.state, final.Cause)
			}
		})
	}
}

func TestQuietHoursDeferAttempt(t *testing.T) {
	// The engine's clock runs at real speed from a settable offset.
	var offset atomic.Int64
	set := func(t time.Time) { offset.Store(int64(time.Until(t))) }
	set(time.Date(2026, 3, 2, 22, 0, 0, 0, time.UTC)) // inside 21:00-08:00
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Clock = func() time.Time { return time.Now().Add(time.Duration(offset.Load())).UTC() }
		o.Policy.Quiet = session.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour}
		o.Policy.MaxTotal = 24 * time.Hour
	}))
	h.nodes[0].SetSubscriber("9002", answer)
	h.nodes[0].SetSubscriber("9001", talkShort)
	s := h.create("9001", "9002")
	if want := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC); !s.DueAt.Equal(want) {
		t.Fatalf("due %v, want the end of quiet hours %v", s.DueAt, want)
	}
	h.waitLooked(h.eng)
	if n := len(h.originates("9002")); n != 0 {
		t.Fatalf("%d attempts during quiet hours", n)
	}
	set(time.Date(2026, 3, 3, 8, 0, 1, 0, time.UTC))
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.Completed {
		t.Fatalf("outcome %s after quiet hours, want completed", got.Outcome)
	}
}

func TestRequestValidationAndLimits(t *testing.T) {
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Limits = store.Limits{PerCaller: 2, PerCallee: 2}
		o.Policy.FirstInterval, o.Policy.MaxInterval, o.Policy.MaxTotal = time.Hour, time.Hour, 2*time.Hour
	}))
	for _, n := range []string{"1101", "1102", "1103", "1104", "1105"} {
		h.nodes[0].SetSubscriber(n, noAnswer)
	}
	ctx := context.Background()
	bad := []session.Request{
		{Caller: "1101", Callee: "1101"},
		{Caller: "", Callee: "1102"},
		{Caller: "1101", Callee: "12a"},
		{Caller: "1101", Callee: "1102 &bridge(user/1)"},
		{Caller: "1101", Callee: "1102,origination_uuid=x"},
		{Caller: "1101", Callee: "1102\napi hupall"},
		{Caller: "1101", Callee: "1102", Source: "fax"},
	}
	for _, r := range bad {
		_, _, err := h.eng.Create(ctx, r)
		var ve *session.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("Create(%q→%q): %v, want a ValidationError", r.Caller, r.Callee, err)
		}
	}
	keys, _ := h.client.Keys(ctx, "{"+h.ns+"}*").Result()
	keys = slices.DeleteFunc(keys, func(k string) bool {
		return strings.HasSuffix(k, ":replicas") || strings.HasSuffix(k, ":epoch") // the replicas' leases, the data set's mark
	})
	if len(keys) != 0 {
		t.Errorf("invalid requests stored keys: %v", keys)
	}
	first := h.create("1101", "1102")
	dup, created, err := h.eng.Create(ctx, session.Request{Caller: "1101", Callee: "1102"})
	if err != nil || created || dup.ID != first.ID {
		t.Errorf("duplicate: id %s created %v err %v; want the live session %s", dup.ID, created, err, first.ID)
	}
	h.create("1101", "1103")
	if _, _, err := h.eng.Create(ctx, session.Request{Caller: "1101", Callee: "1104"}); !errors.Is(err, session.ErrLimit) {
		t.Errorf("third session of one caller: %v, want ErrLimit", err)
	}
	h.create("1104", "1105")
	h.create("1103", "1105")
	if _, _, err := h.eng.Create(ctx, session.Request{Caller: "1102", Callee: "1105"}); !errors.Is(err, session.ErrLimit) {
		t.Errorf("third session to one callee: %v, want ErrLimit", err)
	}
	h.waitLooked(h.eng)
	for _, o := range h.nodes[0].Originates() {
		cid := o.Vars["origination_caller_id_number"]
		if o.Vars["bgcall_leg"] == "callee" && ((cid == "1101" && o.Number == "1104") || (cid == "1102" && o.Number == "1105")) {
			t.Errorf("a refused request dialled %s for %s", o.Number, cid)
		}
	}
	if n := len(h.originates("1102")); n != 1 {
		t.Errorf("B=1102 was dialled %d times for one live session and a duplicate request, want 1", n)
	}
}

func TestThreeNodes(t *testing.T) {
	// Every far end answers within a FreeSWITCH second: ring timeouts of
	// 25 s (500 ms here) never act, but a 100 ms one could when the loaded
	// machine starves the simulator past both its timers, which then may
	// fire in either order and turn an answer into NO_ANSWER.
	h := newHarness(t, withNodes(3), withOptions(func(o *session.Options) {
		o.Policy.RingTime, o.Policy.CallerRingTime = 25*time.Second, 25*time.Second
	}))
	const sessions = 30
	var ids []string
	for i := range sessions {
		a, b := fmt.Sprintf("12%02d", i), fmt.Sprintf("13%02d", i)
		for _, n := range h.nodes {
			n.SetSubscriber(b, answer)
			n.SetSubscriber(a, talkShort) // A ends the call once bridged
		}
		ids = append(ids, h.create(a, b).ID)
	}
	perNode := map[string]int{}
	for _, id := range ids {
		got := h.waitOutcome(id)
		if got.Outcome != store.Completed || got.Attempts != 1 {
			t.Fatalf("session %s: %s after %d attempts, want completed after 1\n%s", id, got.Outcome, got.Attempts, formatTimeline(h.timeline(id)))
		}
		perNode[got.Node]++
	}
	for i, n := range h.nodes {
		legs := map[string]string{} // session → role seen on this node
		for _, o := range n.Originates() {
			legs[o.Vars["bgcall_session"]] += o.Vars["bgcall_leg"] + ","
		}
		for id, roles := range legs {
			if roles != "callee,caller," {
				t.Errorf("node %d: session %s had legs %q here; both legs must be on one node", i, id, roles)
			}
		}
	}
	for _, n := range []string{"fs1", "fs2", "fs3"} {
		if perNode[n] < sessions/6 {
			t.Errorf("load not spread: %v", perNode)
			break
		}
	}
	h.waitIdle()
}

func TestNodeRestartMidSession(t *testing.T) {
	// A rings for up to 2 s of simulator time: the restart comes first.
	h := newHarness(t, withOptions(func(o *session.Options) { o.Policy.CallerRingTime = 100 * time.Second }))
	h.nodes[0].SetSubscriber("1402", answer)
	// A answers 200 ms after each ring: the restart comes first.
	h.nodes[0].SetSubscriber("1401", fssim.Behavior{Action: fssim.Answer, Ring: 10 * simSecond, Talk: time.Second})
	s := h.create("1401", "1402")
	h.waitState(s.ID, store.CalleeHold)
	h.nodes[0].Restart()
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.Completed || got.Attempts != 2 {
		t.Fatalf("after a node restart during the hold: %s after %d attempts, want a retry that completes\n%s",
			got.Outcome, got.Attempts, formatTimeline(h.timeline(s.ID)))
	}
	h.waitIdle()
}

// TestCallerUnreachable: every way A can fail to answer the call back ends
// the session caller_missed with A's cause, and B is released.
func TestCallerUnreachable(t *testing.T) {
	cases := []struct {
		name  string
		a     fssim.Behavior
		cause string
	}{
		{"busy", busy, "USER_BUSY"},
		{"rejected", fssim.Behavior{Action: fssim.Reject, Ring: simSecond}, "CALL_REJECTED"},
		{"not registered", fssim.Behavior{Action: fssim.NotRegistered}, "USER_NOT_REGISTERED"},
		{"no user response", fssim.Behavior{Action: fssim.NoUserResponse, Ring: simSecond}, "NO_USER_RESPONSE"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			a, b := fmt.Sprintf("18%d1", i), fmt.Sprintf("18%d2", i)
			h.nodes[0].SetSubscriber(b, answer)
			h.nodes[0].SetSubscriber(a, c.a)
			s := h.create(a, b)
			got := h.waitOutcome(s.ID)
			if got.Outcome != store.CallerMissed || got.Cause != c.cause {
				t.Fatalf("outcome %s %q, want caller_missed %q\n%s", got.Outcome, got.Cause, c.cause, formatTimeline(h.timeline(s.ID)))
			}
			h.waitIdle()
			if p := h.prompts(got.CalleeLeg); !slices.Contains(p, session.DefaultPrompts().CallerUnavailable) {
				t.Errorf("B heard %v, want the caller-unavailable prompt", p)
			}
		})
	}
}

// TestClosingPromptBounded: a caller-unavailable prompt that never ends
// still releases B after PromptTimeout.
func TestClosingPromptBounded(t *testing.T) {
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.PromptTimeout = 300 * time.Millisecond
		o.ParkTimeout = 1000 * time.Second // 20 s of simulator time: not what ends B here
	}))
	h.nodes[0].SetPrompt(session.DefaultPrompts().CallerUnavailable, time.Minute)
	h.nodes[0].SetSubscriber("1902", answer)
	h.nodes[0].SetSubscriber("1901", noAnswer)
	s := h.create("1901", "1902")
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.CallerMissed {
		t.Fatalf("outcome %s, want caller_missed", got.Outcome)
	}
	h.waitIdle()
	b := h.originates("1902")[0]
	if held := b.Ended.Sub(got.FinishedAt); held < 250*time.Millisecond || held > 3*time.Second {
		t.Errorf("B was released %v after the outcome; PromptTimeout is 300ms and the prompt lasts a minute", held)
	}
	if p := h.prompts(b.UUID); !slices.Contains(p, session.DefaultPrompts().CallerUnavailable) {
		t.Errorf("B heard %v, want the caller-unavailable prompt", p)
	}
}

// TestQuietHoursInCalleeZone reads quiet hours in the zone a request gives
// for B: noon UTC is 21:00 in Tokyo, inside 21:00-08:00 there.
func TestQuietHoursInCalleeZone(t *testing.T) {
	noon := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Clock = func() time.Time { return noon }
		o.Policy.Quiet = session.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour}
		o.Policy.MaxTotal = 24 * time.Hour
	}))
	ctx := context.Background()
	utc, _, err := h.eng.Create(ctx, session.Request{Caller: "2101", Callee: "2102"})
	if err != nil {
		t.Fatal(err)
	}
	if !utc.DueAt.Equal(noon) {
		t.Errorf("B in UTC: due %v, want at once", utc.DueAt)
	}
	tokyo, _, err := h.eng.Create(ctx, session.Request{Caller: "2103", Callee: "2104", Policy: &session.PolicyOverrides{TimeZone: "Asia/Tokyo"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC); !tokyo.DueAt.Equal(want) { // 08:00 in Tokyo
		t.Errorf("B in Tokyo: due %v, want %v", tokyo.DueAt, want)
	}
}

// TestQuietHoursDeadlineCountsFromFirstAllowedAttempt: a request made at
// night gets its whole max_total once dialling may begin, rather than
// expiring before its first attempt.
func TestQuietHoursDeadlineCountsFromFirstAllowedAttempt(t *testing.T) {
	var offset atomic.Int64
	set := func(t time.Time) { offset.Store(int64(time.Until(t))) }
	set(time.Date(2026, 3, 2, 5, 28, 0, 0, time.UTC)) // inside 21:00-08:00
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Clock = func() time.Time { return time.Now().Add(time.Duration(offset.Load())).UTC() }
		o.Policy.Quiet = session.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour}
		o.Policy.MaxTotal = 2 * time.Hour
	}))
	h.nodes[0].SetSubscriber("9012", answer)
	h.nodes[0].SetSubscriber("9011", talkShort)
	s := h.create("9011", "9012")
	morning := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	if !s.DueAt.Equal(morning) {
		t.Fatalf("due %v, want the end of quiet hours %v", s.DueAt, morning)
	}
	if want := morning.Add(2 * time.Hour); !s.DeadlineAt.Equal(want) {
		t.Errorf("deadline %v, want max_total counted from the first allowed attempt: %v", s.DeadlineAt, want)
	}
	set(morning.Add(time.Second))
	got := h.waitOutcome(s.ID)
	if got.Outcome != store.Completed || got.Attempts == 0 {
		t.Fatalf("outcome %s after %d attempts, want completed\n%s", got.Outcome, got.Attempts, formatTimeline(h.timeline(s.ID)))
	}
}

// messages records what the engine asks a notifier to send.
type messages chan session.Message

func (m messages) Send(_ context.Context, msg session.Message) { m <- msg }

// TestMissedCallMessageInCalleeZone: the time in the message to A is read
// in the session's time zone (the one its quiet hours use), not the
// daemon's.
func TestMissedCallMessageInCalleeZone(t *testing.T) {
	sent := make(messages, 1)
	h := newHarness(t, withOptions(func(o *session.Options) { o.Notifier = sent }))
	h.nodes[0].SetSubscriber("5012", answer)
	h.nodes[0].SetSubscriber("5011", noAnswer)
	s, _, err := h.eng.Create(context.Background(), session.Request{Caller: "5011", Callee: "5012", Policy: &session.PolicyOverrides{TimeZone: "Asia/Tokyo"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.waitOutcome(s.ID); got.Outcome != store.CallerMissed {
		t.Fatalf("outcome %s, want caller_missed", got.Outcome)
	}
	select {
	case m := <-sent:
		if zone := m.At.Location().String(); zone != "Asia/Tokyo" {
			t.Errorf("message time in %s, want the session's Asia/Tokyo", zone)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no message to A")
	}
}

// TestDialNow: an operator brings a waiting session's next attempt
// forward; a session that is not waiting is refused.
func TestDialNow(t *testing.T) {
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Policy.FirstInterval, o.Policy.MaxInterval, o.Policy.MaxTotal = time.Hour, time.Hour, 3*time.Hour
	}))
	h.nodes[0].SetSubscriber("8102", noAnswer)
	s := h.create("8101", "8102")
	waiting := h.waitFor(s.ID, "waiting after one attempt", func(s store.Session) bool { return s.State == store.Waiting && s.Attempts == 1 })
	if time.Until(waiting.DueAt) < 50*time.Minute {
		t.Fatalf("next attempt due %v, want in an hour", waiting.DueAt)
	}
	if _, err := h.eng.DialNow(context.Background(), s.ID, "cli:alice"); err != nil {
		t.Fatal(err)
	}
	h.waitFor(s.ID, "a second attempt", func(s store.Session) bool { return s.Attempts == 2 })
	tl := h.timeline(s.ID)
	found := false
	for _, e := range tl {
		found = found || (e.Kind == store.KindDialNow && strings.Contains(e.Note, "cli:alice"))
	}
	if !found {
		t.Errorf("no dial_now entry naming who asked:\n%s", formatTimeline(tl))
	}
	if _, err := h.eng.Cancel(context.Background(), s.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.DialNow(context.Background(), s.ID, ""); !errors.Is(err, session.ErrNotWaiting) {
		t.Errorf("dial now once finished: %v, want ErrNotWaiting", err)
	}
}
