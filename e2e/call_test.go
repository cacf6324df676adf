package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/internal/callrec"
	"bgcall/session"
	"bgcall/store"
)

// call follows the background calls of one caller on a backend: the
// daemon's watch stream says when a session changed, the API what it is
// now, the recorder what its channels did.
type call struct {
	b      *backend
	api    *api.Client // the daemon the session is asked of
	caller string
	id     string     // the session, once known
	other  *otherCall // A's other call, when the scenario has one

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced at each change
	ids      []string      // sessions of caller seen on the stream, in order
	finished map[string]int
	err      error // why the stream ended
}

// follow opens the watch stream for caller's sessions; every change after
// it returns is seen.
func (b *backend) follow(ctx context.Context, t *testing.T, caller string) *call {
	t.Helper()
	return b.followOn(ctx, t, caller, b.api)
}

// followOn follows caller's background calls made through the daemon of
// client.
func (b *backend) followOn(ctx context.Context, t *testing.T, caller string, client *api.Client) *call {
	t.Helper()
	wctx, cancel := context.WithCancel(ctx)
	stream, err := client.Watch(wctx, api.WatchFilter{Caller: caller})
	if err != nil {
		cancel()
		t.Fatalf("watch: %v", err)
	}
	c := &call{b: b, api: client, caller: caller, changed: make(chan struct{}), finished: make(map[string]int)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.read(stream)
	}()
	t.Cleanup(func() {
		cancel()
		stream.Close()
		<-done
	})
	return c
}

func (c *call) read(stream *api.Stream) {
	for {
		ch, err := stream.Next()
		c.mu.Lock()
		if err != nil {
			c.err = err
			close(c.changed)
			c.mu.Unlock()
			return
		}
		id := ch.Session.ID
		if !slices.Contains(c.ids, id) {
			c.ids = append(c.ids, id)
		}
		for _, e := range ch.Entries {
			if e.Kind == store.KindFinished {
				c.finished[id]++
			}
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// create asks for a background call from the followed caller to callee.
func (c *call) create(ctx context.Context, t *testing.T, callee string, p *api.PolicyOverride) {
	t.Helper()
	s, created, err := c.api.Create(ctx, api.CreateRequest{Caller: c.caller, Callee: callee, Policy: p})
	if err != nil || !created {
		t.Fatalf("create %s→%s: created %v, %v", c.caller, callee, created, err)
	}
	c.id = s.ID
}

// next waits for a change, or a second: the stream is fed by Redis
// pub/sub, which may drop a message, so a wait also looks again now and
// then.
func (c *call) next(ctx context.Context) error {
	c.mu.Lock()
	ch, err := c.changed, c.err
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("watch stream ended: %w", err)
	}
	select {
	case <-ch:
	case <-time.After(time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// waitSession waits until the session satisfies cond and returns it.
func (c *call) waitSession(ctx context.Context, what string, cond func(api.Session) bool) (api.Session, error) {
	for {
		s, err := c.api.Get(ctx, c.id)
		if err == nil && cond(s) {
			return s, nil
		}
		if err := c.next(ctx); err != nil {
			return s, fmt.Errorf("session %s: waiting for %s (state %s, outcome %q): %w", c.id, what, s.State, s.Outcome, err)
		}
	}
}

// waitNewSession waits for the followed caller's next session, one not in
// known, and follows it.
func (c *call) waitNewSession(ctx context.Context, known ...string) error {
	for {
		c.mu.Lock()
		for _, id := range c.ids {
			if !slices.Contains(known, id) {
				c.id = id
			}
		}
		c.mu.Unlock()
		if c.id != "" && !slices.Contains(known, c.id) {
			return nil
		}
		if err := c.next(ctx); err != nil {
			return fmt.Errorf("no new session of caller %s: %w", c.caller, err)
		}
	}
}

// finishedEntries waits (up to a few seconds: the stream may lag the
// store) until the watch stream carried the session's "finished" timeline
// entry, and returns how many it carried.
func (c *call) finishedEntries(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		c.mu.Lock()
		n, changed := c.finished[c.id], c.changed
		c.mu.Unlock()
		if n > 0 {
			return n
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return n
		}
	}
}

// leg is one leg bgcall dialled: its channel, and the far end's, the phone
// that rang. On FreeSWITCH a loopback call is two channels, the -a
// channel bgcall steers and the -b channel that runs the far end's
// dialplan; the simulator has one channel for both.
type leg struct {
	role string // "callee" or "caller"
	ch   callrec.Channel
	far  callrec.Channel
}

// legs returns the session's legs in the order they were created.
func (c *call) legs() []leg {
	chans := c.b.rec.Session(c.id)
	var out []leg
	for _, ch := range chans {
		if ch.Direction != "outbound" {
			continue
		}
		l := leg{role: ch.Var(session.VarLeg), ch: ch, far: ch}
		if c.b.sim == nil {
			l.far = callrec.Channel{}
			for _, f := range chans {
				if f.Direction == "inbound" && f.Var("other_loopback_leg_uuid") == ch.UUID {
					l.far = f
				}
			}
		}
		out = append(out, l)
	}
	return out
}

func (c *call) legsOf(role string) []leg {
	return slices.DeleteFunc(c.legs(), func(l leg) bool { return l.role != role })
}

// waitLeg waits until a leg of role has fired the event name (on bgcall's
// channel) and returns it.
func (c *call) waitLeg(ctx context.Context, role, name string) (leg, error) {
	var found leg
	err := c.b.rec.WaitFor(ctx, func(*callrec.Recorder) bool {
		for _, l := range c.legsOf(role) {
			if l.ch.Has(name) {
				found = l
				return true
			}
		}
		return false
	})
	if err != nil {
		return found, fmt.Errorf("session %s: no %s leg fired %s: %w", c.id, role, name, err)
	}
	return found, nil
}

// waitBridged waits until A and B are bridged, as FreeSWITCH reported
// (CHANNEL_BRIDGE) and as bgcall stored.
func (c *call) waitBridged(ctx context.Context) error {
	if _, err := c.waitLeg(ctx, "callee", freeswitch.EventChannelBridge); err != nil {
		return err
	}
	_, err := c.waitSession(ctx, "the bridge", func(s api.Session) bool { return s.State == "bridged" })
	return err
}

// waitHold waits until B hears the hold prompt while A's phone rings.
func (c *call) waitHold(ctx context.Context) error {
	if _, err := c.waitLeg(ctx, "callee", freeswitch.EventPlaybackStart); err != nil {
		return err
	}
	_, err := c.waitLeg(ctx, "caller", freeswitch.EventChannelProgress)
	return err
}

// waitLegsDown waits until every channel of the session is gone
// (CHANNEL_DESTROY): FreeSWITCH reports some of what a channel did after
// its CHANNEL_HANGUP, e.g. the PLAYBACK_STOP of a prompt the hangup cut.
func (c *call) waitLegsDown(ctx context.Context) error {
	err := c.b.rec.WaitFor(ctx, func(r *callrec.Recorder) bool {
		return !slices.ContainsFunc(r.Session(c.id), func(ch callrec.Channel) bool { return !ch.Destroyed })
	})
	if err != nil {
		return fmt.Errorf("session %s: a leg is still up: %w", c.id, err)
	}
	return nil
}

// hangUp puts down the phone at the far end of the session's latest leg
// of role, as its user would.
func (c *call) hangUp(ctx context.Context, role string) error {
	legs := c.legsOf(role)
	if len(legs) == 0 {
		return fmt.Errorf("session %s: no %s leg to hang up", c.id, role)
	}
	far := legs[len(legs)-1].far
	if c.b.sim != nil {
		return c.b.sim.FarEndHangup(far.UUID, string(freeswitch.NormalClearing))
	}
	reply, err := c.b.ctl.API(ctx, "uuid_kill "+far.UUID+" NORMAL_CLEARING")
	if err == nil && !strings.HasPrefix(reply, "+OK") {
		err = fmt.Errorf("hang up the %s's phone: %s", role, strings.TrimSpace(reply))
	}
	return err
}

// talkThenHangUp waits for A and B to be bridged, then puts down the
// phone of role.
func talkThenHangUp(role string) func(context.Context, *call) error {
	return func(ctx context.Context, c *call) error {
		if err := c.waitBridged(ctx); err != nil {
			return err
		}
		return c.hangUp(ctx, role)
	}
}

// cancel switches the session off through the API.
func (c *call) cancel(ctx context.Context, endBridged bool) (api.Session, error) {
	return c.api.Cancel(ctx, c.id, endBridged)
}

// killedBefore returns the first uuid_kill bgcall sent for the channel
// uuid before t (any time, for a zero t), or nil.
func (c *call) killedBefore(uuid string, t time.Time) *sentCommand {
	for _, k := range c.b.cmds.Sent("uuid_kill", uuid) {
		if t.IsZero() || k.At.Before(t) {
			return &k
		}
	}
	return nil
}

// report is what a failed scenario prints: the session's channels'
// events, the commands sent for its legs and the daemon's log lines.
func (c *call) report() string {
	var b strings.Builder
	uuids := map[string]bool{}
	for _, l := range c.legs() {
		uuids[l.ch.UUID], uuids[l.far.UUID] = true, true
	}
	fmt.Fprintf(&b, "session %s on %s; its channels' events:\n", c.id, c.b.name)
	var start time.Time
	for _, e := range c.b.rec.Events(func(e esl.Event) bool { return uuids[e.UniqueID] }) {
		if start.IsZero() {
			start = e.Time
		}
		fmt.Fprintf(&b, "  %8.1fms %-22s %s %s", float64(e.Time.Sub(start).Microseconds())/1000, e.Name, e.UniqueID, e.Header("Channel-Name"))
		if e.HangupCause != "" {
			fmt.Fprintf(&b, " cause=%s", e.HangupCause)
		}
		if p := e.Header(freeswitch.HeaderPlaybackFilePath); p != "" {
			fmt.Fprintf(&b, " file=%s", p)
		}
		if e.OtherLegUniqueID != "" {
			fmt.Fprintf(&b, " other=%s", e.OtherLegUniqueID)
		}
		b.WriteByte('\n')
	}
	b.WriteString("commands sent for its legs:\n")
	for id := range uuids {
		if id == "" {
			continue
		}
		for _, s := range c.b.cmds.Sent(id) {
			fmt.Fprintf(&b, "  %s %.200s\n", s.At.Format("15:04:05.000"), s.Line)
		}
	}
	fmt.Fprintf(&b, "daemon log:\n%s", lines(c.b.log, c.id))
	if c.b.fs != nil {
		fmt.Fprintf(&b, "FreeSWITCH's log:\n%s", c.b.fs.LogTail(20))
	}
	return b.String()
}

// isAPIError reports whether err is the daemon's error with code.
func isAPIError(err error, code string) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Code == code
}
