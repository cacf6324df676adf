package fsreal_test

import (
	"context"
	"errors"
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
  <extension name="extra"><condition field="destination_number" expression="^extra$">
    <action application="hangup" data="NUMBER_CHANGED"/>
  </condition></extension>
</include>`}})
	for number, want := range map[string]string{
		"busy":   "-ERR USER_BUSY",
		"reject": "-ERR CALL_REJECTED",
		"extra":  "-ERR NUMBER_CHANGED",
		"nobody": "-ERR NO_ROUTE_DESTINATION",
	} {
		got, err := s.API(ctx, "originate loopback/"+number+"/default &park()")
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(got) != want {
			t.Errorf("originate %s: %q, want %q", number, got, want)
		}
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
