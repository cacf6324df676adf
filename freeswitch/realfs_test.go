package freeswitch_test

// Every command bgcall sends, built by this package, sent through bgcall's
// own event-socket client (esl.Pool) to a real FreeSWITCH, and judged twice:
// by the reply, and by the events the channels fired, recorded on a
// connection of their own (callrec). Without FreeSWITCH these tests skip
// (see internal/fsreal).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/internal/callrec"
	"bgcall/internal/fsreal"
	"bgcall/session"
)

// realFS is one real FreeSWITCH with bgcall's client and a recorder on it.
type realFS struct {
	srv  *fsreal.Server
	pool *esl.Pool
	rec  *callrec.Recorder
	node string
}

// promptLength is how long each prompt file lasts on the test FreeSWITCH.
const promptLength = 300 * time.Millisecond

// longSound lasts longer than any test: only uuid_break ends it.
const longSound = "bgcall-test/long.wav"

func startRealFS(t *testing.T) *realFS {
	p := session.DefaultPrompts()
	srv := fsreal.Start(t, fsreal.Options{Sounds: map[string]time.Duration{
		p.Hold: promptLength, p.CallerUnavailable: promptLength, p.Cancelled: promptLength,
		longSound: 60 * time.Second,
	}})
	return &realFS{srv: srv, pool: startPool(t, srv.Addr, srv.Password), rec: callrec.Start(t, srv.Addr, srv.Password), node: "fs1"}
}

// startPool connects bgcall's client to addr as node "fs1", reading its
// events until the test ends.
func startPool(t *testing.T, addr, password string) *esl.Pool {
	t.Helper()
	pool, err := esl.NewPool([]esl.Node{{Name: "fs1", Addr: addr, Password: password}}, esl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); pool.Run(ctx) }()
	go func() {
		for range pool.Events() {
		}
	}()
	t.Cleanup(func() { cancel(); <-ran })
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := pool.WaitConnected(wctx, 1); err != nil {
		t.Fatalf("bgcall's client did not connect to %s: %v (%+v)", addr, err, pool.Health())
	}
	return pool
}

// leg describes an originate as the session engine builds it (session's
// originate): caller ID number and name, ring time, early media ignored,
// park_timeout, hangup_after_bridge, and the session tag.
type leg struct {
	number, cid, cidName, session, role string
	ring                                time.Duration
	parkTimeout                         int
}

func (l leg) originate(t *testing.T, uuid string) string {
	t.Helper()
	ep, err := freeswitch.DialTemplate(fsreal.DialTemplate).Endpoint(l.number, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.cidName == "" {
		l.cidName = l.cid
	}
	if l.parkTimeout == 0 {
		l.parkTimeout = 30
	}
	if l.role == "" {
		l.role = "callee"
	}
	cmd, err := freeswitch.Originate{
		Endpoint: ep, UUID: uuid, CallerIDNumber: l.cid, CallerIDName: l.cidName, Timeout: l.ring,
		Vars: []freeswitch.Var{
			{Name: freeswitch.VarIgnoreEarlyMedia, Value: "true"},
			{Name: freeswitch.VarParkTimeout, Value: fmt.Sprint(l.parkTimeout)},
			{Name: "hangup_after_bridge", Value: "true"},
			{Name: session.VarSession, Value: l.session},
			{Name: session.VarLeg, Value: l.role},
		},
	}.Command()
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

// dial originates l with bgapi, as the engine does, and returns the job's
// result as bgcall parses it.
func (fs *realFS) dial(t *testing.T, ctx context.Context, l leg) (uuid, result string, err error) {
	t.Helper()
	uuid = callrec.NewUUID()
	result, err = fs.pool.BGAPIWait(ctx, fs.node, l.originate(t, uuid))
	return uuid, result, err
}

// answered originates a leg that answers at once and returns its uuid once
// FreeSWITCH has parked it.
func (fs *realFS) answered(t *testing.T, ctx context.Context, session string) string {
	t.Helper()
	uuid, result, err := fs.dial(t, ctx, leg{number: fsreal.AnswerAfter(0, "1"), cid: "5550100", session: session, ring: 5 * time.Second})
	if err != nil || result != uuid {
		t.Fatalf("originate: %q, %v; want %s", result, err, uuid)
	}
	if _, err := fs.rec.WaitEvent(ctx, uuid, freeswitch.EventChannelPark); err != nil {
		t.Fatal(err)
	}
	return uuid
}

// api sends a command through bgcall's client.
func (fs *realFS) api(ctx context.Context, cmd string) (string, error) {
	return fs.pool.API(ctx, fs.node, cmd)
}

// must is a builder's command, which the tests give valid arguments.
func must(cmd string, err error) string {
	if err != nil {
		panic(err)
	}
	return cmd
}

func (fs *realFS) kill(t *testing.T, ctx context.Context, uuid string) {
	t.Helper()
	if _, err := fs.api(ctx, must(freeswitch.UUIDKill(uuid, freeswitch.NormalClearing))); err != nil {
		t.Errorf("uuid_kill %s: %v", uuid, err)
	}
	if _, err := fs.rec.WaitEvent(ctx, uuid, freeswitch.EventChannelDestroy); err != nil {
		t.Error(err)
	}
}

// inOrder reports whether c fired the events names in this order (others
// may come between).
func inOrder(c callrec.Channel, names ...string) bool {
	i := 0
	for _, e := range c.Events {
		if i < len(names) && e.Name == names[i] {
			i++
		}
	}
	return i == len(names)
}

// first returns the first event name of c.
func first(c callrec.Channel, name string) (esl.Event, bool) {
	i := slices.IndexFunc(c.Events, func(e esl.Event) bool { return e.Name == name })
	if i < 0 {
		return esl.Event{}, false
	}
	return c.Events[i], true
}

// farEnd returns the loopback leg that plays the far end of leg a: it
// runs the dialplan, and it is what the called phone would show.
func (fs *realFS) farEnd(t *testing.T, ctx context.Context, a string) callrec.Channel {
	t.Helper()
	got, err := fs.rec.WaitChannels(ctx, 1, func(c callrec.Channel) bool {
		return c.UUID != a && c.Var("other_loopback_leg_uuid") == a
	})
	if err != nil {
		t.Fatalf("far end of %s: %v", a, err)
	}
	return got[0]
}

func TestCommandsRealFreeSWITCH(t *testing.T) {
	fs := startRealFS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("originate", func(t *testing.T) {
		l := leg{number: fsreal.AnswerAfter(200*time.Millisecond, "42"), cid: "+4930123", cidName: "Alice Smith, Sales",
			session: "s-originate", role: "caller", ring: 4500 * time.Millisecond, parkTimeout: 25}
		uuid, result, err := fs.dial(t, ctx, l)
		if err != nil || result != uuid {
			t.Fatalf("originate: %q, %v; want %s", result, err, uuid)
		}
		if _, err := fs.rec.WaitEvent(ctx, uuid, freeswitch.EventChannelPark); err != nil {
			t.Fatal(err)
		}
		a, _ := fs.rec.Channel(uuid)
		if !inOrder(a, freeswitch.EventChannelCreate, freeswitch.EventChannelProgress, freeswitch.EventChannelAnswer, freeswitch.EventChannelPark) {
			t.Errorf("leg events %v: want CREATE, PROGRESS, ANSWER, PARK in this order", a.Names())
		}
		if a.Answered.Sub(a.Created) < 150*time.Millisecond {
			t.Errorf("answered %v after creation; the far end rings 200 ms", a.Answered.Sub(a.Created))
		}
		create, _ := first(a, freeswitch.EventChannelCreate)
		if a.Direction != "outbound" || a.CallerNumber != l.cid || create.Header("Caller-Caller-ID-Name") != l.cidName {
			t.Errorf("leg: direction %q, caller ID %q %q; want outbound, %q %q",
				a.Direction, a.CallerNumber, create.Header("Caller-Caller-ID-Name"), l.cid, l.cidName)
		}
		for name, want := range map[string]string{
			session.VarSession: l.session, session.VarLeg: l.role, freeswitch.VarIgnoreEarlyMedia: "true",
			freeswitch.VarParkTimeout: "25", "hangup_after_bridge": "true", freeswitch.VarOriginateTimeout: "5",
			freeswitch.VarOriginationUUID: uuid,
		} {
			if got := a.Var(name); got != want {
				t.Errorf("variable %s = %q on the leg, want %q", name, got, want)
			}
		}
		// The far end is shown the caller ID bgcall set.
		b := fs.farEnd(t, ctx, uuid)
		if b.Direction != "inbound" || b.CallerNumber != l.cid || b.DestinationNumber != l.number {
			t.Errorf("far end: direction %q, caller ID %q, destination %q; want inbound, %q, %q",
				b.Direction, b.CallerNumber, b.DestinationNumber, l.cid, l.number)
		}
		fs.kill(t, ctx, uuid)
	})

	t.Run("originate fails", func(t *testing.T) {
		for _, c := range []struct {
			what, number string
			cause        freeswitch.Cause
			ring         time.Duration
		}{
			{"busy", fsreal.Busy("1"), freeswitch.UserBusy, 5 * time.Second},
			{"reject", fsreal.Reject("1"), freeswitch.CallRejected, 5 * time.Second},
			{"no answer", fsreal.NoAnswer("1"), freeswitch.NoAnswer, 2 * time.Second},
			{"early media only", fsreal.EarlyMedia("1"), freeswitch.NoAnswer, 2 * time.Second},
			{"no route", "12345", freeswitch.NoRouteDestination, 5 * time.Second},
		} {
			uuid, result, err := fs.dial(t, ctx, leg{number: c.number, cid: "5550100", session: "s-fail", ring: c.ring})
			var fe *freeswitch.Error
			if !errors.As(err, &fe) || fe.Cause != c.cause {
				t.Errorf("%s: originate gave %q, %v; want -ERR %s", c.what, result, err, c.cause)
				continue
			}
			if _, err := fs.rec.WaitEvent(ctx, uuid, freeswitch.EventChannelHangup); err != nil {
				t.Fatal(err)
			}
			a, _ := fs.rec.Channel(uuid)
			if a.HangupCause != c.cause || a.Has(freeswitch.EventChannelAnswer) {
				t.Errorf("%s: leg hung up with %s, events %v; want %s, no answer", c.what, a.HangupCause, a.Names(), c.cause)
			}
			// originate_timeout counts whole seconds of the wall clock: it
			// ends the ringing at the N-th second boundary, between N-1
			// and N seconds after the originate.
			if rang := a.HungUp.Sub(a.Created); c.cause == freeswitch.NoAnswer && (rang < c.ring-time.Second || rang > c.ring+500*time.Millisecond) {
				t.Errorf("%s: gave up after %v; originate_timeout %v", c.what, rang, c.ring)
			}
			if c.what == "early media only" && !a.Has(freeswitch.EventChannelProgressMedia) {
				t.Errorf("%s: no CHANNEL_PROGRESS_MEDIA in %v", c.what, a.Names())
			}
		}
	})

	t.Run("park_timeout", func(t *testing.T) {
		uuid, result, err := fs.dial(t, ctx, leg{number: fsreal.AnswerAfter(0, "2"), cid: "5550100", session: "s-park", ring: 5 * time.Second, parkTimeout: 2})
		if err != nil || result != uuid {
			t.Fatalf("originate: %q, %v", result, err)
		}
		park, err := fs.rec.WaitEvent(ctx, uuid, freeswitch.EventChannelPark)
		if err != nil {
			t.Fatal(err)
		}
		// Nobody steers the parked leg: FreeSWITCH hangs it up by itself.
		hangup, err := fs.rec.WaitEvent(ctx, uuid, freeswitch.EventChannelHangup)
		if err != nil {
			t.Fatal(err)
		}
		// Like originate_timeout, park_timeout counts whole seconds of the
		// wall clock: it fires between N-1 and N seconds after the park.
		if parked := hangup.Time.Sub(park.Time); parked < time.Second || parked > 2500*time.Millisecond {
			t.Errorf("parked leg hung up %v after CHANNEL_PARK, want park_timeout=2 (1-2 s)", parked)
		}
		if hangup.HangupCause != freeswitch.NormalClearing {
			t.Errorf("park_timeout hung up with %s, want NORMAL_CLEARING (park_timeout without :<cause>)", hangup.HangupCause)
		}
	})

	t.Run("uuid_broadcast each prompt", func(t *testing.T) {
		p := session.DefaultPrompts()
		uuid := fs.answered(t, ctx, "s-prompts")
		for _, prompt := range []string{p.Hold, p.CallerUnavailable, p.Cancelled} {
			out, err := fs.api(ctx, must(freeswitch.UUIDBroadcast(uuid, prompt, "aleg")))
			if err != nil || out != "Message sent" {
				t.Fatalf("uuid_broadcast %s: %q, %v; want +OK Message sent", prompt, out, err)
			}
			var start, stop esl.Event
			if err := fs.rec.WaitFor(ctx, func(r *callrec.Recorder) bool {
				start, stop = playback(r, uuid, prompt)
				return stop.Name != ""
			}); err != nil {
				t.Fatalf("prompt %s: no PLAYBACK_STOP: %v", prompt, err)
			}
			if start.Name == "" || stop.Header("Playback-Status") != "done" {
				t.Errorf("prompt %s: start %v, stop status %q; want PLAYBACK_START then STOP done", prompt, start.Name != "", stop.Header("Playback-Status"))
			}
			if played := stop.Time.Sub(start.Time); played < promptLength-50*time.Millisecond {
				t.Errorf("prompt %s played %v, the file lasts %v: not played", prompt, played, promptLength)
			}
		}
		fs.kill(t, ctx, uuid)
	})

	t.Run("uuid_break, then the next prompt", func(t *testing.T) {
		// What the engine does when A does not answer while B hears the
		// hold prompt: break it, then play the unavailable prompt.
		unavailable := session.DefaultPrompts().CallerUnavailable
		uuid := fs.answered(t, ctx, "s-break")
		if _, err := fs.api(ctx, must(freeswitch.UUIDBroadcast(uuid, longSound, "aleg"))); err != nil {
			t.Fatal(err)
		}
		if err := fs.rec.WaitFor(ctx, func(r *callrec.Recorder) bool { s, _ := playback(r, uuid, longSound); return s.Name != "" }); err != nil {
			t.Fatal(err)
		}
		out, err := fs.api(ctx, must(freeswitch.UUIDBreak(uuid, true)))
		if err != nil || out != "" {
			t.Fatalf("uuid_break: %q, %v; want +OK", out, err)
		}
		if _, err := fs.api(ctx, must(freeswitch.UUIDBroadcast(uuid, unavailable, "aleg"))); err != nil {
			t.Fatal(err)
		}
		var longStop, next esl.Event
		if err := fs.rec.WaitFor(ctx, func(r *callrec.Recorder) bool {
			_, longStop = playback(r, uuid, longSound)
			_, next = playback(r, uuid, unavailable)
			return longStop.Name != "" && next.Name != ""
		}); err != nil {
			t.Fatalf("the long sound was not broken off and followed by %s: %v", unavailable, err)
		}
		if got := longStop.Header("Playback-Status"); got != "break" {
			t.Errorf("broken playback stopped with status %q, want break", got)
		}
		fs.kill(t, ctx, uuid)
	})

	t.Run("uuid_bridge after the job", func(t *testing.T) {
		b := fs.answered(t, ctx, "s-bridge")
		a := fs.answered(t, ctx, "s-bridge")
		out, err := fs.api(ctx, must(freeswitch.UUIDBridge(b, a)))
		if err != nil || out != a {
			t.Fatalf("uuid_bridge: %q, %v; want +OK %s", out, err, a)
		}
		if err := fs.rec.WaitFor(ctx, func(r *callrec.Recorder) bool { return r.Bridged(a, b) }); err != nil {
			t.Fatalf("no CHANNEL_BRIDGE of %s and %s: %v", a, b, err)
		}
		// session/recover.go reads a bridge from uuid_dump.
		dump, err := fs.api(ctx, "uuid_dump "+a)
		if err != nil || !strings.Contains(dump, "Answer-State: answered") ||
			!(strings.Contains(dump, "variable_bridge_uuid: ") || strings.Contains(dump, "Other-Leg-Unique-ID: ")) {
			t.Errorf("uuid_dump of a bridged leg: %v, does not show answered and bridged:\n%s", err, dump)
		}
		// hangup_after_bridge: A hanging up ends B too, A first.
		if _, err := fs.api(ctx, must(freeswitch.UUIDKill(a, freeswitch.NormalClearing))); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.rec.WaitEvent(ctx, b, freeswitch.EventChannelHangup); err != nil {
			t.Fatal(err)
		}
		if order := fs.rec.HangupOrder(a, b); !slices.Equal(order, []string{a, b}) {
			t.Errorf("hangup order %v, want A %s then B %s", order, a, b)
		}
		if c, _ := fs.rec.Channel(b); c.HangupCause != freeswitch.NormalClearing {
			t.Errorf("B hung up with %s after A, want NORMAL_CLEARING", c.HangupCause)
		}
		if _, err := fs.api(ctx, must(freeswitch.UUIDBridge(b, a))); !isErr(err) {
			t.Errorf("uuid_bridge of gone legs: %v, want -ERR", err)
		}
	})

	t.Run("uuid_kill live and gone", func(t *testing.T) {
		uuid := fs.answered(t, ctx, "s-kill")
		out, err := fs.api(ctx, must(freeswitch.UUIDKill(uuid, freeswitch.UserBusy)))
		if err != nil || out != "" {
			t.Fatalf("uuid_kill: %q, %v; want +OK", out, err)
		}
		if _, err := fs.rec.WaitEvent(ctx, uuid, freeswitch.EventChannelDestroy); err != nil {
			t.Fatal(err)
		}
		c, _ := fs.rec.Channel(uuid)
		if c.HangupCause != freeswitch.UserBusy ||
			!inOrder(c, freeswitch.EventChannelHangup, freeswitch.EventChannelHangupComplete, freeswitch.EventChannelDestroy) {
			t.Errorf("killed leg: cause %s, events %v; want USER_BUSY, HANGUP, HANGUP_COMPLETE, DESTROY", c.HangupCause, c.Names())
		}
		if out, err := fs.api(ctx, must(freeswitch.UUIDKill(uuid, freeswitch.NormalClearing))); !isErr(err) {
			t.Errorf("uuid_kill of a gone leg: %q, %v; want -ERR", out, err)
		}
	})

	t.Run("uuid_exists", func(t *testing.T) {
		uuid := fs.answered(t, ctx, "s-exists")
		if out, err := fs.api(ctx, must(freeswitch.UUIDExists(uuid))); err != nil || out != "true" {
			t.Errorf("uuid_exists of a live leg: %q, %v", out, err)
		}
		fs.kill(t, ctx, uuid)
		if out, err := fs.api(ctx, must(freeswitch.UUIDExists(uuid))); err != nil || out != "false" {
			t.Errorf("uuid_exists of a destroyed leg: %q, %v", out, err)
		}
	})

	t.Run("uuid_dump", func(t *testing.T) {
		// Ringing: there, not answered (what recover.go's probe reads).
		uuid := callrec.NewUUID()
		ringing := leg{number: fsreal.NoAnswer("3"), cid: "5550100", session: "s-dump", ring: 5 * time.Second}
		if err := fs.pool.BGAPI(ctx, fs.node, ringing.originate(t, uuid), callrec.NewUUID()); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.rec.WaitEvent(ctx, uuid, freeswitch.EventChannelProgress); err != nil {
			t.Fatal(err)
		}
		dump, err := fs.api(ctx, "uuid_dump "+uuid)
		if err != nil || !strings.Contains(dump, "Unique-ID: "+uuid) || strings.Contains(dump, "Answer-State: answered") {
			t.Errorf("uuid_dump of a ringing leg: %v\n%s", err, dump)
		}
		fs.kill(t, ctx, uuid)
		if out, err := fs.api(ctx, "uuid_dump "+uuid); !isErr(err) {
			t.Errorf("uuid_dump of a gone leg: %q, %v; want -ERR", out, err)
		}
	})

	t.Run("uuid_setvar", func(t *testing.T) {
		uuid := fs.answered(t, ctx, "s-setvar")
		const value = "two words, and more"
		if out, err := fs.api(ctx, must(freeswitch.UUIDSetVar(uuid, "bgcall_note", value))); err != nil || out != "" {
			t.Fatalf("uuid_setvar: %q, %v; want +OK", out, err)
		}
		if out, err := fs.api(ctx, "uuid_getvar "+uuid+" bgcall_note"); err != nil || out != value {
			t.Errorf("uuid_getvar after uuid_setvar: %q, %v; want %q", out, err, value)
		}
		fs.kill(t, ctx, uuid)
		// The variable is on the channel's own events too.
		if c, _ := fs.rec.Channel(uuid); c.Var("bgcall_note") != value {
			t.Errorf("events of the leg carry bgcall_note=%q, want %q", c.Var("bgcall_note"), value)
		}
	})

	t.Run("show channels as json", func(t *testing.T) {
		a := fs.answered(t, ctx, "s-show")
		// show channels lags changes by up to a second: ask until it lists a.
		var rows []map[string]any
		for range 50 {
			out, err := fs.api(ctx, "show channels as json")
			if err != nil {
				t.Fatal(err)
			}
			var list struct {
				RowCount int              `json:"row_count"`
				Rows     []map[string]any `json:"rows"`
			}
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				t.Fatalf("show channels as json: %v\n%s", err, out)
			}
			if list.RowCount != len(list.Rows) {
				t.Fatalf("row_count %d, %d rows", list.RowCount, len(list.Rows))
			}
			rows = list.Rows
			if slices.ContainsFunc(rows, func(r map[string]any) bool { return r["uuid"] == a }) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		i := slices.IndexFunc(rows, func(r map[string]any) bool { return r["uuid"] == a })
		if i < 0 {
			t.Fatalf("show channels never listed %s: %v", a, rows)
		}
		if rows[i]["direction"] != "outbound" || rows[i]["callstate"] != "ACTIVE" {
			t.Errorf("row of %s: direction %v, callstate %v", a, rows[i]["direction"], rows[i]["callstate"])
		}
		fs.kill(t, ctx, a)
	})

	t.Run("chat", func(t *testing.T) {
		const body = "B called you at 10:15, it's free now"
		cmd, err := freeswitch.Chat("event", "1002", "1001", body)
		if err != nil {
			t.Fatal(err)
		}
		out, err := fs.pool.BGAPIWait(ctx, fs.node, cmd)
		if err != nil || out != "Sent" {
			t.Fatalf("chat: %q, %v; want Sent", out, err)
		}
		var msg []esl.Event
		if err := fs.rec.WaitFor(ctx, func(r *callrec.Recorder) bool {
			msg = r.Events(func(e esl.Event) bool { return e.Name == "MESSAGE" && e.Header("to") == "1001" })
			return len(msg) > 0
		}); err != nil {
			t.Fatalf("no MESSAGE event: %v", err)
		}
		if m := msg[0]; m.Header("from") != "1002" || m.Body != body {
			t.Errorf("MESSAGE from %q, body %q; want from 1002, body %q", m.Header("from"), m.Body, body)
		}
	})

	t.Run("hupall by session", func(t *testing.T) {
		mine := []string{fs.answered(t, ctx, "s-hupall"), fs.answered(t, ctx, "s-hupall")}
		other := fs.answered(t, ctx, "s-other")
		if _, err := fs.api(ctx, must(freeswitch.Hupall(freeswitch.Interworking, session.VarSession, "s-hupall"))); err != nil {
			t.Fatal(err)
		}
		for _, uuid := range mine {
			if _, err := fs.rec.WaitEvent(ctx, uuid, freeswitch.EventChannelHangup); err != nil {
				t.Fatal(err)
			}
			if c, _ := fs.rec.Channel(uuid); c.HangupCause != freeswitch.Interworking {
				t.Errorf("hupall hung %s up with %s, want INTERWORKING", uuid, c.HangupCause)
			}
		}
		if out, err := fs.api(ctx, must(freeswitch.UUIDExists(other))); err != nil || out != "true" {
			t.Errorf("a leg of another session: uuid_exists %q, %v; hupall must leave it", out, err)
		}
		fs.kill(t, ctx, other)
	})

	// Every leg the tests made is gone, on FreeSWITCH's own word.
	idle, cancelIdle := context.WithTimeout(ctx, 10*time.Second)
	defer cancelIdle()
	if err := fs.rec.WaitIdle(idle); err != nil {
		t.Errorf("legs left up: %v", err)
	}
}

// playback returns the PLAYBACK_START and PLAYBACK_STOP of file on channel
// uuid (empty events if not seen).
func playback(r *callrec.Recorder, uuid, file string) (start, stop esl.Event) {
	c, _ := r.Channel(uuid)
	for _, e := range c.Events {
		if !strings.HasSuffix(e.Header(freeswitch.HeaderPlaybackFilePath), file) {
			continue
		}
		switch e.Name {
		case freeswitch.EventPlaybackStart:
			start = e
		case freeswitch.EventPlaybackStop:
			stop = e
		}
	}
	return start, stop
}

func isErr(err error) bool {
	var fe *freeswitch.Error
	return errors.As(err, &fe)
}
