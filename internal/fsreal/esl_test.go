package fsreal_test

// bgcall's event-socket client (esl.Pool) on a real FreeSWITCH: a refused
// password, and FreeSWITCH restarting or crashing under a connected pool.

import (
	"context"
	"strings"
	"testing"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/internal/callrec"
	"bgcall/internal/fsreal"
)

// poolEvents runs a pool on one node, "fs1", and hands its events over in
// order until the test ends.
type poolEvents struct {
	pool   *esl.Pool
	events chan esl.Event
	seen   []string // every event taken, for failure messages
}

func runPool(t *testing.T, addr, password string) *poolEvents {
	t.Helper()
	pool, err := esl.NewPool([]esl.Node{{Name: "fs1", Addr: addr, Password: password}},
		esl.Options{BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := &poolEvents{pool: pool, events: make(chan esl.Event, 1<<16)}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); pool.Run(ctx) }()
	go func() {
		for ev := range pool.Events() {
			select {
			case p.events <- ev:
			default:
				t.Errorf("pool events: test buffer full, %s dropped", ev.Name)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-ran })
	return p
}

// await returns the first event, from those not taken yet, that match.
func (p *poolEvents) await(t *testing.T, ctx context.Context, what string, match func(esl.Event) bool) esl.Event {
	t.Helper()
	for {
		select {
		case ev := <-p.events:
			p.seen = append(p.seen, ev.Name+" "+ev.UniqueID+" "+ev.CoreUUID)
			if match(ev) {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("bgcall's client: no %s: %v; events taken:\n%s", what, ctx.Err(), strings.Join(p.seen, "\n"))
		}
	}
}

func named(name string) func(esl.Event) bool {
	return func(e esl.Event) bool { return e.Name == name }
}

func TestPoolWrongPasswordRealFreeSWITCH(t *testing.T) {
	s := fsreal.Start(t, fsreal.Options{})
	p := runPool(t, s.Addr, s.Password+"-wrong")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The refusal is reported in the node's health; poll it (nothing else
	// changes while the password is wrong).
	var h esl.NodeHealth
	for h = p.pool.Health()[0]; h.LastError == ""; h = p.pool.Health()[0] {
		select {
		case <-ctx.Done():
			t.Fatalf("no error reported for a wrong password: %+v", h)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if h.Connected {
		t.Fatalf("connected with a wrong password: %+v", h)
	}
	// The error says what is wrong and which setting fixes it.
	for _, want := range []string{"authentication refused", "freeswitch.password"} {
		if !strings.Contains(h.LastError, want) {
			t.Errorf("error for a wrong password %q does not say %q", h.LastError, want)
		}
	}
	if _, err := p.pool.API(ctx, "fs1", "status"); err == nil || !strings.Contains(err.Error(), "authentication refused") {
		t.Errorf("a command while the password is refused: %v, want the refusal", err)
	}
}

func TestPoolRestartRealFreeSWITCH(t *testing.T) {
	s := fsreal.Start(t, fsreal.Options{})
	p := runPool(t, s.Addr, s.Password)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	up := p.await(t, ctx, "NODE_UP", named(esl.EventNodeUp))
	cores := []string{up.CoreUUID}

	// A live call, known to the pool, across each kind of restart.
	dial := func() string {
		t.Helper()
		uuid := callrec.NewUUID()
		cmd, err := freeswitch.Originate{Endpoint: "loopback/" + fsreal.AnswerAfter(0, "1") + "/default", UUID: uuid}.Command()
		if err != nil {
			t.Fatal(err)
		}
		if out, err := p.pool.BGAPIWait(ctx, "fs1", cmd); err != nil || out != uuid {
			t.Fatalf("originate: %q, %v", out, err)
		}
		p.await(t, ctx, "CHANNEL_PARK of "+uuid, func(e esl.Event) bool { return e.Name == freeswitch.EventChannelPark && e.UniqueID == uuid })
		return uuid
	}
	for _, restart := range []struct {
		how string
		do  func(testing.TB)
	}{{"restart", s.Restart}, {"crash", s.Crash}} {
		uuid := dial()
		restart.do(t)
		// After a clean stop FreeSWITCH may have sent the call's hangup
		// before closing; otherwise the resync reports the channel gone.
		// Either way, nothing of it is left once the node is up again.
		var down, destroyed, gone bool
		up := p.await(t, ctx, "NODE_DOWN then NODE_UP after a "+restart.how, func(e esl.Event) bool {
			if e.UniqueID == uuid {
				destroyed = destroyed || e.Name == freeswitch.EventChannelDestroy
				gone = gone || e.Name == esl.EventChannelGone
			}
			down = down || e.Name == esl.EventNodeDown
			return down && e.Name == esl.EventNodeUp
		})
		if !destroyed && !gone {
			t.Errorf("%s: the live call %s was neither destroyed nor reported gone before NODE_UP", restart.how, uuid)
		}
		if restart.how == "crash" && !gone {
			t.Errorf("crash: no CHANNEL_GONE for %s: a crash sends no hangup, only the resync can tell", uuid)
		}
		for _, c := range cores {
			if up.CoreUUID == c {
				t.Errorf("%s: NODE_UP with the old Core-UUID %s", restart.how, c)
			}
		}
		cores = append(cores, up.CoreUUID)
		if h := p.pool.Health()[0]; h.CoreUUID != up.CoreUUID || !h.Connected || h.Channels != 0 {
			t.Errorf("%s: health %+v: want connected, Core-UUID %s, no channels", restart.how, h, up.CoreUUID)
		}
		if out, err := p.pool.API(ctx, "fs1", "uuid_exists "+uuid); err != nil || out != "false" {
			t.Errorf("%s: uuid_exists of the old call: %q, %v", restart.how, out, err)
		}
	}
	if got := p.pool.Health()[0].Reconnects; got != 2 {
		t.Errorf("%d reconnects after a restart and a crash, want 2", got)
	}
	// Commands and events flow on the new connection.
	uuid := dial()
	if out, err := p.pool.API(ctx, "fs1", "uuid_kill "+uuid); err != nil {
		t.Fatalf("uuid_kill: %q, %v", out, err)
	}
	p.await(t, ctx, "CHANNEL_DESTROY of "+uuid, func(e esl.Event) bool { return e.Name == freeswitch.EventChannelDestroy && e.UniqueID == uuid })
}
