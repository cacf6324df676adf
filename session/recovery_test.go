package session_test

import (
	"cmp"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// startStoppable runs an engine that the test stops itself, on a pool of
// its own: a pool's event stream has one reader, as one process has one.
func (h *harness) startStoppable(opts session.Options) (*session.Engine, func()) {
	h.t.Helper()
	opts.Pool = startPool(h.t, h.nodes...)
	eng, err := session.New(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	stop := func() { cancel(); <-done }
	h.t.Cleanup(stop)
	return eng, stop
}

// verdicts records the sweeper's "leaving up" log lines by leg, so a test
// can wait for its decision to leave a leg alone instead of sleeping.
type verdicts struct {
	mu   sync.Mutex
	left map[string]chan struct{}
}

func (v *verdicts) wait(leg string) chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.left[leg] == nil {
		v.left[leg] = make(chan struct{})
	}
	return v.left[leg]
}

func (v *verdicts) Enabled(context.Context, slog.Level) bool { return true }
func (v *verdicts) WithAttrs([]slog.Attr) slog.Handler       { return v }
func (v *verdicts) WithGroup(string) slog.Handler            { return v }

func (v *verdicts) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "leaving up a leg") {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "leg" {
				close(v.wait(a.Value.String()))
			}
			return true
		})
	}
	return nil
}

// TestSweeper: legs tagged with a session that no longer wants them are
// hung up (its session is finished; the leg is left from an earlier
// attempt of a live session; it rings for a session the store does not
// know), while a bridged leg, an answered leg of a session the store lost
// (Redis lost its data: the call goes on) and untagged channels are never
// touched.
func TestSweeper(t *testing.T) {
	v := &verdicts{left: map[string]chan struct{}{}}
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Policy.FirstInterval, o.Policy.MaxInterval, o.Policy.MaxTotal = time.Hour, time.Hour, 2*time.Hour
		o.Logger = slog.New(v)
	}))
	for _, n := range []string{"1601", "1602", "1603", "1606", "1607", "1608"} {
		h.nodes[0].SetSubscriber(n, answer)
	}
	h.nodes[0].SetSubscriber("1605", noAnswer)
	h.nodes[0].SetSubscriber("1609", noAnswer)
	h.nodes[0].SetSubscriber("1611", noAnswer)
	ctx := context.Background()
	// A finished session, and a live one waiting an hour for its next
	// attempt: both had one attempt, whose leg is gone.
	done, live := h.create("1604", "1605"), h.create("1610", "1611")
	for _, s := range []store.Session{done, live} {
		h.waitFor(s.ID, "waiting after one attempt", func(s store.Session) bool { return s.State == store.Waiting && s.Attempts == 1 })
	}
	if _, err := h.eng.Cancel(ctx, done.ID, false); err != nil {
		t.Fatal(err)
	}
	tag := func(id string) []freeswitch.Var { return []freeswitch.Var{{Name: session.VarSession, Value: id}} }
	const lost = "nosuchsession0000000"
	legs := []struct {
		name, uuid, number string
		vars               []freeswitch.Var
		up                 bool // left up
	}{
		{"answered, session unknown", "0f0f0f0f-0000-4000-8000-000000000001", "1601", tag(lost), true},
		{"untagged", "0f0f0f0f-0000-4000-8000-000000000002", "1602", nil, true},
		{"session finished", "0f0f0f0f-0000-4000-8000-000000000003", "1603", tag(done.ID), false},
		{"ringing, session unknown", "0f0f0f0f-0000-4000-8000-000000000004", "1609", tag(lost), false},
		{"earlier attempt of a live session", "0f0f0f0f-0000-4000-8000-000000000005", "1606", tag(live.ID), false},
		{"bridged, session finished (A)", "0f0f0f0f-0000-4000-8000-000000000006", "1607", tag(done.ID), true},
		{"bridged, session finished (B)", "0f0f0f0f-0000-4000-8000-000000000007", "1608", tag(done.ID), true},
	}
	for _, c := range legs {
		cmd, err := freeswitch.Originate{Endpoint: "user/" + c.number, UUID: c.uuid, Timeout: 5 * time.Second, Vars: c.vars}.Command()
		if err != nil {
			t.Fatal(err)
		}
		if err := h.pool.BGAPI(ctx, "fs1", cmd, c.uuid); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range legs {
		h.waitChannel(c.uuid, true)
	}
	for _, c := range legs[5:] {
		for ch, _ := h.nodes[0].Channel(c.uuid); ch.AnswerState != "answered"; ch, _ = h.nodes[0].Channel(c.uuid) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	bridge, err := freeswitch.UUIDBridge(legs[5].uuid, legs[6].uuid)
	if err != nil {
		t.Fatal(err)
	}
	// Bridged within the sweeper's grace (one second in the harness).
	if _, err := h.pool.API(ctx, "fs1", bridge); err != nil {
		t.Fatal(err)
	}
	for _, c := range legs {
		switch {
		case !c.up:
			h.waitChannel(c.uuid, false)
		case c.vars != nil:
			select {
			case <-v.wait(c.uuid):
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: the sweeper never judged leg %s", c.name, c.uuid)
			}
			fallthrough
		default:
			if _, up := h.nodes[0].Channel(c.uuid); !up {
				t.Errorf("%s: leg %s was hung up", c.name, c.uuid)
			}
		}
	}
	for _, c := range legs {
		if c.up {
			kill, _ := freeswitch.UUIDKill(c.uuid, "")
			h.pool.API(ctx, "fs1", kill)
		}
	}
	h.waitIdle()
}

// waitSteered waits until eng steers a session.
func (h *harness) waitSteered(eng *session.Engine) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for eng.Live() == 0 {
		if time.Now().After(deadline) {
			h.t.Fatalf("the engine took up no session")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitChannel waits until the channel uuid is up (or gone) on the first node.
func (h *harness) waitChannel(uuid string, up bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := h.nodes[0].Channel(uuid); ok == up {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("channel %s: up=%v never came", uuid, up)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRestartResumes stops the only replica while B's phone rings, while B
// holds and A's rings, or while A and B talk, and starts it again: the new
// run finds the legs (uuid_dump) and carries on from there (waits for B,
// bridges A, or leaves the call alone) until A hangs up, without dialling
// anyone again.
func TestRestartResumes(t *testing.T) {
	for _, c := range []struct {
		name           string
		callee, caller fssim.Behavior
		stopIn         store.State
		down           time.Duration // how long nobody steers
	}{
		{"B rings", fssim.Behavior{Action: fssim.Answer, Ring: 3 * simSecond}, answer, store.DialingCallee,
			5 * simSecond}, // B answers meanwhile
		{"B holds, A rings", answer, fssim.Behavior{Action: fssim.Answer, Ring: 4 * simSecond},
			store.CalleeHold, 0},
		{"A and B talk", answer, answer,
			store.Bridged, 200 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			// "steady" is the only replica: any other, even a drained one,
			// would take over the live session "steady" releases on its stop.
			h := newHarness(t, withoutEngine(), withOptions(func(o *session.Options) { o.Replica = "steady" }))
			h.nodes[0].SetSubscriber("1512", c.callee)
			h.nodes[0].SetSubscriber("1511", c.caller)
			var stop func()
			h.eng, stop = h.startStoppable(h.opts)
			s := h.create("1511", "1512")
			// Stop once the newest leg is up on the node: a stop between
			// storing a leg and sending its originate is a different case,
			// where the next run rightly finds the leg gone and dials again.
			live := h.waitFor(s.ID, string(c.stopIn)+" with its leg stored", func(s store.Session) bool {
				return s.State == c.stopIn && (c.stopIn == store.DialingCallee || s.CallerLeg != "")
			})
			h.waitChannel(cmp.Or(live.CallerLeg, live.CalleeLeg), true)
			stop()
			if got, _ := h.st.Get(context.Background(), s.ID); got.Owner != "steady" {
				t.Fatalf("after the stop the session is owned by %q, want it kept for steady's restart", got.Owner)
			}
			time.Sleep(c.down)
			h.eng, _ = h.startStoppable(h.opts)
			// A hangs up once the new run steers the bridged call: a far end
			// hanging up on a timer of its own would race the restart.
			bridged := h.waitFor(s.ID, "bridged after the restart", func(s store.Session) bool {
				return s.State == store.Bridged || s.State == store.Finished
			})
			if bridged.State == store.Bridged {
				h.waitSteered(h.eng)
				kill, _ := freeswitch.UUIDKill(bridged.CallerLeg, freeswitch.NormalClearing)
				if _, err := h.pool.API(context.Background(), bridged.Node, kill); err != nil {
					t.Fatalf("hang up A: %v", err)
				}
			}
			got := h.waitOutcome(s.ID)
			if got.Outcome != store.Completed || got.Attempts != 1 {
				t.Fatalf("outcome %s after %d attempts, want completed after 1 (B dialled %d)\n%s", got.Outcome, got.Attempts, len(h.originates("1512")), formatTimeline(h.timeline(s.ID)))
			}
			if a, b := len(h.originates("1511")), len(h.originates("1512")); a != 1 || b != 1 {
				t.Errorf("A dialled %d times and B %d, want once each", a, b)
			}
			h.waitIdle()
		})
	}
}

// TestNoOverlapWithALegLeftOver: a leg tagged with a live session is up
// while the session waits for its next attempt (Redis lost the step that
// ended it, or a replica died before hanging it up). The next attempt
// hangs it up before dialling B again: never two callee legs at once.
func TestNoOverlapWithALegLeftOver(t *testing.T) {
	h := newHarness(t, withOptions(func(o *session.Options) {
		// The next attempt comes well within the sweeper's grace (1 s).
		o.Policy.FirstInterval, o.Policy.MaxInterval = 300*time.Millisecond, 300*time.Millisecond
	}))
	h.nodes[0].SetSubscriber("1702", noAnswer, noAnswer, answer)
	h.nodes[0].SetSubscriber("1701", answer)
	s := h.create("1701", "1702")
	h.waitFor(s.ID, "waiting after one attempt", func(s store.Session) bool { return s.State == store.Waiting && s.Attempts == 1 })
	left := "0f0f0f0f-0000-4000-8000-000000000011"
	cmd, err := freeswitch.Originate{Endpoint: "user/1703", UUID: left, Timeout: 5 * time.Second,
		Vars: []freeswitch.Var{{Name: session.VarSession, Value: s.ID}, {Name: "bgcall_leg", Value: "callee"}}}.Command()
	if err != nil {
		t.Fatal(err)
	}
	h.nodes[0].SetSubscriber("1703", answer)
	if err := h.pool.BGAPI(t.Context(), "fs1", cmd, left); err != nil {
		t.Fatal(err)
	}
	h.waitChannel(left, true)
	h.waitFor(s.ID, "a later attempt", func(s store.Session) bool { return s.Attempts >= 2 })
	h.waitChannel(left, false)
	checkNoOverlap(t, h)
	bridged := h.waitState(s.ID, store.Bridged)
	kill, _ := freeswitch.UUIDKill(bridged.CallerLeg, "")
	h.pool.API(t.Context(), "fs1", kill)
	if got := h.waitOutcome(s.ID); got.Outcome != store.Completed {
		t.Errorf("outcome %s, want completed", got.Outcome)
	}
	h.waitIdle()
}
