package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/e2e"
	"bgcall/webhook"
)

// webhookSecret signs the lifecycle events of the backends' daemons.
const webhookSecret = "e2e-webhook-secret-0123456789"

func TestWebhooksSimulator(t *testing.T)      { runWebhooks(t, simulator) }
func TestWebhooksRealFreeSWITCH(t *testing.T) { runWebhooks(t, realFreeSWITCH) }

// hookEndpoint records the lifecycle events posted to it, each checked as
// a receiver would (signature, timestamp, idempotency key).
type hookEndpoint struct {
	*httptest.Server
	mu     sync.Mutex
	events []webhook.Event
	bad    []error
	posted chan struct{} // one per request
}

func newHookEndpoint(t *testing.T) *hookEndpoint {
	e := &hookEndpoint{posted: make(chan struct{}, 100)}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev webhook.Event
		err := webhook.Verify([]byte(webhookSecret), r.Header.Get(webhook.HeaderSignature), r.Header.Get(webhook.HeaderTimestamp), body, time.Minute, time.Now())
		if err == nil {
			err = json.Unmarshal(body, &ev)
		}
		if err == nil && (r.Header.Get(webhook.HeaderIdempotency) != ev.ID || r.Header.Get(webhook.HeaderEvent) != string(ev.Type)) {
			err = fmt.Errorf("headers %v do not match the event %s", r.Header, body)
		}
		e.mu.Lock()
		if err != nil {
			e.bad = append(e.bad, err)
		} else {
			e.events = append(e.events, ev)
		}
		e.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		e.posted <- struct{}{}
	}))
	t.Cleanup(e.Close)
	return e
}

// waitFor waits until the endpoint got an event of type typ.
func (e *hookEndpoint) waitFor(ctx context.Context, typ webhook.Type) error {
	for {
		e.mu.Lock()
		seen := slices.ContainsFunc(e.events, func(ev webhook.Event) bool { return ev.Type == typ })
		e.mu.Unlock()
		if seen {
			return nil
		}
		select {
		case <-e.posted:
		case <-ctx.Done():
			return fmt.Errorf("no %s event came: %w", typ, ctx.Err())
		}
	}
}

// runWebhooks follows a background call whose first attempt B does not
// answer, to the request's own callback URL: the endpoint gets every step
// in order, the attempt's cause in bgcall's words, and the outcome.
func runWebhooks(t *testing.T, start func(*testing.T) *backend) {
	t.Parallel()
	b := start(t)
	ep := newHookEndpoint(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	caller := b.subscriber(answers)
	callee := b.subscriber(e2e.FarEnd{Kind: e2e.AnswerOnAttempt, Ring: 200 * time.Millisecond, Before: 1})
	c := b.follow(ctx, t, caller)
	s, created, err := b.api.Create(ctx, api.CreateRequest{Caller: caller, Callee: callee,
		Policy: &api.PolicyOverride{RingTime: oneSecond}, CallbackURL: ep.URL + "/bgcall-events"})
	if err != nil || !created {
		t.Fatalf("create %s→%s with a callback URL: created %v, %v", caller, callee, created, err)
	}
	c.id = s.ID
	if err := talkThenHangUp("caller")(ctx, c); err != nil {
		t.Fatal(err)
	}
	final, err := c.waitSession(ctx, "the outcome", func(s api.Session) bool { return s.State == "finished" })
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.waitFor(ctx, webhook.Finished); err != nil {
		t.Fatalf("%v\n%s", err, c.report())
	}

	ep.mu.Lock()
	defer ep.mu.Unlock()
	for _, err := range ep.bad {
		t.Errorf("a request a receiver must refuse: %v", err)
	}
	var types []webhook.Type
	var last int64
	ids := map[string]bool{}
	for _, ev := range ep.events {
		types = append(types, ev.Type)
		if ev.SessionID != s.ID || ev.Caller != caller || ev.Callee != callee {
			t.Errorf("event %s for session %s (%s→%s)", ev.ID, ev.SessionID, ev.Caller, ev.Callee)
		}
		if ev.Sequence < last || ids[ev.ID] {
			t.Errorf("event %s out of order or twice (sequence %d after %d)", ev.ID, ev.Sequence, last)
		}
		last, ids[ev.ID] = ev.Sequence, true
	}
	want := []webhook.Type{webhook.Created, webhook.AttemptStarted, webhook.AttemptEnded, webhook.AttemptStarted,
		webhook.CalleeAnswered, webhook.CallerRinging, webhook.Bridged, webhook.Finished}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v\nwant   %v\n%s", types, want, c.report())
	}
	// The steps name what FreeSWITCH and the session say.
	ended, second, ringing, bridged, finished := ep.events[2], ep.events[3], ep.events[5], ep.events[6], ep.events[7]
	if ended.Attempt != 1 || ended.Cause == nil || ended.Cause.Name != "NO_ANSWER" || ended.Cause.Class != "no_answer" || ended.Cause.Text != "B did not answer" {
		t.Errorf("attempt_ended %+v (cause %+v)", ended, ended.Cause)
	}
	if second.Attempt != 2 || second.LegUUID != final.CalleeLeg || second.Node != "fs1" {
		t.Errorf("second attempt_started %+v; the session's callee leg %s", second, final.CalleeLeg)
	}
	if ringing.LegUUID != final.CallerLeg || bridged.LegUUID != final.CallerLeg {
		t.Errorf("caller_ringing leg %s, bridged leg %s; the session's caller leg %s", ringing.LegUUID, bridged.LegUUID, final.CallerLeg)
	}
	if finished.Outcome != "completed" || finished.Attempt != 2 || finished.State != "finished" {
		t.Errorf("finished %+v", finished)
	}
}
