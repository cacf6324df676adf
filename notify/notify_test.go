package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"bgcall/internal/testutil"
	"bgcall/metrics"
	"bgcall/metrics/promtest"
	"bgcall/notify"
	"bgcall/phone"
	"bgcall/session"
)

func count(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	return countChannel(t, reg, "webhook", result)
}

func countChannel(t *testing.T, reg *prometheus.Registry, channel, result string) float64 {
	t.Helper()
	return promtest.Counter(t, reg, "bgcall_notifications_total", map[string]string{"channel": channel, "result": result})
}

func start(t *testing.T, opts notify.Options) (*notify.Notifier, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Metrics = metrics.New(reg, metrics.BuildInfo{})
	n, err := notify.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return n, reg
}

var msg = session.Message{SessionID: "s1", Caller: "1001", Callee: "1002", At: time.Date(2026, 3, 2, 14, 5, 0, 0, time.UTC)}

func TestWebhookRetriesThenSends(t *testing.T) {
	var hits atomic.Int32
	var mu sync.Mutex
	var body map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			http.Error(w, "gateway busy", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		json.NewDecoder(r.Body).Decode(&body)
	}))
	defer srv.Close()
	n, reg := start(t, notify.Options{Channel: notify.ChannelWebhook, WebhookURL: srv.URL, Retries: 3, Backoff: 5 * time.Millisecond})
	n.Send(context.Background(), msg)
	testutil.WaitFor(t, "the notification", func() bool { return count(t, reg, "sent") == 1 })
	if got := count(t, reg, "retried"); got != 2 {
		t.Errorf("retried %v times, want 2", got)
	}
	if got := count(t, reg, "failed"); got != 0 {
		t.Errorf("failed %v, want 0", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if body["to"] != "1001" || body["from"] != "1002" || body["session_id"] != "s1" || !strings.Contains(body["text"], "1002") || !strings.Contains(body["text"], "14:05") {
		t.Errorf("webhook body %v", body)
	}
}

func TestWebhookGivesUpAndNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	defer close(release)
	n, reg := start(t, notify.Options{Channel: notify.ChannelWebhook, WebhookURL: srv.URL, Retries: 1,
		// A try's timeout long enough for the gateway to have seen the
		// request on a loaded machine: each try is counted there.
		Backoff: time.Millisecond, Timeout: 300 * time.Millisecond, Queue: 2})
	began := time.Now()
	for range 10 {
		n.Send(context.Background(), msg) // the gateway hangs: Send must not
	}
	if d := time.Since(began); d > time.Second {
		t.Fatalf("Send blocked for %v with the gateway hanging", d)
	}
	// Those the queue took are tried twice (a first try and one retry, each
	// timing out); the rest are dropped. Every one of the ten ends failed.
	testutil.WaitFor(t, "every notification to fail", func() bool { return count(t, reg, "failed") == 10 })
	h, retried := float64(hits.Load()), count(t, reg, "retried")
	if h < 4 || h != 2*retried {
		t.Errorf("gateway saw %v tries with %v retries; want two tries for each queued message (at least 2 queued)", h, retried)
	}
	if got := count(t, reg, "sent"); got != 0 {
		t.Errorf("sent %v, want 0", got)
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, o := range []notify.Options{
		{Channel: "pigeon"},
		{Channel: notify.ChannelWebhook, WebhookURL: "ftp://x"},
		{Channel: notify.ChannelChat},
	} {
		if _, err := notify.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestOfferByWebhook(t *testing.T) {
	got := make(chan map[string]string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]string
		json.NewDecoder(r.Body).Decode(&b)
		got <- b
	}))
	defer srv.Close()
	n, reg := start(t, notify.Options{Channel: notify.ChannelWebhook, WebhookURL: srv.URL, OnPrefix: "*77"})
	n.SendOffer(context.Background(), phone.Offer{Caller: "1001", Callee: "1002", Missed: 3, At: msg.At})
	select {
	case b := <-got:
		want := "1002 did not answer your last 3 calls. Dial *771002 and we will keep trying 1002 and call you back when they answer."
		if b["to"] != "1001" || b["text"] != want {
			t.Errorf("offer %v, want to 1001: %q", b, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no offer reached the gateway")
	}
	testutil.WaitFor(t, "the sent count", func() bool { return count(t, reg, "sent") == 1 })
}

// TestBusyText: A who was on another call all the while B held is told
// so, by the busy template, not that A could not be reached.
func TestBusyText(t *testing.T) {
	n, err := notify.New(notify.Options{Channel: notify.ChannelWebhook, WebhookURL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	busy := msg
	busy.CallerBusy = true
	if got, want := n.Text(busy), "1002 called you back at 14:05 while you were on another call. Call 1002 to talk."; got != want {
		t.Errorf("busy text %q, want %q", got, want)
	}
	if got := n.Text(msg); strings.Contains(got, "another call") {
		t.Errorf("missed text %q speaks of another call", got)
	}
	n, err = notify.New(notify.Options{Channel: notify.ChannelWebhook, WebhookURL: "http://127.0.0.1:1/", BusyTemplate: "{caller}: {callee} rang while you talked"})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Text(busy); got != "1001: 1002 rang while you talked" {
		t.Errorf("configured busy text %q", got)
	}
}

// TestDeclinedText: A hears that B declined in the declined text, and of
// a missed call in the missed-call text, never the one for the other.
func TestDeclinedText(t *testing.T) {
	n, err := notify.New(notify.Options{Channel: notify.ChannelWebhook, WebhookURL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	declined := msg
	declined.Declined = true
	if got, want := n.Text(declined), "1002 answered your background call at 14:05 and declined it."; got != want {
		t.Errorf("declined: %q, want %q", got, want)
	}
	if got := n.Text(msg); strings.Contains(got, "declined") || !strings.Contains(got, "could not reach you") {
		t.Errorf("missed call: %q", got)
	}
	custom, err := notify.New(notify.Options{Channel: notify.ChannelWebhook, WebhookURL: "http://127.0.0.1:1/", DeclinedTemplate: "{callee} said no to {caller}"})
	if err != nil {
		t.Fatal(err)
	}
	if got := custom.Text(declined); got != "1002 said no to 1001" {
		t.Errorf("declined_template: %q", got)
	}
}
