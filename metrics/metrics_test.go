package metrics

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"bgcall/freeswitch"
)

// eslObserver is esl.Observer's method set, restated so this package need
// not import esl.
type eslObserver interface {
	CommandDone(node, kind string, d time.Duration, err error)
	Connected(node string, up bool)
	Reconnected(node string)
}

var _ eslObserver = (*Metrics)(nil)

var testBuild = BuildInfo{Version: "1.2.3", Revision: "abc123", GoVersion: "go1.26.8"}

func newTestMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := NewRegistry()
	m := New(reg, testBuild)
	m.AddNode("fs1")
	m.AddNode("fs2")
	return m, reg
}

func TestLint(t *testing.T) {
	m, reg := newTestMetrics(t)
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
	// The whole registry as /metrics serves it, runtime collectors included.
	problems, err = testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint (registry) %s: %s", p.Metric, p.Text)
	}
}

func TestNamesFollowContract(t *testing.T) {
	_, reg := newTestMetrics(t)
	want := map[string]dto.MetricType{
		"bgcall_sessions_created_total":       dto.MetricType_COUNTER,
		"bgcall_sessions_finished_total":      dto.MetricType_COUNTER,
		"bgcall_sessions_refused_total":       dto.MetricType_COUNTER,
		"bgcall_sessions_live":                dto.MetricType_GAUGE,
		"bgcall_session_duration_seconds":     dto.MetricType_HISTOGRAM,
		"bgcall_dial_attempts_total":          dto.MetricType_COUNTER,
		"bgcall_retries_total":                dto.MetricType_COUNTER,
		"bgcall_caller_busy_checks_total":     dto.MetricType_COUNTER,
		"bgcall_callee_answer_seconds":        dto.MetricType_HISTOGRAM,
		"bgcall_bridge_seconds":               dto.MetricType_HISTOGRAM,
		"bgcall_session_attempts":             dto.MetricType_HISTOGRAM,
		"bgcall_bridge_duration_seconds":      dto.MetricType_HISTOGRAM,
		"bgcall_notifications_total":          dto.MetricType_COUNTER,
		"bgcall_esl_connected":                dto.MetricType_GAUGE,
		"bgcall_esl_reconnects_total":         dto.MetricType_COUNTER,
		"bgcall_esl_command_duration_seconds": dto.MetricType_HISTOGRAM,
		"bgcall_esl_command_errors_total":     dto.MetricType_COUNTER,
		"bgcall_scheduler_lag_seconds":        dto.MetricType_HISTOGRAM,
		"bgcall_reaction_seconds":             dto.MetricType_HISTOGRAM,
		"bgcall_redis_errors_total":           dto.MetricType_COUNTER,
		"bgcall_build_info":                   dto.MetricType_GAUGE,
		"bgcall_http_requests_total":          dto.MetricType_COUNTER,
		"bgcall_phone_connections_total":      dto.MetricType_COUNTER,
		"bgcall_phone_offers_total":           dto.MetricType_COUNTER,
		"bgcall_webhook_deliveries_total":     dto.MetricType_COUNTER,
		"bgcall_webhook_delivery_seconds":     dto.MetricType_HISTOGRAM,
		"bgcall_webhook_outbox_events":        dto.MetricType_GAUGE,
		"bgcall_confirmations_total":          dto.MetricType_COUNTER,
	}
	got := gatherBgcall(t, reg)
	for name, typ := range want {
		mf, ok := got[name]
		if !ok {
			t.Errorf("%s not exported", name)
			continue
		}
		if mf.GetType() != typ {
			t.Errorf("%s is a %v, want %v", name, mf.GetType(), typ)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s exported but not in the list of bgcall metrics", name)
		}
	}
}

// TestEverySeriesAtZero checks the label values the contract names exist
// right after New, at zero, so dashboards and rate() see them before any
// event.
func TestEverySeriesAtZero(t *testing.T) {
	_, reg := newTestMetrics(t)
	families := gatherBgcall(t, reg)

	expect := func(name string, labels ...string) {
		t.Helper()
		v, ok := find(families, name, labels...)
		if !ok {
			t.Errorf("%s%v missing after New", name, labels)
			return
		}
		if v != 0 {
			t.Errorf("%s%v = %v after New, want 0", name, labels, v)
		}
	}
	for _, s := range []string{"api", "cli", "feature_code", "offer"} {
		expect("bgcall_sessions_created_total", "source", s)
		for _, r := range []string{"opted_out", "limit"} {
			expect("bgcall_sessions_refused_total", "source", s, "reason", r)
		}
	}
	for _, o := range []string{"completed", "caller_missed", "callee_left", "cancelled", "expired", "failed"} {
		expect("bgcall_sessions_finished_total", "outcome", o)
		expect("bgcall_session_duration_seconds", "outcome", o)
	}
	for _, s := range []string{"waiting", "dialing_callee", "callee_hold", "bridged"} {
		expect("bgcall_sessions_live", "state", s)
	}
	for _, leg := range []string{"callee", "caller"} {
		for _, c := range []string{"answered", "no_answer", "busy", "rejected", "unreachable", "permanent", "network", "cancelled", "error"} {
			expect("bgcall_dial_attempts_total", "leg", leg, "class", c)
		}
	}
	for _, ch := range []string{"chat", "webhook"} {
		for _, r := range []string{"sent", "failed", "retried"} {
			expect("bgcall_notifications_total", "channel", ch, "result", r)
		}
	}
	for _, op := range []string{"create", "apply", "cancel", "claim", "heartbeat", "takeover", "lookup", "timeline", "live_counts"} {
		expect("bgcall_redis_errors_total", "op", op)
	}
	for _, s := range []string{"caller_originate", "bridge"} {
		expect("bgcall_reaction_seconds", "step", s)
	}
	for _, r := range []string{"ok", "retry", "failed"} {
		expect("bgcall_webhook_deliveries_total", "result", r)
	}
	expect("bgcall_redis_errors_total", "op", "outbox")
	for _, node := range []string{"fs1", "fs2"} {
		expect("bgcall_esl_connected", "node", node)
		expect("bgcall_esl_reconnects_total", "node", node)
		for _, kind := range []string{"api", "bgapi"} {
			expect("bgcall_esl_command_duration_seconds", "node", node, "kind", kind)
			expect("bgcall_esl_command_errors_total", "node", node, "kind", kind)
		}
	}
	for _, name := range []string{"bgcall_retries_total", "bgcall_callee_answer_seconds", "bgcall_bridge_seconds",
		"bgcall_session_attempts", "bgcall_bridge_duration_seconds", "bgcall_scheduler_lag_seconds",
		"bgcall_webhook_delivery_seconds", "bgcall_webhook_outbox_events"} {
		expect(name)
	}

	// Nothing else is non-zero either, except the build info.
	for name, mf := range families {
		for _, mt := range mf.GetMetric() {
			if v := value(mt); v != 0 && name != "bgcall_build_info" {
				t.Errorf("%s%v = %v after New, want 0", name, labelPairs(mt), v)
			}
		}
	}
	v, ok := find(families, "bgcall_build_info", "version", "1.2.3", "revision", "abc123", "goversion", "go1.26.8")
	if !ok || v != 1 {
		t.Errorf("bgcall_build_info = %v (present %v), want 1", v, ok)
	}
}

func TestHooksMoveTheirSeries(t *testing.T) {
	m, reg := newTestMetrics(t)

	m.SessionCreated("api")
	m.SessionCreated("api")
	m.SessionCreated("feature_code")
	m.SessionFinished("completed", 3, 90*time.Second)
	m.SessionFinished("expired", 20, 2*time.Hour)
	m.DialAttempt("callee", freeswitch.NoAnswer.Class())
	m.DialAttempt("callee", freeswitch.NoAnswer.Class())
	m.DialAttempt("callee", freeswitch.ClassAnswered)
	m.DialAttempt("caller", freeswitch.UserBusy.Class())
	m.Retry()
	m.Retry()
	m.CalleeAnswered(45 * time.Second)
	m.Bridged(70 * time.Second)
	m.BridgeEnded(4 * time.Minute)
	m.Notification("chat", "sent")
	m.Notification("webhook", "failed")
	m.SchedulerLag(3 * time.Millisecond)
	m.Reaction("bridge", 700*time.Microsecond)
	m.Reaction("bridge", 2*time.Millisecond)
	m.Reaction("not_a_step", time.Millisecond)
	m.RedisError("claim")
	m.SetLiveFunc(func() map[string]int64 {
		return map[string]int64{"waiting": 4, "bridged": 1, "finished": 99}
	})
	m.Connected("fs1", true)
	m.Connected("fs2", true)
	m.Connected("fs2", false)
	m.Reconnected("fs2")
	m.CommandDone("fs1", "bgapi", 2*time.Millisecond, nil)
	m.CommandDone("fs1", "api", 40*time.Millisecond, errors.New("-ERR no reply"))
	m.WebhookDelivery("ok", 30*time.Millisecond)
	m.WebhookDelivery("retry", 5*time.Second)
	m.WebhookDelivery("failed", 0) // dropped: no try, no latency
	m.WebhookBacklog(17)

	families := gatherBgcall(t, reg)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bgcall_sessions_created_total", []string{"source", "api"}, 2},
		{"bgcall_sessions_created_total", []string{"source", "feature_code"}, 1},
		{"bgcall_sessions_created_total", []string{"source", "cli"}, 0},
		{"bgcall_sessions_finished_total", []string{"outcome", "completed"}, 1},
		{"bgcall_sessions_finished_total", []string{"outcome", "expired"}, 1},
		{"bgcall_session_duration_seconds", []string{"outcome", "expired"}, 1},
		{"bgcall_session_attempts", nil, 2},
		{"bgcall_dial_attempts_total", []string{"leg", "callee", "class", "no_answer"}, 2},
		{"bgcall_dial_attempts_total", []string{"leg", "callee", "class", "answered"}, 1},
		{"bgcall_dial_attempts_total", []string{"leg", "caller", "class", "busy"}, 1},
		{"bgcall_dial_attempts_total", []string{"leg", "caller", "class", "answered"}, 0},
		{"bgcall_retries_total", nil, 2},
		{"bgcall_callee_answer_seconds", nil, 1},
		{"bgcall_bridge_seconds", nil, 1},
		{"bgcall_bridge_duration_seconds", nil, 1},
		{"bgcall_notifications_total", []string{"channel", "chat", "result", "sent"}, 1},
		{"bgcall_notifications_total", []string{"channel", "webhook", "result", "failed"}, 1},
		{"bgcall_notifications_total", []string{"channel", "webhook", "result", "sent"}, 0},
		{"bgcall_scheduler_lag_seconds", nil, 1},
		{"bgcall_reaction_seconds", []string{"step", "bridge"}, 2},
		{"bgcall_reaction_seconds", []string{"step", "caller_originate"}, 0},
		{"bgcall_reaction_seconds", []string{"step", "other"}, 1},
		{"bgcall_redis_errors_total", []string{"op", "claim"}, 1},
		{"bgcall_redis_errors_total", []string{"op", "apply"}, 0},
		{"bgcall_sessions_live", []string{"state", "waiting"}, 4},
		{"bgcall_sessions_live", []string{"state", "bridged"}, 1},
		{"bgcall_sessions_live", []string{"state", "callee_hold"}, 0},
		{"bgcall_esl_connected", []string{"node", "fs1"}, 1},
		{"bgcall_esl_connected", []string{"node", "fs2"}, 0},
		{"bgcall_esl_reconnects_total", []string{"node", "fs2"}, 1},
		{"bgcall_esl_reconnects_total", []string{"node", "fs1"}, 0},
		{"bgcall_esl_command_duration_seconds", []string{"node", "fs1", "kind", "bgapi"}, 1},
		{"bgcall_esl_command_duration_seconds", []string{"node", "fs1", "kind", "api"}, 1},
		{"bgcall_esl_command_errors_total", []string{"node", "fs1", "kind", "api"}, 1},
		{"bgcall_esl_command_errors_total", []string{"node", "fs1", "kind", "bgapi"}, 0},
		{"bgcall_webhook_deliveries_total", []string{"result", "ok"}, 1},
		{"bgcall_webhook_deliveries_total", []string{"result", "retry"}, 1},
		{"bgcall_webhook_deliveries_total", []string{"result", "failed"}, 1},
		{"bgcall_webhook_delivery_seconds", nil, 2},
		{"bgcall_webhook_outbox_events", nil, 17},
	}
	for _, c := range checks {
		got, ok := find(families, c.name, c.labels...)
		if !ok {
			t.Errorf("%s%v missing", c.name, c.labels)
			continue
		}
		if got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	// Sums and bucket placement, through the public exposition format.
	want := `
# HELP bgcall_session_attempts Callee (B) dial attempts a session made before it finished.
# TYPE bgcall_session_attempts histogram
bgcall_session_attempts_bucket{le="0"} 0
bgcall_session_attempts_bucket{le="1"} 0
bgcall_session_attempts_bucket{le="2"} 0
bgcall_session_attempts_bucket{le="3"} 1
bgcall_session_attempts_bucket{le="4"} 1
bgcall_session_attempts_bucket{le="5"} 1
bgcall_session_attempts_bucket{le="6"} 1
bgcall_session_attempts_bucket{le="8"} 1
bgcall_session_attempts_bucket{le="10"} 1
bgcall_session_attempts_bucket{le="12"} 1
bgcall_session_attempts_bucket{le="15"} 1
bgcall_session_attempts_bucket{le="20"} 2
bgcall_session_attempts_bucket{le="25"} 2
bgcall_session_attempts_bucket{le="30"} 2
bgcall_session_attempts_bucket{le="40"} 2
bgcall_session_attempts_bucket{le="50"} 2
bgcall_session_attempts_bucket{le="+Inf"} 2
bgcall_session_attempts_sum 23
bgcall_session_attempts_count 2
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "bgcall_session_attempts"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.retries); got != 2 {
		t.Errorf("retries = %v, want 2", got)
	}
	if got := sum(t, families, "bgcall_callee_answer_seconds"); got != 45 {
		t.Errorf("callee answer sum = %v, want 45", got)
	}
	if got := sum(t, families, "bgcall_esl_command_duration_seconds", "node", "fs1", "kind", "api"); got != 0.04 {
		t.Errorf("api command duration sum = %v, want 0.04", got)
	}
}

// TestLabelsStayBounded feeds values outside every list: they must land on
// "other" (or "error" for classes) and the set of series must not grow.
func TestLabelsStayBounded(t *testing.T) {
	m, reg := newTestMetrics(t)
	before := seriesCount(t, reg)

	m.SessionCreated("+4915112345678")
	m.SessionFinished("exploded", -1, -time.Second)
	m.DialAttempt("third-leg", "SOMETHING_NEW")
	m.Notification("pigeon", "lost")
	m.RedisError("EVALSHA 9f2c")
	m.SetLiveFunc(func() map[string]int64 { return map[string]int64{"7d1e2b3c-uuid": 2} })
	m.CommandDone("fs1", "sendmsg", time.Millisecond, nil)

	if after := seriesCount(t, reg); after != before {
		t.Errorf("series grew from %d to %d on unknown label values", before, after)
	}
	families := gatherBgcall(t, reg)
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"bgcall_sessions_created_total", []string{"source", "other"}},
		{"bgcall_sessions_finished_total", []string{"outcome", "other"}},
		{"bgcall_dial_attempts_total", []string{"leg", "other", "class", "error"}},
		{"bgcall_notifications_total", []string{"channel", "other", "result", "other"}},
		{"bgcall_redis_errors_total", []string{"op", "other"}},
		{"bgcall_esl_command_duration_seconds", []string{"node", "fs1", "kind", "other"}},
	} {
		if v, _ := find(families, c.name, c.labels...); v != 1 {
			t.Errorf("%s%v = %v, want 1", c.name, c.labels, v)
		}
	}
	if v, _ := find(families, "bgcall_sessions_live", "state", "other"); v != 2 {
		t.Errorf("live other = %v, want 2", v)
	}
	// A negative age and attempt count land in the lowest bucket, not below it.
	if v := sum(t, families, "bgcall_session_attempts"); v != 0 {
		t.Errorf("attempts sum = %v, want 0", v)
	}
}

func TestLiveUnknownIsAGap(t *testing.T) {
	m, reg := newTestMetrics(t)
	m.SetLiveFunc(func() map[string]int64 { return nil })
	if _, ok := gatherBgcall(t, reg)["bgcall_sessions_live"]; ok {
		t.Error("live gauge exported while its counts are unknown")
	}
	m.SetLiveFunc(func() map[string]int64 { return map[string]int64{} })
	if v, ok := find(gatherBgcall(t, reg), "bgcall_sessions_live", "state", "waiting"); !ok || v != 0 {
		t.Errorf("live waiting = %v (present %v) with no live sessions, want 0", v, ok)
	}
}

func TestNilMetricsIsSafe(t *testing.T) {
	var m *Metrics
	m.SessionCreated("api")
	m.SessionFinished("completed", 1, time.Second)
	m.DialAttempt("callee", freeswitch.ClassAnswered)
	m.Retry()
	m.CalleeAnswered(time.Second)
	m.Bridged(time.Second)
	m.BridgeEnded(time.Second)
	m.Notification("chat", "sent")
	m.SchedulerLag(time.Second)
	m.Reaction("bridge", time.Second)
	m.RedisError("get")
	m.WebhookDelivery("ok", time.Second)
	m.WebhookBacklog(1)
	m.SetLiveFunc(func() map[string]int64 { return nil })
	m.AddNode("fs1")
	var o eslObserver = m
	o.CommandDone("fs1", "api", time.Second, nil)
	o.Connected("fs1", true)
	o.Reconnected("fs1")
}

func TestNilRegistryKeepsMetricsWorking(t *testing.T) {
	m := New(nil, BuildInfo{})
	m.Retry()
	if got := testutil.ToFloat64(m.retries); got != 1 {
		t.Errorf("retries = %v, want 1", got)
	}
	if _, ok := find(gatherFrom(t, m), "bgcall_build_info", "version", "unknown", "revision", "unknown", "goversion", "unknown"); !ok {
		t.Error("empty build info not exported as unknown")
	}
}

// TestConcurrentHooks runs every hook while scraping, for the race detector.
func TestConcurrentHooks(t *testing.T) {
	m, reg := newTestMetrics(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprintf("fs%d", i%2+1)
			for range 200 {
				m.SessionCreated("api")
				m.DialAttempt("callee", freeswitch.ClassNoAnswer)
				m.CommandDone(node, "bgapi", time.Millisecond, nil)
				m.Connected(node, true)
				m.SetLiveFunc(func() map[string]int64 { return map[string]int64{"waiting": 1} })
			}
		}()
	}
	for range 20 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if got := testutil.ToFloat64(m.sessionsCreated.WithLabelValues("api")); got != 1600 {
		t.Errorf("sessions created = %v, want 1600", got)
	}
}

// gatherBgcall gathers reg and returns the bgcall_ families by name.
func gatherBgcall(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily)
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "bgcall_") {
			out[mf.GetName()] = mf
		}
	}
	return out
}

func gatherFrom(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	return gatherBgcall(t, reg)
}

func seriesCount(t *testing.T, g prometheus.Gatherer) int {
	t.Helper()
	n := 0
	for _, mf := range gatherBgcall(t, g) {
		n += len(mf.GetMetric())
	}
	return n
}

// find returns the value of the series of name with exactly the given label
// pairs: a counter's or gauge's value, a histogram's sample count.
func find(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mt := findMetric(families, name, labels...)
	if mt == nil {
		return 0, false
	}
	return value(mt), true
}

func findMetric(families map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	mf, ok := families[name]
	if !ok {
		return nil
	}
	want := make(map[string]string)
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mt := range mf.GetMetric() {
		if len(mt.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, lp := range mt.GetLabel() {
			if want[lp.GetName()] != lp.GetValue() {
				match = false
			}
		}
		if match {
			return mt
		}
	}
	return nil
}

func sum(t *testing.T, families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	mt := findMetric(families, name, labels...)
	if mt == nil || mt.GetHistogram() == nil {
		t.Fatalf("histogram %s%v missing", name, labels)
	}
	return mt.GetHistogram().GetSampleSum()
}

func value(mt *dto.Metric) float64 {
	switch {
	case mt.GetCounter() != nil:
		return mt.GetCounter().GetValue()
	case mt.GetGauge() != nil:
		return mt.GetGauge().GetValue()
	case mt.GetHistogram() != nil:
		return float64(mt.GetHistogram().GetSampleCount())
	}
	return 0
}

func labelPairs(mt *dto.Metric) []string {
	var out []string
	for _, lp := range mt.GetLabel() {
		out = append(out, lp.GetName()+"="+lp.GetValue())
	}
	sort.Strings(out)
	return out
}

// TestConfirmationSeries: B's answers in confirmation mode are counted by
// result, and a declined session under its own outcome.
func TestConfirmationSeries(t *testing.T) {
	m, reg := newTestMetrics(t)
	m.Confirmation("no_digit")
	m.Confirmation("no_digit")
	m.Confirmation("declined")
	m.Confirmation("pressed_9")
	m.SessionFinished("declined", 1, time.Minute)
	families := gatherBgcall(t, reg)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bgcall_confirmations_total", []string{"result", "no_digit"}, 2},
		{"bgcall_confirmations_total", []string{"result", "declined"}, 1},
		{"bgcall_confirmations_total", []string{"result", "confirmed"}, 0},
		{"bgcall_confirmations_total", []string{"result", "other"}, 1},
		{"bgcall_sessions_finished_total", []string{"outcome", "declined"}, 1},
	} {
		if got, ok := find(families, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
}
