package webhook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"bgcall/internal/redistest"
	"bgcall/internal/testutil"
	"bgcall/metrics"
	"bgcall/metrics/promtest"
	"bgcall/store"
)

var redisServer *redistest.Server

func TestMain(m *testing.M) {
	os.Exit(redistest.Main(m, func(s *redistest.Server) { redisServer = s }))
}

var namespaces atomic.Int64

func newOutbox(t *testing.T) *store.Store {
	return store.New(redisServer.Client(t), store.Options{Namespace: fmt.Sprintf("wh%d", namespaces.Add(1))})
}

const secret = "whsec_0123456789abcdef"

// received is one request the endpoint got.
type received struct {
	key, event, ts, sig string
	body                []byte
}

// endpoint records every request and answers what answer says.
type endpoint struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	signal chan struct{} // one per request
	answer func(n int, r received, req *http.Request) int
}

func newEndpoint(t *testing.T, answer func(n int, r received, req *http.Request) int) *endpoint {
	e := &endpoint{signal: make(chan struct{}, 1000), answer: answer}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r := received{key: req.Header.Get(HeaderIdempotency), event: req.Header.Get(HeaderEvent),
			ts: req.Header.Get(HeaderTimestamp), sig: req.Header.Get(HeaderSignature), body: body}
		e.mu.Lock()
		e.got = append(e.got, r)
		n := len(e.got)
		e.mu.Unlock()
		e.signal <- struct{}{}
		w.WriteHeader(e.answer(n, r, req))
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) requests() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

// wait waits for the endpoint's n-th request.
func (e *endpoint) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for len(e.requests()) < n {
		select {
		case <-e.signal:
		case <-deadline:
			t.Fatalf("the endpoint got %d requests, want %d", len(e.requests()), n)
		}
	}
}

// run starts h until the returned stop is called (or the test ends).
func run(t *testing.T, h *Hooks) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func newHooks(t *testing.T, o Options) *Hooks {
	t.Helper()
	if o.Secret == "" {
		o.Secret = secret
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = Backoff{First: 5 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 2}
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func session(id string, version int64) store.Session {
	return store.Session{ID: id, Caller: "1001", Callee: "1002", Version: version, State: store.Waiting, UpdatedAt: t0}
}

// created and attempt make the first two events of session id.
func created(h *Hooks, id string) {
	h.Observe(session(id, 1), []store.Entry{{At: t0, Kind: store.KindCreated}})
}

func attempt(h *Hooks, id string) {
	s := session(id, 2)
	s.State, s.Attempts, s.Node, s.CalleeLeg = store.DialingCallee, 1, "fs1", "b-1"
	h.Observe(s, []store.Entry{{Kind: store.KindAttempt}})
}

func waitBacklog(t *testing.T, o Outbox, want int64) {
	t.Helper()
	for i := 0; ; i++ {
		n, err := o.OutboxBacklog(context.Background())
		if err == nil && n == want {
			return
		}
		if i == 2000 {
			t.Fatalf("outbox backlog %d, %v; want %d", n, err, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func deliveries(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	return promtest.Counter(t, reg, "bgcall_webhook_deliveries_total", map[string]string{"result": result})
}

// TestDeliveryRetriesUntilOK: an endpoint that fails twice per event gets
// each event a third time, signed, under the same key with the same body,
// and a session's second event only after its first succeeded.
func TestDeliveryRetriesUntilOK(t *testing.T) {
	tries := map[string]int{}
	var mu sync.Mutex
	ep := newEndpoint(t, func(_ int, r received, _ *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		tries[r.key]++
		if tries[r.key] <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	reg := prometheus.NewRegistry()
	ob := newOutbox(t)
	h := newHooks(t, Options{Outbox: ob, Replica: "r1", URL: ep.URL, Metrics: metrics.New(reg, metrics.BuildInfo{})})
	run(t, h)
	created(h, "s1")
	attempt(h, "s1")
	ep.wait(t, 6)
	waitBacklog(t, ob, 0)

	got := ep.requests()
	var keys []string
	for _, r := range got {
		keys = append(keys, r.key)
		if err := Verify([]byte(secret), r.sig, r.ts, r.body, time.Minute, time.Now()); err != nil {
			t.Errorf("request %s: %v", r.key, err)
		}
		if string(r.body) != string(got[0].body) && r.key == got[0].key {
			t.Errorf("retry of %s sent another body:\n%s\n%s", r.key, r.body, got[0].body)
		}
	}
	want := []string{"s1.1.created", "s1.1.created", "s1.1.created", "s1.2.attempt_started", "s1.2.attempt_started", "s1.2.attempt_started"}
	if !slices.Equal(keys, want) {
		t.Errorf("requests in order %v\nwant %v", keys, want)
	}
	if got[0].event != "created" || got[5].event != "attempt_started" {
		t.Errorf("%s headers %q, %q", HeaderEvent, got[0].event, got[5].event)
	}
	if ok, retry, failed := deliveries(t, reg, "ok"), deliveries(t, reg, "retry"), deliveries(t, reg, "failed"); ok != 2 || retry != 4 || failed != 0 {
		t.Errorf("deliveries ok %v, retry %v, failed %v; want 2, 4, 0", ok, retry, failed)
	}
}

// TestDeliveryGivesUpAfterMaxAttempts: an event its endpoint keeps
// refusing is tried MaxAttempts times, counted failed and removed, and the
// session's next event goes on.
func TestDeliveryGivesUpAfterMaxAttempts(t *testing.T) {
	ep := newEndpoint(t, func(_ int, r received, _ *http.Request) int {
		if r.event == "created" {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	reg := prometheus.NewRegistry()
	ob := newOutbox(t)
	h := newHooks(t, Options{Outbox: ob, Replica: "r1", URL: ep.URL, MaxAttempts: 3, Metrics: metrics.New(reg, metrics.BuildInfo{})})
	run(t, h)
	created(h, "s1")
	attempt(h, "s1")
	ep.wait(t, 4)
	waitBacklog(t, ob, 0)
	var events []string
	for _, r := range ep.requests() {
		events = append(events, r.event)
	}
	if want := []string{"created", "created", "created", "attempt_started"}; !slices.Equal(events, want) {
		t.Errorf("requests %v, want %v", events, want)
	}
	if failed, ok := deliveries(t, reg, "failed"), deliveries(t, reg, "ok"); failed != 1 || ok != 1 {
		t.Errorf("deliveries failed %v, ok %v; want 1, 1", failed, ok)
	}
}

// TestAnotherReplicaTakesOverAStoppedOnesEvents: an event a replica holds
// stays with it while it lives (touched, never claimed by the other), and
// goes to the other replica once the first one stops in the middle of a
// try; the other delivers it under the same key, with the same body.
func TestAnotherReplicaTakesOverAStoppedOnesEvents(t *testing.T) {
	ep := newEndpoint(t, func(n int, _ received, req *http.Request) int {
		if n == 1 {
			<-req.Context().Done() // r1's try hangs until r1 goes away
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	ob := newOutbox(t)
	const idle = 400 * time.Millisecond
	r1 := newHooks(t, Options{Outbox: ob, Replica: "r1", URL: ep.URL, ClaimIdle: idle, Timeout: time.Minute})
	stop1 := run(t, r1)
	created(r1, "s1")
	ep.wait(t, 1)

	r2 := newHooks(t, Options{Outbox: ob, Replica: "r2", URL: ep.URL, ClaimIdle: idle})
	run(t, r2)
	// Seven rounds of r2 span more than ClaimIdle: had r1 not kept its
	// event in hand, r2 would have claimed it by now.
	for r2.rounds.Load() < 8 {
		time.Sleep(idle / 8)
	}
	// An event claimed in a round is held before the round is counted,
	// and let go only once its try is over.
	r2.mu.Lock()
	held := len(r2.held)
	r2.mu.Unlock()
	if n := len(ep.requests()); n != 1 || held != 0 {
		t.Fatalf("while r1 held the event, r2 took %d and the endpoint got %d requests; want none and r1's one", held, n)
	}

	stop1()
	ep.wait(t, 2)
	got := ep.requests()
	if got[1].key != got[0].key || string(got[1].body) != string(got[0].body) {
		t.Errorf("r2 sent %s %s\nr1 sent %s %s", got[1].key, got[1].body, got[0].key, got[0].body)
	}
	waitBacklog(t, ob, 0)
}

// TestRestartResumesItsOwnEvents: a replica restarted under the same name
// delivers the events it held when it stopped, without waiting for them
// to look abandoned.
func TestRestartResumesItsOwnEvents(t *testing.T) {
	ep := newEndpoint(t, func(n int, _ received, req *http.Request) int {
		if n == 1 {
			<-req.Context().Done()
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	ob := newOutbox(t)
	first := newHooks(t, Options{Outbox: ob, Replica: "r1", URL: ep.URL, ClaimIdle: time.Hour, Timeout: time.Minute})
	stop := run(t, first)
	created(first, "s1")
	ep.wait(t, 1)
	stop()
	again := newHooks(t, Options{Outbox: ob, Replica: "r1", URL: ep.URL, ClaimIdle: time.Hour})
	run(t, again)
	ep.wait(t, 2)
	if got := ep.requests(); got[1].key != "s1.1.created" {
		t.Errorf("after the restart: %s", got[1].key)
	}
	waitBacklog(t, ob, 0)
}

// TestPerRequestURL: a session's own callback URL gets its events besides
// the operator's URL; a session without one only the operator's.
func TestPerRequestURL(t *testing.T) {
	ok := func(int, received, *http.Request) int { return http.StatusOK }
	operator, requester := newEndpoint(t, ok), newEndpoint(t, ok)
	ob := newOutbox(t)
	h := newHooks(t, Options{Outbox: ob, Replica: "r1", URL: operator.URL, RequestURL: func(string) error { return nil }})
	run(t, h)
	s := session("s1", 1)
	s.CallbackURL = requester.URL + "/mine"
	h.Observe(s, []store.Entry{{At: t0, Kind: store.KindCreated}})
	created(h, "s2")
	operator.wait(t, 2)
	requester.wait(t, 1)
	waitBacklog(t, ob, 0)
	if got := requester.requests(); len(got) != 1 || got[0].key != "s1.1.created" {
		t.Errorf("the requester's URL got %v", got)
	}
}

// stuckOutbox is a Redis that never answers a write.
type stuckOutbox struct{ Outbox }

func (stuckOutbox) OutboxAdd(ctx context.Context, _ int64, _ ...string) error {
	<-ctx.Done()
	return ctx.Err()
}

func (stuckOutbox) OutboxRead(ctx context.Context, _ string, _ int, _ time.Duration, _ bool) ([]store.OutboxEvent, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (stuckOutbox) OutboxTouch(context.Context, string, ...string) error { return nil }
func (stuckOutbox) OutboxClaim(context.Context, string, time.Duration, int) ([]store.OutboxEvent, error) {
	return nil, nil
}
func (stuckOutbox) OutboxBacklog(context.Context) (int64, error) { return 0, nil }

// TestObserveNeverWaits: while nothing takes events to the outbox (Redis
// stuck, or not running yet), Observe still returns at once: past the
// queue's bound events are dropped and counted failed.
func TestObserveNeverWaits(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHooks(t, Options{Outbox: stuckOutbox{}, Replica: "r1", URL: "http://127.0.0.1:1/", Queue: 4, Metrics: metrics.New(reg, metrics.BuildInfo{})})
	for i := range 20 {
		created(h, fmt.Sprint("s", i)) // would block forever if Observe waited
	}
	if failed := deliveries(t, reg, "failed"); failed != 16 {
		t.Errorf("dropped %v of 20 events with a queue of 4; want 16", failed)
	}
	// Stopping with the outbox stuck gives up within the flush's grace.
	stop := run(t, h)
	stop()
}

// TestEventsDroppedPastTheBacklogAreCounted: events dropped from the
// outbox past MaxBacklog while a replica held them, then read back by that
// replica restarted, are counted failed and logged as dropped, not as
// unreadable; the events kept are delivered.
func TestEventsDroppedPastTheBacklogAreCounted(t *testing.T) {
	var up atomic.Bool
	ep := newEndpoint(t, func(int, received, *http.Request) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	ob := newOutbox(t)
	slow := Backoff{First: time.Hour, Max: time.Hour, Factor: 2}
	// Redis forgets the dropped ids a touch or a claim names (XCLAIM,
	// XAUTOCLAIM): here neither replica claims, and r1 has made its first
	// touch, before it holds anything, and makes the next in a quarter of
	// an hour, so that the restarted r1 reads them back.
	first := newHooks(t, Options{Outbox: noClaims{ob}, Replica: "r1", URL: ep.URL, MaxBacklog: 2, Backoff: slow, ClaimIdle: time.Hour,
		Logger: slog.New(slog.DiscardHandler)})
	stop := run(t, first)
	for first.rounds.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	created(first, "s1")
	created(first, "s2")
	ep.wait(t, 2)
	created(first, "s3") // s1 and s2, held by r1, leave the outbox
	created(first, "s4")
	ep.wait(t, 4)
	stop()

	up.Store(true)
	reg := prometheus.NewRegistry()
	var log testutil.SyncBuffer
	again := newHooks(t, Options{Outbox: noClaims{ob}, Replica: "r1", URL: ep.URL, MaxBacklog: 2,
		Metrics: metrics.New(reg, metrics.BuildInfo{}), Logger: slog.New(slog.NewTextHandler(&log, nil))})
	run(t, again)
	ep.wait(t, 6)
	waitBacklog(t, ob, 0)
	keys := []string{ep.requests()[4].key, ep.requests()[5].key}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"s3.1.created", "s4.1.created"}) {
		t.Errorf("after the restart: %v, want the events the outbox kept", keys)
	}
	if got := deliveries(t, reg, "failed"); got != 2 {
		t.Errorf("%v events counted failed, want the 2 dropped", got)
	}
	if s := log.String(); !strings.Contains(s, "webhooks.max_backlog") || strings.Contains(s, "cannot be read") {
		t.Errorf("the log does not say the events were dropped past the backlog:\n%s", s)
	}
}

// noClaims is an outbox whose claims find nothing abandoned.
type noClaims struct{ Outbox }

func (noClaims) OutboxClaim(context.Context, string, time.Duration, int) ([]store.OutboxEvent, error) {
	return nil, nil
}

// TestPerRequestURLNoLongerAllowed: the callback URL a session kept from
// its request gets no more events once the configuration no longer allows
// it (webhooks.allow_request_url switched off, or the prefixes changed);
// the operator's URL still gets them.
func TestPerRequestURLNoLongerAllowed(t *testing.T) {
	ok := func(int, received, *http.Request) int { return http.StatusOK }
	operator, requester := newEndpoint(t, ok), newEndpoint(t, ok)
	for name, check := range map[string]func(string) error{
		"switched off":   nil,
		"other prefixes": func(u string) error { return fmt.Errorf("%q is not under an allowed prefix", u) },
	} {
		ob := newOutbox(t)
		h := newHooks(t, Options{Outbox: ob, Replica: "r1", URL: operator.URL, RequestURL: check})
		stop := run(t, h)
		before := len(operator.requests())
		s := session("s1", 1)
		s.CallbackURL = requester.URL + "/mine"
		h.Observe(s, []store.Entry{{At: t0, Kind: store.KindCreated}})
		created(h, "s2")
		operator.wait(t, before+2)
		waitBacklog(t, ob, 0) // whatever was queued is delivered
		stop()
		if got := requester.requests(); len(got) != 0 {
			t.Errorf("%s: the session's own URL got %d events, want none", name, len(got))
		}
	}
}

// TestOneSlowURLLeavesAWorkerForTheOthers: sessions whose own callback URL
// never answers in time do not hold every worker: the operator's URL is
// still served while they hang.
func TestOneSlowURLLeavesAWorkerForTheOthers(t *testing.T) {
	release := make(chan struct{})
	slow := newEndpoint(t, func(int, received, *http.Request) int {
		<-release
		return http.StatusOK
	})
	defer close(release)
	operator := newEndpoint(t, func(int, received, *http.Request) int { return http.StatusOK })
	h := newHooks(t, Options{Outbox: newOutbox(t), Replica: "r1", URL: operator.URL, Workers: 2,
		Timeout: time.Minute, RequestURL: func(string) error { return nil }})
	run(t, h)
	// Three sessions of a tenant whose URL hangs: a line to it per
	// session, more than there are workers.
	for _, id := range []string{"s1", "s2", "s3"} {
		s := session(id, 1)
		s.CallbackURL = slow.URL + "/hangs"
		h.Observe(s, []store.Entry{{At: t0, Kind: store.KindCreated}})
	}
	slow.wait(t, 1)
	// Every session's event to the operator's URL goes through although
	// the slow URL's lines were ready first.
	operator.wait(t, 3)
}
