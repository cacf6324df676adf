package phone_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/redistest"
	"bgcall/internal/testutil"
	"bgcall/phone"
	"bgcall/session"
	"bgcall/store"
)

// One FreeSWITCH second lasts simSecond in the simulator.
const simSecond = 20 * time.Millisecond

var redisAddr string

func TestMain(m *testing.M) {
	os.Exit(redistest.Main(m, func(s *redistest.Server) { redisAddr = s.Addr }))
}

var namespaces atomic.Int64

// testPolicy keeps a session in each state long enough to act on it:
// rings last a minute of FreeSWITCH time (1.2 s here) and a busy B is
// retried only after a minute.
func testPolicy() session.Policy {
	p := session.DefaultPolicy()
	p.RingTime = time.Minute
	p.CallerRingTime = time.Minute
	p.FirstInterval = time.Minute
	p.MaxInterval = time.Minute
	p.Backoff = 1
	p.Jitter = 0
	p.MaxAttempts = 5
	p.MaxTotal = time.Hour
	p.Quiet = session.QuietHours{}
	p.Causes[freeswitch.UserBusy] = session.CauseRule{Verdict: session.Retry, Interval: time.Minute}
	return p
}

// rig is one FreeSWITCH node, a session engine and a phone server, over
// TCP and a real redis-server.
type rig struct {
	t      testing.TB
	node   *fssim.Node
	pool   *esl.Pool
	st     *store.Store
	eng    *session.Engine
	srv    *phone.Server
	offers *offerLog
}

type rigOption func(*session.Options, *phone.Options)

func newRig(t testing.TB, opts ...rigOption) *rig {
	t.Helper()
	r := &rig{t: t, offers: &offerLog{}}
	node, err := fssim.Start(fssim.Options{Hostname: "fs1", Second: simSecond, Heartbeat: -1, PromptDuration: 2 * simSecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	r.node = node
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{redisAddr}})
	t.Cleanup(func() { client.Close() })
	r.st = store.New(client, store.Options{Namespace: fmt.Sprintf("ph%d", namespaces.Add(1)), LeaseTTL: time.Second})

	pool, err := esl.NewPool([]esl.Node{{Name: "fs1", Addr: node.Addr(), Password: node.Password()}},
		esl.Options{Logger: testLogger(), BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.pool = pool
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() { defer wg.Done(); pool.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := pool.WaitConnected(wctx, 1); err != nil {
		t.Fatalf("pool did not connect: %v", err)
	}

	// The engine's Observe hook feeds the phone server, which needs the
	// engine: the hook reads the server once both exist, before either runs.
	var srv *phone.Server
	sopts := session.Options{
		Store: r.st, Pool: pool, Replica: "r1", Policy: testPolicy(),
		CalleeDial: "user/{number}", LegGrace: 2 * time.Second, PromptTimeout: 2 * time.Second,
		ParkTimeout: 600 * time.Second, PollInterval: 10 * time.Millisecond, LeaseTTL: time.Second,
		OrphanGrace: time.Second, Logger: testLogger(),
		Observe: func(ev *esl.Event) { srv.Observe(ev) },
	}
	popts := phone.Options{
		Store: r.st, Pool: pool, Listen: "127.0.0.1:0", OfferThreshold: 3, OfferWindow: time.Hour,
		DigitTimeout: 5 * time.Second, Logger: testLogger(),
	}
	for _, o := range opts {
		o(&sopts, &popts)
	}
	eng, err := session.New(sopts)
	if err != nil {
		t.Fatal(err)
	}
	popts.Engine = eng
	srv, err = phone.New(popts)
	if err != nil {
		t.Fatal(err)
	}
	r.eng, r.srv = eng, srv
	wg.Add(2)
	go func() { defer wg.Done(); eng.Run(ctx) }()
	go func() { defer wg.Done(); srv.Run(ctx) }()
	return r
}

func testLogger() *slog.Logger {
	if os.Getenv("BGCALL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// call places a call from a through the dialplan with the hook to the
// phone server, and waits until the caller's leg is gone.
func (r *rig) call(o fssim.CallOptions) string {
	r.t.Helper()
	if o.Socket == "-" {
		o.Socket = ""
	} else if o.Socket == "" {
		o.Socket = r.srv.Addr()
	}
	uuid, err := r.node.Call(o)
	if err != nil {
		r.t.Fatal(err)
	}
	r.waitGone(uuid)
	return uuid
}

func (r *rig) waitGone(uuid string) {
	r.t.Helper()
	r.waitFor("channel "+uuid+" to go", func() bool {
		_, up := r.node.Channel(uuid)
		return !up
	})
}

// heard lists the prompts played on a leg, in order.
func (r *rig) heard(uuid string) []string {
	var out []string
	for _, p := range r.node.Prompts() {
		if p.UUID == uuid {
			out = append(out, p.Path)
		}
	}
	return out
}

// sessions lists the caller's sessions.
func (r *rig) sessions(caller string) []store.Session {
	r.t.Helper()
	list, _, err := r.eng.List(context.Background(), store.Filter{Caller: caller})
	if err != nil {
		r.t.Fatal(err)
	}
	return list
}

func (r *rig) waitFor(what string, ok func() bool) {
	r.t.Helper()
	testutil.WaitFor(r.t, what, ok)
}

func (r *rig) missed(a, b string) int {
	r.t.Helper()
	n, err := r.st.MissedCount(context.Background(), a, b, time.Hour, time.Now())
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// offerLog records offers sent by message.
type offerLog struct {
	mu   sync.Mutex
	sent []phone.Offer
}

func (l *offerLog) SendOffer(_ context.Context, o phone.Offer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, o)
}

func (l *offerLog) list() []phone.Offer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]phone.Offer(nil), l.sent...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
