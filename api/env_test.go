package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/api"
	"bgcall/esl"
	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

const testToken = "test-token-0123456789abcdef"

// env is a real engine (store on redis-server, pool on the simulator)
// behind the API handler, served over HTTP.
type env struct {
	t      *testing.T
	url    string
	sim    *fssim.Node
	engine *session.Engine
	store  *store.Store
}

var namespaces atomic.Int64

type envOptions struct {
	limits  store.Limits
	ready   func(context.Context) error
	metrics http.Handler
	maxBody int64
	engine  func(*session.Options) // changes the engine's options
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	// Far ends ring and never answer: sessions stay live for as long as a
	// test needs them.
	sim, err := fssim.Start(fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}, Second: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { rdb.Close() })
	st := store.New(rdb, store.Options{Namespace: fmt.Sprintf("apitest%d", namespaces.Add(1))})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pool, err := esl.NewPool([]esl.Node{{Name: "fs1", Addr: sim.Addr(), Password: sim.Password()}}, esl.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	policy := session.DefaultPolicy()
	policy.Quiet = session.QuietHours{}
	policy.RingTime = 60 * time.Second
	eopts := session.Options{Store: st, Pool: pool, Replica: "api-test", Policy: policy, Limits: o.limits, Logger: log,
		DialVars: map[string]string{"domain": "example.com"}, CalleeDial: "user/{number}@{domain}"}
	if o.engine != nil {
		o.engine(&eopts)
	}
	eng, err := session.New(eopts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { pool.Run(ctx); done <- struct{}{} }()
	go func() { eng.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := pool.WaitConnected(wctx, 1); err != nil {
		t.Fatalf("pool did not connect to the simulator: %v", err)
	}

	h := api.New(api.Options{Engine: eng, Token: testToken, Ready: o.ready, Metrics: o.metrics, MaxBody: o.maxBody, Logger: log, KeepAlive: time.Hour,
		Stats: st, Replica: "api-test", Clock: eopts.Clock,
		PauseNode: func(ctx context.Context, node string, pause bool, by string) error {
			if node != "fs1" {
				return api.ErrUnknownNode
			}
			return pool.SetPaused(node, pause)
		},
		Nodes: func() []api.NodeStatus {
			var out []api.NodeStatus
			for _, n := range pool.Health() {
				out = append(out, api.NodeStatus{Name: n.Name, Addr: n.Addr, Connected: n.Connected, Channels: n.Channels, Paused: n.Paused})
			}
			return out
		}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		observe(r.Pattern, rec.status)
	}))
	t.Cleanup(srv.Close)
	return &env{t: t, url: srv.URL, sim: sim, engine: eng, store: st}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
