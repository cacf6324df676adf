package session_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/redistest"
	"bgcall/session"
	"bgcall/store"
)

// The tests run against a real redis-server and the FreeSWITCH simulator
// over TCP. One FreeSWITCH second lasts simSecond, so a whole background
// call takes a few hundred milliseconds.
const simSecond = 20 * time.Millisecond

// redisServer is started by the first test that needs Redis: the
// transition table's tests need none.
var redisServer redistest.Lazy

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	code := m.Run()
	redisServer.Stop()
	os.Exit(code)
}

var namespaces atomic.Int64

// testPolicy is the default policy squeezed into test time: rings last
// five FreeSWITCH seconds (5 simSecond), retries follow after 30 ms.
func testPolicy() session.Policy {
	p := session.DefaultPolicy()
	p.RingTime = 5 * time.Second       // 100 ms of simulator time
	p.CallerRingTime = 5 * time.Second // 100 ms of simulator time
	p.FirstInterval = 30 * time.Millisecond
	p.Backoff = 1
	p.Jitter = 0
	p.MaxInterval = 30 * time.Millisecond
	p.MaxAttempts = 5
	p.MaxTotal = 20 * time.Second
	p.Quiet = session.QuietHours{}
	p.Causes[freeswitch.UserBusy] = session.CauseRule{Verdict: session.Retry, Interval: 30 * time.Millisecond}
	return p
}

type harness struct {
	t            testing.TB
	redisTimeout time.Duration // 0: go-redis's defaults
	nodes        []*fssim.Node
	pool         *esl.Pool
	client       redis.UniversalClient
	st           *store.Store
	ns           string
	eng          *session.Engine
	opts         session.Options
	via          func(addr string) string // the address the pool dials for a node's; nil: the node's own
	noEngine     bool                     // start no engine: the test runs its own
}

type harnessOpt func(*harness)

func withNodes(n int) harnessOpt {
	return func(h *harness) {
		for len(h.nodes) < n {
			h.nodes = append(h.nodes, startNode(h.t, len(h.nodes)))
		}
	}
}

// withoutEngine leaves h.eng nil, for a test whose engines must be the
// only replicas (any other replica running takes over what a stopped one
// releases).
func withoutEngine() harnessOpt {
	return func(h *harness) { h.noEngine = true }
}

func withOptions(f func(*session.Options)) harnessOpt {
	return func(h *harness) { f(&h.opts) }
}

// withRealTimeNode makes the first node keep FreeSWITCH's own time, for a
// test whose ring times bgcall's timers and the node must both honour.
func withRealTimeNode() harnessOpt {
	return func(h *harness) { h.nodes = append(h.nodes, startNodeTimed(h.t, len(h.nodes), time.Second)) }
}

func startNode(t testing.TB, i int) *fssim.Node { return startNodeTimed(t, i, simSecond) }

func startNodeTimed(t testing.TB, i int, second time.Duration) *fssim.Node {
	t.Helper()
	n, err := fssim.Start(fssim.Options{
		Hostname: fmt.Sprintf("fs%d", i+1), Second: second, Heartbeat: -1,
		PromptDuration: 25 * simSecond, // 500 ms: prompts are seconds long in life
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// newHarness starts nodes, a pool connected to them, a store on the
// shared redis-server under a fresh namespace, and one engine.
func newHarness(t testing.TB, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, ns: fmt.Sprintf("t%d", namespaces.Add(1))}
	h.opts = session.Options{
		Replica:       "r1",
		Policy:        testPolicy(),
		CalleeDial:    "user/{number}@{domain}",
		DialVars:      map[string]string{"domain": "example.com"},
		LegGrace:      2 * time.Second,
		PromptTimeout: 2 * time.Second,
		ParkTimeout:   60 * time.Second, // 1.2 s of simulator time: bounds B's whole hold
		PollInterval:  10 * time.Millisecond,
		LeaseTTL:      time.Second,
		OrphanGrace:   time.Second,
		Logger:        testLogger(t),
	}
	for _, o := range opts {
		o(h)
	}
	if len(h.nodes) == 0 {
		withNodes(1)(h)
	}
	h.client = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{redisServer.Addr(t)},
		ReadTimeout: h.redisTimeout, WriteTimeout: h.redisTimeout})
	t.Cleanup(func() { h.client.Close() })
	h.st = store.New(h.client, store.Options{Namespace: h.ns, LeaseTTL: h.opts.LeaseTTL})
	h.pool = startPoolVia(t, h.via, h.nodes...)
	h.opts.Store, h.opts.Pool = h.st, h.pool
	if !h.noEngine {
		h.eng = h.start(h.opts)
	}
	return h
}

func startPool(t testing.TB, nodes ...*fssim.Node) *esl.Pool {
	t.Helper()
	return startPoolVia(t, nil, nodes...)
}

// startPoolVia starts a pool whose connections to each node go to
// via(node address), when via is set.
func startPoolVia(t testing.TB, via func(string) string, nodes ...*fssim.Node) *esl.Pool {
	t.Helper()
	var cfg []esl.Node
	for i, n := range nodes {
		addr := n.Addr()
		if via != nil {
			addr = via(addr)
		}
		cfg = append(cfg, esl.Node{Name: fmt.Sprintf("fs%d", i+1), Addr: addr, Password: n.Password()})
	}
	pool, err := esl.NewPool(cfg, esl.Options{Logger: testLogger(t), BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); pool.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := pool.WaitConnected(wctx, len(nodes)); err != nil {
		t.Fatalf("pool did not connect: %v", err)
	}
	return pool
}

// start runs an engine with opts until the test ends.
func (h *harness) start(opts session.Options) *session.Engine {
	h.t.Helper()
	eng, err := session.New(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-done })
	return eng
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("BGCALL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func (h *harness) create(caller, callee string) store.Session {
	h.t.Helper()
	s, created, err := h.eng.Create(context.Background(), session.Request{Caller: caller, Callee: callee})
	if err != nil || !created {
		h.t.Fatalf("create %s→%s: created=%v err=%v", caller, callee, created, err)
	}
	return s
}

// waitFor polls the store until the session satisfies ok.
func (h *harness) waitFor(id string, what string, ok func(store.Session) bool) store.Session {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := h.st.Get(context.Background(), id)
		if err == nil && ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tl, _ := h.st.Timeline(context.Background(), id)
			h.t.Fatalf("session %s never reached %s; last %+v err=%v\ntimeline:\n%s", id, what, s, err, formatTimeline(tl))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) waitOutcome(id string) store.Session {
	h.t.Helper()
	return h.waitFor(id, "an outcome", func(s store.Session) bool { return s.State == store.Finished })
}

func (h *harness) waitState(id string, st store.State) store.Session {
	h.t.Helper()
	return h.waitFor(id, string(st), func(s store.Session) bool { return s.State == st })
}

func (h *harness) timeline(id string) []store.Entry {
	h.t.Helper()
	tl, err := h.st.Timeline(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return tl
}

func formatTimeline(tl []store.Entry) string {
	var b strings.Builder
	for _, e := range tl {
		fmt.Fprintf(&b, "  %s %-16s %-15s attempt=%d leg=%s node=%s uuid=%s cause=%s %s\n",
			e.At.Format("15:04:05.000"), e.Kind, e.State, e.Attempt, e.Leg, e.Node, e.UUID, e.Cause, e.Note)
	}
	return b.String()
}

// kinds lists the timeline entry kinds, in order.
func kinds(tl []store.Entry) []string {
	var out []string
	for _, e := range tl {
		out = append(out, string(e.Kind))
	}
	return out
}

// waitIdle waits until no node has a live channel: every leg was torn down.
func (h *harness) waitIdle() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		live := 0
		var desc []string
		for _, n := range h.nodes {
			for _, c := range n.Channels() {
				live++
				desc = append(desc, fmt.Sprintf("%s(%s %s)", c.Number, c.UUID, c.AnswerState))
			}
		}
		if live == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("channels left alive: %s", strings.Join(desc, ", "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// originates returns the originates all nodes received for number.
func (h *harness) originates(number string) []fssim.OriginateRecord {
	var out []fssim.OriginateRecord
	for _, n := range h.nodes {
		for _, o := range n.Originates() {
			if o.Number == number {
				out = append(out, o)
			}
		}
	}
	return out
}

func (h *harness) prompts(uuid string) []string {
	var out []string
	for _, n := range h.nodes {
		for _, p := range n.Prompts() {
			if p.UUID == uuid {
				out = append(out, p.Path)
			}
		}
	}
	return out
}

// waitLooked waits until eng has claimed twice more and settled: whatever
// was due by now has been claimed and sent, so what did not reach the
// node will not come from what is stored now.
func (h *harness) waitLooked(eng *session.Engine) {
	h.t.Helper()
	from := eng.Claims()
	deadline := time.Now().Add(10 * time.Second)
	for eng.Claims() < from+2 || !eng.Settled() {
		if time.Now().After(deadline) {
			h.t.Fatalf("the engine did not settle: %d claims since, %d sessions live", eng.Claims()-from, eng.Live())
		}
		time.Sleep(2 * time.Millisecond)
	}
}
