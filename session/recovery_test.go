package session_test

import (
	"cmp"
	"context"
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

// TestSweeper hangs up legs tagged with a session that does not exist or
// is finished, and leaves untagged channels alone.
func TestSweeper(t *testing.T) {
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Policy.FirstInterval, o.Policy.MaxInterval, o.Policy.MaxTotal = time.Hour, time.Hour, 2*time.Hour
	}))
	for _, n := range []string{"1601", "1602", "1603"} {
		h.nodes[0].SetSubscriber(n, answer)
	}
	h.nodes[0].SetSubscriber("1605", noAnswer)
	ctx := context.Background()
	// A finished session: its tag on a leg makes the leg an orphan too.
	done := h.create("1604", "1605")
	h.waitFor(done.ID, "waiting after one attempt", func(s store.Session) bool { return s.State == store.Waiting && s.Attempts == 1 })
	if _, err := h.eng.Cancel(ctx, done.ID, false); err != nil {
		t.Fatal(err)
	}
	orphan, foreign, stale := "0f0f0f0f-0000-4000-8000-000000000001", "0f0f0f0f-0000-4000-8000-000000000002", "0f0f0f0f-0000-4000-8000-000000000003"
	for _, c := range []struct {
		uuid, number string
		vars         []freeswitch.Var
	}{
		{orphan, "1601", []freeswitch.Var{{Name: session.VarSession, Value: "nosuchsession0000000"}}},
		{foreign, "1602", nil},
		{stale, "1603", []freeswitch.Var{{Name: session.VarSession, Value: done.ID}}},
	} {
		cmd, err := freeswitch.Originate{Endpoint: "user/" + c.number, UUID: c.uuid, Timeout: 5 * time.Second, Vars: c.vars}.Command()
		if err != nil {
			t.Fatal(err)
		}
		if err := h.pool.BGAPI(ctx, "fs1", cmd, c.uuid); err != nil {
			t.Fatal(err)
		}
	}
	h.waitChannel(orphan, true)
	h.waitChannel(foreign, true)
	h.waitChannel(stale, true)
	h.waitChannel(orphan, false) // the sweeper's grace is one second in the harness
	h.waitChannel(stale, false)
	if _, up := h.nodes[0].Channel(foreign); !up {
		t.Fatalf("the untagged channel was hung up")
	}
	kill, _ := freeswitch.UUIDKill(foreign, "")
	h.pool.API(ctx, "fs1", kill)
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
