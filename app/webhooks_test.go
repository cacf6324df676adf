package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/api"
	"bgcall/app"
	"bgcall/fssim"
	"bgcall/internal/testutil"
	"bgcall/session"
	"bgcall/webhook"
)

// hookRequest is one webhook request as an endpoint got it.
type hookRequest struct {
	path string
	ev   webhook.Event
	err  error // of the signature check
}

// TestWebhooksFollowACallWithoutHoldingItUp: with an endpoint that holds
// every request, a background call still completes; once the endpoint
// answers, both the operator's URL and the request's own get the call's
// events, signed, in order. A callback URL outside the allowed prefixes is
// refused.
func TestWebhooksFollowACallWithoutHoldingItUp(t *testing.T) {
	const simSecond = 50 * time.Millisecond
	sim, err := fssim.Start(fssim.Options{Second: simSecond, Subscribers: map[string][]fssim.Behavior{
		"1001": {{Action: fssim.Answer}},
		"1002": {{Action: fssim.Answer, Talk: 2 * time.Second}}, // long enough to be bridged on a loaded machine
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	const secret = "whsec_0123456789abcdef"
	release := make(chan struct{})
	var mu sync.Mutex
	var got []hookRequest
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		body, _ := io.ReadAll(r.Body)
		h := hookRequest{path: r.URL.Path}
		h.err = webhook.Verify([]byte(secret), r.Header.Get(webhook.HeaderSignature), r.Header.Get(webhook.HeaderTimestamp), body, time.Minute, time.Now())
		if err := json.Unmarshal(body, &h.ev); err != nil && h.err == nil {
			h.err = err
		}
		if h.err == nil && r.Header.Get(webhook.HeaderIdempotency) != h.ev.ID {
			h.err = errors.New("the Idempotency-Key header is not the event's id")
		}
		mu.Lock()
		got = append(got, h)
		mu.Unlock()
	}))
	defer ep.Close()
	open := sync.OnceFunc(func() { close(release) })
	defer open() // before ep.Close, should the test fail early

	cfg := testConfig(sim)
	cfg.Webhooks.URL = ep.URL + "/operator"
	cfg.Webhooks.Secret = secret
	cfg.Webhooks.AllowRequestURL = true
	cfg.Webhooks.AllowedPrefixes = []string{ep.URL + "/requests/"}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: io.Discard, Engine: scaleParkTimeout(simSecond)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Wait()
	defer stop()
	c := &api.Client{Base: "http://" + d.APIAddr()}
	testutil.WaitFor(t, "ready", func() bool { return c.Ready(ctx) == nil })

	_, _, err = c.Create(ctx, api.CreateRequest{Caller: "1001", Callee: "1002", CallbackURL: "https://elsewhere.example.com/hooks"})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || len(ae.Fields) == 0 || ae.Fields[0].Field != "callback_url" {
		t.Fatalf("create with a callback URL outside the allowed prefixes = %v; want a 400 on callback_url", err)
	}
	s, _, err := c.Create(ctx, api.CreateRequest{Caller: "1001", Callee: "1002", CallbackURL: ep.URL + "/requests/crm"})
	if err != nil {
		t.Fatal(err)
	}
	if s.CallbackURL != ep.URL+"/requests/crm" {
		t.Errorf("the session shows callback_url %q", s.CallbackURL)
	}
	// The endpoint answers nothing until the call is over.
	testutil.WaitFor(t, "the call to complete", func() bool {
		got, err := c.Get(ctx, s.ID)
		return err == nil && got.Outcome == "completed"
	})
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 0 {
		t.Fatalf("the endpoint answered %d requests before it was released", n)
	}
	open()
	want := []webhook.Type{webhook.Created, webhook.AttemptStarted, webhook.CalleeAnswered, webhook.CallerRinging, webhook.Bridged, webhook.Finished}
	testutil.WaitFor(t, "every event at both URLs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2*len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	for _, path := range []string{"/operator", "/requests/crm"} {
		var types []webhook.Type
		var last int64
		for _, h := range got {
			if h.path != path {
				continue
			}
			if h.err != nil {
				t.Errorf("%s: %v", path, h.err)
			}
			if h.ev.SessionID != s.ID || h.ev.Sequence < last {
				t.Errorf("%s: event %s of session %s, sequence %d before %d", path, h.ev.Type, h.ev.SessionID, h.ev.Sequence, last)
			}
			last = h.ev.Sequence
			types = append(types, h.ev.Type)
			if h.ev.Type == webhook.Finished && h.ev.Outcome != "completed" {
				t.Errorf("%s: finished with outcome %q", path, h.ev.Outcome)
			}
		}
		if !slices.Equal(types, want) {
			t.Errorf("%s got %v\nwant %v", path, types, want)
		}
	}
	if len(got) != 2*len(want) {
		t.Errorf("%d requests, want %d", len(got), 2*len(want))
	}
}

// releaseHook is the engine's store, running onRelease once when the
// engine hands its sessions over on the way out: the daemon is stopping,
// and its API still serves.
type releaseHook struct {
	session.Store
	once      sync.Once
	onRelease func()
}

func (s *releaseHook) Release(ctx context.Context, replica string) error {
	s.once.Do(s.onRelease)
	return s.Store.Release(ctx, replica)
}

// TestWebhooksOutliveTheirEvents: a request the API serves while the daemon
// stops still has its event written to the outbox, for whichever replica
// delivers it: the webhooks stop after every part that makes events.
func TestWebhooksOutliveTheirEvents(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{Subscribers: map[string][]fssim.Behavior{"2002": {{Action: fssim.NoAnswer}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable) // every event stays in the outbox
	}))
	defer ep.Close()

	cfg := testConfig(sim)
	cfg.Webhooks.URL = ep.URL + "/operator"
	cfg.Webhooks.Secret = "whsec_0123456789abcdef"
	var c *api.Client
	var late api.Session
	var lateErr error
	hook := func(o *session.Options) {
		o.Store = &releaseHook{Store: o.Store, onRelease: func() {
			late, _, lateErr = c.Create(context.Background(), api.CreateRequest{Caller: "2001", Callee: "2002"})
		}}
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: io.Discard, Engine: hook})
	if err != nil {
		t.Fatal(err)
	}
	c = &api.Client{Base: "http://" + d.APIAddr()}
	testutil.WaitFor(t, "ready", func() bool { return c.Ready(ctx) == nil })
	stop()
	if err := d.Wait(); err != nil {
		t.Fatal(err)
	}
	if lateErr != nil {
		t.Fatalf("a request while the daemon stops: %v", lateErr)
	}

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	msgs, err := rdb.XRange(context.Background(), "{"+cfg.Namespace+"}:hooks", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if data, _ := m.Values["e"].(string); strings.Contains(data, `"l":"`+late.ID+`"`) && strings.Contains(data, `"t":"created"`) {
			return
		}
	}
	t.Errorf("the outbox holds %d events, none the created of %s: the event of a request served while stopping was lost", len(msgs), late.ID)
}
