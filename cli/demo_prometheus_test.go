package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"bgcall/cli"
	"bgcall/internal/testutil"
	"bgcall/metrics/promtest"
)

// TestDashboardOnDemo runs the demo, has a real Prometheus (Debian package
// prometheus) scrape it, and runs every query of the shipped Grafana
// dashboard against what it scraped: each panel must return data.
func TestDashboardOnDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testutil.SyncBuffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		_, err := cli.Demo(ctx, &out, cli.DemoOptions{Second: 100 * time.Millisecond, Timeout: 3 * time.Minute,
			Linger: 2 * time.Minute, Ready: func(u string) { ready <- u }})
		done <- err
	}()
	var target string
	select {
	case u := <-ready:
		target = strings.TrimPrefix(u, "http://")
	case err := <-done:
		t.Fatalf("demo ended before it was ready: %v\n%s", err, out.String())
	case <-time.After(time.Minute):
		t.Fatal("demo never became ready")
	}
	prom := promtest.StartPrometheus(t, target)
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "\nOutcomes:\n") {
		if time.Now().After(deadline) {
			t.Fatalf("demo calls did not finish:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	qctx, qcancel := context.WithTimeout(ctx, time.Minute)
	defer qcancel()
	for range 2 { // rates need two samples after the last call
		if err := prom.WaitFreshScrape(qctx); err != nil {
			t.Fatalf("scrape: %v\n%s", err, prom.Logs())
		}
	}
	if err := prom.CheckDashboard(qctx, "../deploy/grafana/bgcall.json", promtest.DefaultVars); err != nil {
		t.Errorf("dashboard on the demo's metrics: %v", err)
	}
	cancel()
	<-done
}
