package phone_test

import (
	"context"
	"testing"

	"bgcall/fssim"
	"bgcall/internal/testutil"
	"bgcall/phone"
	"bgcall/session"
	"bgcall/store"
)

func TestFeatureCodeOnCreatesOneSession(t *testing.T) {
	r := newRig(t)
	r.node.SetSubscriber("1002", fssim.Behavior{Action: fssim.NoAnswer})
	p := phone.DefaultPrompts()

	a1 := r.call(fssim.CallOptions{From: "1001", To: "*881002"})
	if got := r.heard(a1); len(got) != 1 || got[0] != p.On {
		t.Fatalf("caller heard %q, want the confirmation %q", got, p.On)
	}
	list := r.sessions("1001")
	if len(list) != 1 || list[0].Callee != "1002" || list[0].Source != session.SourceFeatureCode || !list[0].State.Live() {
		t.Fatalf("sessions after *881002: %+v", list)
	}

	// Dialling it again confirms the same session; no second one.
	a2 := r.call(fssim.CallOptions{From: "1001", To: "*881002"})
	if got := r.heard(a2); len(got) != 1 || got[0] != p.On {
		t.Errorf("second *881002: caller heard %q, want %q", got, p.On)
	}
	if list := r.sessions("1001"); len(list) != 1 {
		t.Errorf("sessions after a second *881002: %d, want 1", len(list))
	}
}

func TestFeatureCodeRefusals(t *testing.T) {
	r := newRig(t, func(so *session.Options, _ *phone.Options) { so.Limits = store.Limits{PerCaller: 1} })
	r.node.SetDefault(fssim.Behavior{Action: fssim.NoAnswer})
	p := phone.DefaultPrompts()
	cases := []struct {
		name, dial, want string
	}{
		{"number too short", "*881", p.Invalid},
		{"own number", "*881001", p.Invalid},
		{"nothing to switch off", "*891002", p.NotFound},
		{"nothing at all to switch off", "*89", p.NotFound},
		{"first session", "*881002", p.On},
		{"over the caller's limit", "*881003", p.Limit},
	}
	for _, c := range cases {
		uuid := r.call(fssim.CallOptions{From: "1001", To: c.dial})
		if got := r.heard(uuid); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s (%s): heard %q, want %q", c.name, c.dial, got, c.want)
		}
	}
	if list := r.sessions("1001"); len(list) != 1 {
		t.Errorf("sessions: %d, want only the first", len(list))
	}
}

// TestFeatureCodeOffCancelsInEveryState switches a session off from the
// phone while it waits for a retry, while B rings, and while B holds and
// A's phone rings.
func TestFeatureCodeOffCancelsInEveryState(t *testing.T) {
	cases := []struct {
		name     string
		callee   []fssim.Behavior
		caller   []fssim.Behavior
		dial     string
		ready    func(s store.Session, r *rig) bool
		wantLegs int
	}{
		{
			name:   "waiting",
			callee: []fssim.Behavior{{Action: fssim.Busy}},
			dial:   "*892002",
			ready:  func(s store.Session, _ *rig) bool { return s.State == store.Waiting && s.Attempts == 1 },
		},
		{
			name:   "B ringing",
			callee: []fssim.Behavior{{Action: fssim.NoAnswer}},
			dial:   "*892002",
			ready: func(s store.Session, r *rig) bool {
				c, ok := r.node.Channel(s.CalleeLeg)
				return s.State == store.DialingCallee && ok && c.CallState == "RINGING"
			},
		},
		{
			name:   "B on hold, A ringing",
			callee: []fssim.Behavior{{Action: fssim.Answer}},
			caller: []fssim.Behavior{{Action: fssim.NoAnswer}},
			dial:   "*89",
			ready: func(s store.Session, r *rig) bool {
				b, okB := r.node.Channel(s.CalleeLeg)
				a, okA := r.node.Channel(s.CallerLeg)
				return s.State == store.CalleeHold && okB && b.AnswerState == "answered" && okA && a.CallState == "RINGING"
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.node.SetSubscriber("2002", c.callee...)
			if c.caller != nil {
				r.node.SetSubscriber("2001", c.caller...)
			}
			sess, created, err := r.eng.Create(context.Background(), session.Request{Caller: "2001", Callee: "2002"})
			if err != nil || !created {
				t.Fatalf("create: %v %v", created, err)
			}
			r.waitFor("session in state "+c.name, func() bool {
				s, _, err := r.eng.Get(context.Background(), sess.ID)
				return err == nil && c.ready(s, r)
			})
			uuid := r.call(fssim.CallOptions{From: "2001", To: c.dial})
			if got := r.heard(uuid); !contains(got, phone.DefaultPrompts().Off) {
				t.Errorf("caller heard %q, want %q", got, phone.DefaultPrompts().Off)
			}
			r.waitFor("session cancelled", func() bool {
				s, _, err := r.eng.Get(context.Background(), sess.ID)
				return err == nil && s.State == store.Finished && s.Outcome == store.Cancelled
			})
			r.waitFor("every leg gone", func() bool { return len(r.node.Channels()) == 0 })
		})
	}
}

// TestSocketRefusesStrangers: a connection whose channel the pool does not
// know changes nothing.
func TestSocketRefusesStrangers(t *testing.T) {
	r := newRig(t)
	other, err := fssim.Start(fssim.Options{Second: simSecond, Heartbeat: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	uuid, err := other.Call(fssim.CallOptions{From: "3001", To: "*883002", Socket: r.srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the stranger's channel to be released", func() bool {
		_, up := other.Channel(uuid)
		return !up
	})
	if list := r.sessions("3001"); len(list) != 0 {
		t.Errorf("a node outside the pool created %d sessions", len(list))
	}
}
