package app_test

import (
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"

	"bgcall/api"
	"bgcall/app"
	"bgcall/config"
	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/session"
)

// TestUserFacingMessages: what an operator reads when a setting, a start
// or a request is wrong names the problem and the fix, and each layer adds
// only its own context: no message says the same thing twice.
func TestUserFacingMessages(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().String()
	down := freeAddr(t)

	start := func(change func(*config.Config)) error {
		cfg := testConfig(sim)
		change(&cfg)
		d, err := app.Start(context.Background(), app.Options{Config: cfg, LogOutput: io.Discard})
		if err == nil {
			t.Fatalf("started at %s", d.APIAddr())
		}
		return err
	}
	tests := []struct {
		name string
		err  func() error
		want string // BUSY and DOWN stand for the addresses
	}{
		{"dial template makes no valid destination", func() error {
			cfg := testConfig(sim)
			cfg.Dial.CalleeTemplate = "user/{number}|x"
			return cfg.Validate()
		}, "invalid configuration:\n  dial.callee_template: dial template \"user/{number}|x\": endpoint \"user/1000|x\": '|' is not allowed " +
			"(one destination, letters, digits and /@._-+:;=*#% only) " +
			"(set with BGCALL_DIAL_CALLEE_TEMPLATE, --dial-callee-template or `dial.callee_template` in the config file)"},
		{"dial template lacks a value", func() error {
			_, err := freeswitch.DialTemplate("user/{number}@{domain}").Endpoint("1002", nil)
			return err
		}, `dial template "user/{number}@{domain}": no value for {domain}`},
		{"api.listen taken", func() error {
			return start(func(c *config.Config) { c.API.Listen = busy })
		}, "api.listen: listen tcp BUSY: bind: address already in use (is another bgcall running? change api.listen)"},
		{"phone.listen taken", func() error {
			return start(func(c *config.Config) { c.Phone.Enabled, c.Phone.Listen = true, busy })
		}, "phone.listen: listen tcp BUSY: bind: address already in use (set another address, and the same in the dialplan's socket application)"},
		{"pprof.listen taken", func() error {
			return start(func(c *config.Config) { c.Metrics.PprofListen = busy })
		}, "pprof.listen: listen tcp BUSY: bind: address already in use"},
		{"daemon not running", func() error {
			_, _, err := (&api.Client{Base: "http://" + down}).Create(context.Background(), api.CreateRequest{Caller: "1001", Callee: "1002"})
			return err
		}, "bgcall daemon at http://DOWN: dial tcp DOWN: connect: connection refused (is `bgcall serve` running? set --api or BGCALL_API_LISTEN)"},
		{"bad numbers", func() error {
			r := session.Request{Caller: "10a1", Callee: "1"}
			return r.Validate()
		}, "caller: number \"10a1\": only digits and a leading '+' are allowed\n" +
			"callee: number \"1\": want 2 to 32 digits with an optional leading '+'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if err == nil {
				t.Fatal("no error")
			}
			want := strings.NewReplacer("BUSY", busy, "DOWN", down).Replace(tt.want)
			if got := err.Error(); got != want {
				t.Errorf("message\n%s\nwant\n%s", got, want)
			}
			if r := repeated(err.Error()); r != "" {
				t.Errorf("%q says %q twice", err.Error(), r)
			}
		})
	}
}

var quoted = regexp.MustCompile(`"[^"]+"`)

// repeated returns a part of msg said twice, "" if none: a quoted value,
// or the opening words of two of its colon-separated parts, as in "dial
// string: callee dial string: dial template: ...".
func repeated(msg string) string {
	for _, line := range strings.Split(msg, "\n") {
		seen := map[string]bool{}
		for _, q := range quoted.FindAllString(line, -1) {
			if seen[q] {
				return q
			}
			seen[q] = true
		}
		opened := map[string]bool{}
		for _, part := range strings.Split(line, ": ") {
			words := strings.Fields(strings.ToLower(part))
			for i := 0; i+1 < len(words); i++ {
				pair := words[i] + " " + words[i+1]
				if opened[pair] {
					return pair
				}
				opened[pair] = true
			}
		}
	}
	return ""
}

func TestRepeatedFindsTheRepeats(t *testing.T) {
	for msg, want := range map[string]string{
		"cannot build the callee dial string: callee dial string: dial template: number": "callee dial",
		`template "x" is bad: dial template "x": no value`:                               `"x"`,
		"api.listen: listen tcp 127.0.0.1:1: bind: address already in use":               "",
	} {
		if got := repeated(msg); got != want {
			t.Errorf("repeated(%q) = %q, want %q", msg, got, want)
		}
	}
}
