package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/app"
	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/testutil"
	"bgcall/internal/uuid"
	"bgcall/store"
)

// The busy check's timings on both daemons: B holds up to busyWait for a
// busy A, who is asked again every busyInterval; the daemon that asks
// before dialling B puts an attempt off by busyDefer.
const (
	busyWait     = 3 * time.Second
	busyInterval = 300 * time.Millisecond
	busyDefer    = 500 * time.Millisecond
)

// askingFirst returns the API of a second daemon on b's FreeSWITCH (its
// own namespace, no phone listener) that also asks whether A is busy
// before dialling B (caller_busy.before_callee).
func (b *backend) askingFirst(t *testing.T) *api.Client {
	t.Helper()
	f := &b.first
	f.once.Do(func() {
		cfg := daemonConfig(b.name+" before callee", b.cmds.Addr(), b.password, b.template)
		cfg.Phone.Enabled = false
		cfg.CallerBusy.BeforeCallee, cfg.CallerBusy.Defer = true, busyDefer
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		dctx, stop := context.WithCancel(context.Background())
		d, err := app.Start(dctx, app.Options{Config: cfg, LogOutput: &testutil.SyncBuffer{}})
		if err != nil {
			stop()
			f.err = fmt.Errorf("start the daemon that asks before dialling B: %w", err)
			return
		}
		f.daemon, f.stop, f.api = d, stop, &api.Client{Base: "http://" + d.APIAddr()}
		for f.api.Ready(ctx) != nil {
			if ctx.Err() != nil {
				f.err = fmt.Errorf("the daemon that asks before dialling B is not ready: %w", ctx.Err())
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	if f.err != nil {
		t.Fatal(f.err)
	}
	return f.api
}

// otherCall is a call A's phone is on, besides any background call: A
// called a far end that answered and stays on the line.
type otherCall struct {
	b      *backend
	caller string
	leg    string    // A's leg (simulator) or the loopback call's -a leg (FreeSWITCH)
	freed  time.Time // when the test put it down; zero while up
}

// onAnotherCall puts caller on a call, as a phone would (on FreeSWITCH a
// loopback call whose far half carries caller's number, as a SIP phone's
// leg does; on the simulator its Call), and waits until FreeSWITCH lists
// it among caller's channels.
func (b *backend) onAnotherCall(ctx context.Context, t *testing.T, caller string) *otherCall {
	t.Helper()
	other := b.subscriber(answers)
	o := &otherCall{b: b, caller: caller}
	if b.sim != nil {
		id, err := b.sim.Call(fssim.CallOptions{From: caller, To: other, Timeout: 10})
		if err != nil {
			t.Fatalf("call %s→%s: %v", caller, other, err)
		}
		o.leg = id
	} else {
		o.leg = uuid.New()
		if _, err := b.ctl.BGAPI(ctx, fmt.Sprintf("originate {origination_uuid=%s,origination_caller_id_number=%s,origination_caller_id_name=%s}%s &park()",
			o.leg, caller, caller, strings.ReplaceAll(b.template, "{number}", other))); err != nil {
			t.Fatalf("call %s→%s: %v", caller, other, err)
		}
	}
	if _, err := b.rec.WaitEvent(ctx, o.leg, freeswitch.EventChannelAnswer); err != nil {
		t.Fatalf("%s's call to %s: %v", caller, other, err)
	}
	if err := o.waitListed(ctx); err != nil {
		t.Fatal(err)
	}
	return o
}

// waitListed waits until show channels lists a channel of the caller's
// own (its caller ID): FreeSWITCH's table lags its channels.
func (o *otherCall) waitListed(ctx context.Context) error {
	for {
		reply, err := o.b.ctl.API(ctx, "show channels like "+o.caller+" as json")
		if err != nil {
			return err
		}
		rows, err := freeswitch.ParseChannels(reply)
		if err != nil {
			return err
		}
		listed := false
		for _, r := range rows {
			listed = listed || r.Names(o.caller)
		}
		if listed {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s's other call never listed among its channels: %w", o.caller, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// hangUp puts A's phone down, once, and waits until its channel is gone.
func (o *otherCall) hangUp(ctx context.Context) error {
	if !o.freed.IsZero() {
		return nil
	}
	o.freed = time.Now() // A is rung (or B dialled) only after this
	reply, err := o.b.ctl.API(ctx, "uuid_kill "+o.leg+" NORMAL_CLEARING")
	if err == nil && !strings.HasPrefix(reply, "+OK") && !strings.Contains(reply, "No such channel") {
		err = fmt.Errorf("hang up %s's other call: %s", o.caller, strings.TrimSpace(reply))
	}
	if err != nil {
		return err
	}
	_, err = o.b.rec.WaitEvent(ctx, o.leg, freeswitch.EventChannelDestroy)
	return err
}

// waitCallerBusy waits until the session's timeline says A was found
// busy: kind caller_busy (B holds), or deferred "caller busy" (B not
// dialled), n times.
func (c *call) waitCallerBusy(ctx context.Context, kind store.Kind, n int) error {
	_, err := c.waitSession(ctx, fmt.Sprintf("%d %s entries saying caller busy", n, kind), func(s api.Session) bool {
		return busyEntries(s, kind) >= n
	})
	return err
}

func busyEntries(s api.Session, kind store.Kind) int {
	k := 0
	for _, e := range s.Timeline {
		if e.Kind == kind && strings.Contains(e.Note, "caller busy") {
			k++
		}
	}
	return k
}

// freeCaller waits until the timeline says A was found busy, then puts
// A's other call down.
func freeCaller(kind store.Kind, n int) func(context.Context, *call) error {
	return func(ctx context.Context, c *call) error {
		if err := c.waitCallerBusy(ctx, kind, n); err != nil {
			return err
		}
		return c.other.hangUp(ctx)
	}
}

// then runs the steps one after the other.
func then(steps ...func(context.Context, *call) error) func(context.Context, *call) error {
	return func(ctx context.Context, c *call) error {
		for _, s := range steps {
			if err := s(ctx, c); err != nil {
				return err
			}
		}
		return nil
	}
}

// judgeBusy holds what the scenario wants of A's other call: A rung, or
// B dialled, only once it was put down; the timeline saying why B held or
// was not dialled.
func judgeBusy(c *call, s api.Session, w want, fail func(string, ...any)) {
	if c.other == nil {
		return
	}
	if w.busyHeld && busyEntries(s, store.KindCallerBusy) == 0 {
		fail("the timeline never says caller busy while B held")
	}
	if w.busyDeferred && busyEntries(s, store.KindDeferred) == 0 {
		fail("the timeline never says an attempt was put off because A was busy")
	}
	freed := c.other.freed
	for _, l := range c.legs() {
		before := freed.IsZero() || l.ch.Created.Before(freed)
		switch {
		case l.role == "caller" && before:
			fail("A was rung at %s while on another call (put down at %s)", l.ch.Created.Format("15:04:05.000"), freed.Format("15:04:05.000"))
		case l.role == "callee" && w.busyDeferred && before:
			fail("B was dialled at %s while A was on another call (put down at %s)", l.ch.Created.Format("15:04:05.000"), freed.Format("15:04:05.000"))
		}
	}
}
