package fsreal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bgcall/internal/callrec"
	"bgcall/internal/fsreal"
)

func coreUUID(t *testing.T, ctx context.Context, s *fsreal.Server) string {
	t.Helper()
	id, err := s.API(ctx, "global_getvar core_uuid")
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 36 {
		t.Fatalf("core_uuid %q: not a uuid", id)
	}
	return id
}

func TestSideBySideRealFreeSWITCH(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := fsreal.Start(t, fsreal.Options{})
	b := fsreal.Start(t, fsreal.Options{Password: "other-secret"})
	if a.Addr == b.Addr {
		t.Fatalf("both on %s", a.Addr)
	}
	if a.Password == b.Password || b.Password != "other-secret" {
		t.Fatalf("passwords %q and %q", a.Password, b.Password)
	}
	for _, s := range []*fsreal.Server{a, b} {
		status, err := s.API(ctx, "status")
		if err != nil || !strings.HasPrefix(status, "UP") {
			t.Fatalf("%s: status %q, %v", s.Addr, status, err)
		}
	}
	if coreUUID(t, ctx, a) == coreUUID(t, ctx, b) {
		t.Fatal("two instances share a Core-UUID")
	}
	// Each refuses the other's password.
	if _, err := callrec.Dial(ctx, a.Addr, b.Password); !errors.Is(err, callrec.ErrPassword) {
		t.Fatalf("dial %s with a wrong password: %v, want ErrPassword", a.Addr, err)
	}
}

func TestDialplanRealFreeSWITCH(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := fsreal.Start(t, fsreal.Options{Dialplan: map[string]string{"extra": `<include>
  <extension name="extra"><condition field="destination_number" expression="^999$">
    <action application="hangup" data="NUMBER_CHANGED"/>
  </condition></extension>
</include>`}})
	for _, c := range []struct{ number, want string }{
		{fsreal.Busy("1"), "-ERR USER_BUSY"},
		{fsreal.Reject("1"), "-ERR CALL_REJECTED"},
		{fsreal.NoAnswer("1"), "-ERR NO_ANSWER"},
		{fsreal.EarlyMedia("1"), "-ERR NO_ANSWER"}, // ignore_early_media: early media is no answer
		{"999", "-ERR NUMBER_CHANGED"},
		{"12345", "-ERR NO_ROUTE_DESTINATION"},
	} {
		got, err := s.API(ctx, "originate {originate_timeout=1,ignore_early_media=true}loopback/"+c.number+"/default &park()")
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(got) != c.want {
			t.Errorf("originate %s: %q, want %q", c.number, got, c.want)
		}
	}
	// An answering far end: the leg is up, and answered, until killed.
	rec := callrec.Start(t, s.Addr, s.Password)
	id := callrec.NewUUID()
	start := time.Now()
	got, err := s.API(ctx, "originate {origination_uuid="+id+"}loopback/"+fsreal.AnswerAfter(300*time.Millisecond, "1")+"/default &park()")
	if err != nil || strings.TrimSpace(got) != "+OK "+id {
		t.Fatalf("originate to a far end that answers: %q, %v", got, err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("answered after %v, before the 300 ms the number asks for", took)
	}
	if dump, err := s.API(ctx, "uuid_dump "+id); err != nil || !strings.Contains(dump, "Answer-State: answered") {
		t.Errorf("uuid_dump of the answered leg: %q, %v", dump, err)
	}
	if got, err := s.API(ctx, "uuid_kill "+id); err != nil || !strings.HasPrefix(got, "+OK") {
		t.Errorf("uuid_kill: %q, %v", got, err)
	}

	// A far end that answers, then hangs up by itself.
	id = callrec.NewUUID()
	const talk = 400 * time.Millisecond
	got, err = s.API(ctx, "originate {origination_uuid="+id+"}loopback/"+fsreal.AnswerThenHangup(100*time.Millisecond, talk, "1")+"/default &park()")
	if err != nil || strings.TrimSpace(got) != "+OK "+id {
		t.Fatalf("originate to a far end that answers and hangs up: %q, %v", got, err)
	}
	if _, err := rec.WaitEvent(ctx, id, "CHANNEL_HANGUP"); err != nil {
		t.Fatal(err)
	}
	leg, _ := rec.Channel(id)
	if leg.HangupCause != "NORMAL_CLEARING" || leg.HungUp.Sub(leg.Answered) < talk-50*time.Millisecond {
		t.Errorf("far end hung up %v after answer with %s, want about %v with NORMAL_CLEARING",
			leg.HungUp.Sub(leg.Answered), leg.HangupCause, talk)
	}
}

func TestRestartRealFreeSWITCH(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := fsreal.Start(t, fsreal.Options{})
	addr, before := s.Addr, coreUUID(t, ctx, s)
	s.Restart(t)
	if s.Addr != addr {
		t.Fatalf("restarted on %s, was %s", s.Addr, addr)
	}
	if after := coreUUID(t, ctx, s); after == before {
		t.Fatalf("Core-UUID %s unchanged by a restart", after)
	}
}

func TestSharedRealFreeSWITCH(t *testing.T) {
	bin := fsreal.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := fsreal.StartServer(t.TempDir(), fsreal.Options{Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	if status, err := s.API(ctx, "status"); err != nil || !strings.HasPrefix(status, "UP") {
		t.Fatalf("status %q, %v", status, err)
	}
	pid := s.PID()
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(comm)) != "freeswitch" {
		t.Errorf("PID %d: /proc says %q, %v; want freeswitch", pid, comm, err)
	}
	s.Stop()
	if _, err := callrec.Dial(ctx, s.Addr, s.Password); err == nil {
		t.Fatalf("event socket %s still answers after Stop", s.Addr)
	}
	if pid := s.PID(); pid != 0 {
		t.Errorf("PID after Stop = %d, want 0", pid)
	}
}

// Options.Bin is the binary StartServer runs, in place of the installed one.
func TestStartServerBin(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "freeswitch")
	s, err := fsreal.StartServer(t.TempDir(), fsreal.Options{Bin: missing})
	if err == nil {
		s.Stop()
		t.Fatalf("started FreeSWITCH from %s, which does not exist", missing)
	}
	if !errors.Is(err, fsreal.ErrNotInstalled) || !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q: want ErrNotInstalled, naming %s", err, missing)
	}
}

// The far ends stand for phones: a call bridged out of park outlives the
// park_timeout its legs were given, although the loopback endpoint copies
// it to the far ends' legs.
func TestFarEndsOutliveParkTimeoutRealFreeSWITCH(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := fsreal.Start(t, fsreal.Options{})
	rec := callrec.Start(t, s.Addr, s.Password)
	a, b := callrec.NewUUID(), callrec.NewUUID()
	for _, id := range []string{a, b} {
		got, err := s.API(ctx, "originate {origination_uuid="+id+",park_timeout=1}loopback/"+fsreal.AnswerAfter(0, "1")+"/default &park()")
		if err != nil || strings.TrimSpace(got) != "+OK "+id {
			t.Fatalf("originate: %q, %v", got, err)
		}
	}
	if got, err := s.API(ctx, "uuid_bridge "+a+" "+b); err != nil || !strings.HasPrefix(got, "+OK") {
		t.Fatalf("uuid_bridge: %q, %v", got, err)
	}
	if err := rec.WaitFor(ctx, func(r *callrec.Recorder) bool { return r.Bridged(a, b) }); err != nil {
		t.Fatal(err)
	}
	// A clock inside FreeSWITCH: a far end that hangs up 2.5 s after answering,
	// past the whole second in which park_timeout=1 would have fired.
	clock := callrec.NewUUID()
	if got, err := s.API(ctx, "originate {origination_uuid="+clock+"}loopback/"+fsreal.AnswerThenHangup(0, 2500*time.Millisecond, "9")+"/default &park()"); err != nil || !strings.HasPrefix(got, "+OK") {
		t.Fatalf("originate: %q, %v", got, err)
	}
	if _, err := rec.WaitEvent(ctx, clock, "CHANNEL_HANGUP"); err != nil {
		t.Fatal(err)
	}
	if up := rec.UpAt(time.Now(), func(c callrec.Channel) bool { return c.UUID == a || c.UUID == b }); len(up) != 2 {
		t.Errorf("the bridged call ended before its parties hung up:\n%s", rec.Timeline())
	}
	for _, id := range []string{a, b} {
		s.API(ctx, "uuid_kill "+id)
	}
}

// A FreeSWITCH cannot be started on an address in use: the one already
// there would pass for it.
func TestAddressInUseRealFreeSWITCH(t *testing.T) {
	a := fsreal.Start(t, fsreal.Options{})
	fsreal.Require(t)
	s, err := fsreal.StartServer(t.TempDir(), fsreal.Options{Addr: a.Addr, Password: a.Password})
	if err == nil {
		s.Stop()
		t.Fatalf("started a second FreeSWITCH on %s, where one runs", a.Addr)
	}
	if !strings.Contains(err.Error(), "already in use") {
		t.Errorf("error %q does not say the address is in use", err)
	}
}
