package metrics

import (
	"context"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"bgcall/freeswitch"
	"bgcall/metrics/promtest"
)

// TestDashboardAgainstPrometheus scrapes this package's registry with a real
// Prometheus and runs every dashboard query through its HTTP API: each must
// be accepted and return data. The demo end-to-end test uses the same
// helper against a running daemon.
func TestDashboardAgainstPrometheus(t *testing.T) {
	m, reg := newTestMetrics(t)
	m.SessionCreated("api")
	m.SessionCreated("api")
	m.DialAttempt("callee", freeswitch.NoAnswer.Class())
	m.Connected("fs1", true)
	m.SetLiveFunc(func() map[string]int64 { return map[string]int64{"waiting": 3, "bridged": 1} })

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	prom := promtest.StartPrometheus(t, strings.TrimPrefix(srv.URL, "http://"))

	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := prom.WaitScrapes(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Events between scrapes, so rates have something to show.
	m.SessionCreated("api")
	m.DialAttempt("callee", freeswitch.ClassAnswered)
	m.CalleeAnswered(40 * time.Second)
	if err := prom.WaitFreshScrape(ctx); err != nil {
		t.Fatal(err)
	}

	// Values that prove the scraped data is this registry's.
	expectValue(ctx, t, prom, `bgcall_sessions_created_total{source="api"}`, 3)
	expectValue(ctx, t, prom, `max by (state) (bgcall_sessions_live{state="waiting"})`, 3)
	expectValue(ctx, t, prom, `bgcall_esl_connected{node="fs1"}`, 1)
	expectValue(ctx, t, prom, `bgcall_build_info{version="1.2.3"}`, 1)
	if s, err := prom.Query(ctx, `increase(bgcall_dial_attempts_total{leg="callee",class="answered"}[1m])`); err != nil || len(s) != 1 || !(s[0].Value > 0) {
		t.Errorf("answered callee attempts did not increase between scrapes: %v %v", s, err)
	}

	vars := map[string]string{"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "job": ".*", "instance": ".*", "node": ".*"}
	if err := prom.CheckDashboard(ctx, dashboardFile, vars); err != nil {
		t.Error(err)
	}

	// The same check fails on a dashboard whose query names no exported
	// metric.
	bogus := filepath.Join(t.TempDir(), "bogus.json")
	if err := os.WriteFile(bogus, []byte(`{"panels":[{"id":1,"title":"x","targets":[
		{"refId":"A","expr":"sum(rate(bgcall_calls_total[1m]))"}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := prom.CheckDashboard(ctx, bogus, vars); err == nil {
		t.Error("a query of a metric bgcall does not export returned data")
	}
}

func expectValue(ctx context.Context, t *testing.T, prom *promtest.Server, query string, want float64) {
	t.Helper()
	samples, err := prom.Query(ctx, query)
	if err != nil {
		t.Error(err)
		return
	}
	if len(samples) != 1 || math.Abs(samples[0].Value-want) > 1e-9 {
		t.Errorf("%s = %v, want one sample of %v", query, samples, want)
	}
}
