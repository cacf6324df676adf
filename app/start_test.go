package app_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"bgcall/app"
	"bgcall/fssim"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestFailedStartReleasesEverything: when a step of the start fails, what
// the steps before it acquired is released, so that the operator can fix
// the setting and start again in the same process (or a test can go on).
func TestFailedStartReleasesEverything(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	for _, tc := range []struct {
		name  string
		taken string // the setting whose address another process holds
	}{
		{"api.listen taken", "api.listen"},
		{"pprof.listen taken", "pprof.listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blocker, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer blocker.Close()
			cfg := testConfig(sim)
			cfg.Phone.Enabled = true
			cfg.Phone.Listen = freeAddr(t)
			cfg.API.Listen = freeAddr(t)
			cfg.Metrics.PprofListen = freeAddr(t)
			switch tc.taken {
			case "api.listen":
				cfg.API.Listen = blocker.Addr().String()
			case "pprof.listen":
				cfg.Metrics.PprofListen = blocker.Addr().String()
			}
			_, err = app.Start(context.Background(), app.Options{Config: cfg, LogOutput: io.Discard})
			if err == nil || !strings.Contains(err.Error(), tc.taken) {
				t.Fatalf("Start = %v, want an error naming %s", err, tc.taken)
			}
			for _, addr := range []string{cfg.Phone.Listen, cfg.API.Listen, cfg.Metrics.PprofListen} {
				if addr == blocker.Addr().String() {
					continue
				}
				l, err := net.Listen("tcp", addr)
				if err != nil {
					t.Errorf("%s is still held after the failed start: %v", addr, err)
					continue
				}
				l.Close()
			}
		})
	}
}
