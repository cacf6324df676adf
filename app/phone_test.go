package app_test

import (
	"context"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/app"
	"bgcall/config"
	"bgcall/fssim"
	"bgcall/internal/testutil"
	"bgcall/notify"
	"bgcall/phone"
)

// TestPhoneWiring dials *88<B> from A's phone through the simulator's
// dialplan to the daemon's socket listener: the session exists afterwards,
// created by the feature code.
func TestPhoneWiring(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{Second: 50 * time.Millisecond, PromptDuration: 50 * time.Millisecond,
		Default: fssim.Behavior{Action: fssim.NoAnswer}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Retry.FirstInterval, cfg.Retry.MaxInterval = time.Hour, time.Hour
	cfg.Retry.MaxTotal = 2 * time.Hour
	cfg.Phone.Enabled = true
	cfg.Phone.Listen = "127.0.0.1:0"
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, Engine: scaleParkTimeout(50 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Wait()
	defer stop()
	if d.PhoneAddr() == "" {
		t.Fatal("phone.enabled but no phone listener")
	}
	c := &api.Client{Base: "http://" + d.APIAddr()}
	testutil.WaitFor(t, "the daemon to be ready", func() bool { code, _ := readyz(d.APIAddr()); return code == 200 })
	if _, err := sim.Call(fssim.CallOptions{From: "1001", To: "*881002", Socket: d.PhoneAddr()}); err != nil {
		t.Fatal(err)
	}
	var got []api.Session
	testutil.WaitFor(t, "the session *88 creates", func() bool {
		page, err := c.List(ctx, api.ListFilter{Caller: "1001"})
		if err != nil {
			return false
		}
		got = page.Sessions
		return len(got) == 1
	})
	if got[0].Callee != "1002" || got[0].Source != "feature_code" {
		t.Errorf("session %+v, want 1001→1002 from the feature code", got[0])
	}
	testutil.WaitFor(t, "A to hear the confirmation", func() bool {
		for _, p := range sim.Prompts() {
			if p.Path == cfg.Phone.Prompts.On {
				return true
			}
		}
		return false
	})
}

// TestPhoneDefaultsArePhoneDefaults keeps the documented defaults and the
// phone package's own defaults one and the same.
func TestPhoneDefaultsArePhoneDefaults(t *testing.T) {
	c := config.Defaults().Phone
	want := phone.DefaultPrompts()
	got := phone.Prompts{On: c.Prompts.On, Off: c.Prompts.Off, NotFound: c.Prompts.NotFound, Limit: c.Prompts.Limit,
		Invalid: c.Prompts.Invalid, Failed: c.Prompts.Failed, Offer: c.Prompts.Offer,
		OptedOut: c.Prompts.OptedOut, OptedIn: c.Prompts.OptedIn, Refused: c.Prompts.Refused}
	if got != want {
		t.Errorf("phone prompts from config defaults %+v, phone defaults %+v", got, want)
	}
	if d := config.Defaults().Notify.OfferTemplate; d != notify.DefaultOfferTemplate {
		t.Errorf("notify.offer_template default %q, notifier default %q", d, notify.DefaultOfferTemplate)
	}
	if c.Listen != phone.DefaultListen {
		t.Errorf("phone.listen default %q, the shipped dialplan uses %q", c.Listen, phone.DefaultListen)
	}
}
