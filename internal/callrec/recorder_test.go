package callrec_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/callrec"
	"bgcall/internal/fsreal"
	"bgcall/session"
)

// backend is an event socket the recorder is tested on.
type backend struct{ addr, password string }

// answers is a number that answers after 200 ms on both backends.
var answers = fsreal.AnswerAfter(200*time.Millisecond, "7")

func simulator(t *testing.T) backend {
	n := fssim.StartT(t, fssim.Options{
		Second:      100 * time.Millisecond,
		Subscribers: map[string][]fssim.Behavior{answers: {{Ring: 200 * time.Millisecond}}},
	})
	return backend{n.Addr(), "ClueCon"}
}

func realFreeSWITCH(t *testing.T) backend {
	s := fsreal.Start(t, fsreal.Options{})
	return backend{s.Addr, s.Password}
}

func TestRecorderSimulator(t *testing.T)      { testRecorder(t, simulator(t)) }
func TestRecorderRealFreeSWITCH(t *testing.T) { testRecorder(t, realFreeSWITCH(t)) }

// testRecorder places two calls, bridges, plays to and hangs up one of them,
// and checks that the recorder saw each step on the right channel.
func testRecorder(t *testing.T, b backend) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := callrec.Start(t, b.addr, b.password)
	c, err := callrec.Dial(ctx, b.addr, b.password)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	legs := []string{callrec.NewUUID(), callrec.NewUUID()}
	for i, id := range legs {
		job, err := c.BGAPI(ctx, "originate {origination_uuid="+id+",origination_caller_id_number=10"+string(rune('0'+i))+
			",bgcall_session=s-"+id+",originate_timeout=10}loopback/"+answers+"/default &park()")
		if err != nil {
			t.Fatal(err)
		}
		ev, err := rec.WaitJob(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(ev.Body); got != "+OK "+id {
			t.Fatalf("originate job: %q, want +OK %s", got, id)
		}
	}
	if got := rec.UpAt(time.Now(), outbound); len(got) != 2 {
		t.Fatalf("%d outbound channels up after two answered originates, want 2", len(got))
	}
	a, ok := rec.Channel(legs[0])
	if !ok {
		t.Fatalf("channel %s not recorded", legs[0])
	}
	if a.Direction != "outbound" || a.CallerNumber != "100" || a.DestinationNumber != answers ||
		a.Var("bgcall_session") != "s-"+legs[0] {
		t.Errorf("leg A: direction %q, caller %q, destination %q, bgcall_session %q",
			a.Direction, a.CallerNumber, a.DestinationNumber, a.Var("bgcall_session"))
	}
	if !a.Has(freeswitch.EventChannelCreate) || a.Answered.IsZero() || a.Answered.Before(a.Created) {
		t.Errorf("leg A: events %v, created %v, answered %v", a.Names(), a.Created, a.Answered)
	}

	if reply, err := c.API(ctx, "uuid_bridge "+legs[0]+" "+legs[1]); err != nil || !strings.HasPrefix(reply, "+OK") {
		t.Fatalf("uuid_bridge: %q, %v", reply, err)
	}
	if err := rec.WaitFor(ctx, func(r *callrec.Recorder) bool { return r.Bridged(legs[1], legs[0]) }); err != nil {
		t.Fatalf("no CHANNEL_BRIDGE of the two legs: %v", err)
	}

	const tone = "tone_stream://%(100,0,440)"
	if reply, err := c.API(ctx, "uuid_broadcast "+legs[0]+" "+tone+" aleg"); err != nil || !strings.HasPrefix(reply, "+OK") {
		t.Fatalf("uuid_broadcast: %q, %v", reply, err)
	}
	if _, err := rec.WaitEvent(ctx, legs[0], freeswitch.EventPlaybackStop); err != nil {
		t.Fatal(err)
	}
	if a, _ := rec.Channel(legs[0]); len(a.Playbacks) != 1 || a.Playbacks[0] != tone {
		t.Errorf("leg A played %q, want [%s]", a.Playbacks, tone)
	}

	if reply, err := c.API(ctx, "uuid_kill "+legs[0]+" USER_BUSY"); err != nil || !strings.HasPrefix(reply, "+OK") {
		t.Fatalf("uuid_kill: %q, %v", reply, err)
	}
	if err := rec.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec.HangupOrder(legs[1], legs[0]); len(got) != 2 || got[0] != legs[0] {
		t.Errorf("hangup order %v, want %s (killed) first", got, legs[0])
	}
	if a, _ := rec.Channel(legs[0]); a.HangupCause != freeswitch.UserBusy {
		t.Errorf("leg A hangup cause %q, want USER_BUSY", a.HangupCause)
	}
	if got := rec.MaxUp(outbound); got != 2 {
		t.Errorf("at most %d outbound legs up at once, want 2", got)
	}
	if got := rec.UpAt(time.Now(), nil); len(got) != 0 {
		t.Errorf("%d channels up after every hangup", len(got))
	}
}

func outbound(c callrec.Channel) bool { return c.Direction == "outbound" }

// A wait ends with the recording: it does not hang until its deadline.
func TestWaitEndsWithTheSocketSimulator(t *testing.T) {
	n, err := fssim.Start(fssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := callrec.Start(t, n.Addr(), "ClueCon")
	done := make(chan error, 1)
	go func() {
		done <- rec.WaitFor(context.Background(), func(*callrec.Recorder) bool { return false })
	}()
	n.Close()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "event socket ended") {
		t.Fatalf("wait after the socket closed: %v", err)
	}
}

func TestMaxUpSimulator(t *testing.T) {
	// MaxUp is checked on the recorder's own arithmetic through the
	// simulator: two legs one after the other never overlap.
	n := fssim.StartT(t, fssim.Options{
		Second:      20 * time.Millisecond,
		Subscribers: map[string][]fssim.Behavior{"7": {{Ring: 50 * time.Millisecond}}},
	})
	rec := callrec.Start(t, n.Addr(), "ClueCon")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := callrec.Dial(ctx, n.Addr(), "ClueCon")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 2 {
		id := callrec.NewUUID()
		if reply, err := c.API(ctx, "originate {origination_uuid="+id+"}loopback/7/default &park()"); err != nil || !strings.HasPrefix(reply, "+OK") {
			t.Fatalf("originate: %q, %v", reply, err)
		}
		c.API(ctx, "uuid_kill "+id)
		if _, err := rec.WaitEvent(ctx, id, freeswitch.EventChannelHangup); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.MaxUp(outbound); got != 1 {
		t.Fatalf("MaxUp = %d for two legs one after the other, want 1", got)
	}
	if got := len(rec.Channels(outbound)); got != 2 {
		t.Fatalf("%d outbound channels recorded, want 2", got)
	}
}

func TestNewUUID(t *testing.T) {
	a, b := callrec.NewUUID(), callrec.NewUUID()
	for _, id := range []string{a, b} {
		if err := freeswitch.ValidUUID(id); err != nil || len(id) != 36 || id[14] != '4' {
			t.Errorf("NewUUID() = %q: %v", id, err)
		}
	}
	if a == b {
		t.Errorf("NewUUID() twice gave %s", a)
	}
}

func TestSessionSimulator(t *testing.T) {
	if callrec.VarSession != session.VarSession {
		t.Fatalf("callrec.VarSession %q, bgcall tags its legs with %q", callrec.VarSession, session.VarSession)
	}
	n := fssim.StartT(t, fssim.Options{Second: 20 * time.Millisecond})
	rec := callrec.Start(t, n.Addr(), "ClueCon")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := callrec.Dial(ctx, n.Addr(), "ClueCon")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tagged := map[string]string{"s1": callrec.NewUUID(), "s2": callrec.NewUUID(), "": callrec.NewUUID()}
	for tag, id := range tagged {
		vars := "origination_uuid=" + id
		if tag != "" {
			vars += ",bgcall_session=" + tag
		}
		if reply, err := c.API(ctx, "originate {"+vars+"}loopback/7/default &park()"); err != nil || !strings.HasPrefix(reply, "+OK") {
			t.Fatalf("originate: %q, %v", reply, err)
		}
		c.API(ctx, "uuid_kill "+id)
	}
	if err := rec.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"s1", "s2"} {
		got := rec.Session(tag)
		if len(got) != 1 || got[0].UUID != tagged[tag] || got[0].HungUp.IsZero() {
			t.Errorf("Session(%s) = %d channels, want %s, recorded to its hangup", tag, len(got), tagged[tag])
		}
	}
	if got := rec.Session("s3"); len(got) != 0 {
		t.Errorf("Session of an unknown tag: %d channels", len(got))
	}
}
