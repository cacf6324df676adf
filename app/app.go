// Package app is the bgcall daemon: it turns a configuration into a running
// store client, FreeSWITCH pool, session engine and HTTP API, and stops them
// in order, draining live calls first.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"bgcall/api"
	"bgcall/config"
	"bgcall/esl"
	"bgcall/internal/buildinfo"
	"bgcall/metrics"
	"bgcall/notify"
	"bgcall/phone"
	"bgcall/session"
	"bgcall/store"
	"bgcall/web"
	"bgcall/webhook"
)

// Options configure the daemon.
type Options struct {
	Config config.Config
	// LogOutput receives the log; nil is os.Stderr.
	LogOutput io.Writer
	// Logger, when set, is used instead of one built from Config.Log.
	Logger *slog.Logger
	// Registry receives the metrics; nil makes a fresh one.
	Registry *prometheus.Registry
	// Engine, when set, adjusts the engine's options after they are built
	// from the configuration (timings the configuration does not expose).
	Engine func(*session.Options)
}

// Daemon is a started bgcall daemon.
type Daemon struct {
	log      *slog.Logger
	cfg      config.Config
	apiAddr  net.Addr
	pprofLn  net.Listener
	redis    redis.UniversalClient
	store    *store.Store
	pool     *esl.Pool
	engine   *session.Engine
	phone    *phone.Server
	hooks    *webhook.Hooks    // nil: webhooks off
	machines *machineDetection // nil: confirm.machine_detection off
	pauses   pauses
	draining atomic.Bool
	// acquired releases the connections and listeners Start acquired:
	// at once if a later step of Start fails, else when the daemon stops.
	acquired stack

	done chan struct{}
	err  error
}

// Run starts the daemon and returns when ctx is done and the daemon has
// drained and stopped, or when it could not start.
func Run(ctx context.Context, opts Options) error {
	d, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	return d.Wait()
}

// Start starts the daemon; it stops when ctx is done. The API is listening
// when Start returns. A start that fails has released whatever it acquired.
func Start(ctx context.Context, opts Options) (*Daemon, error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		out := opts.LogOutput
		if out == nil {
			out = os.Stderr
		}
		log = NewLogger(out, cfg.Log)
	}
	d := &Daemon{log: log, cfg: cfg, done: make(chan struct{})}
	for _, w := range cfg.Warnings() {
		log.Warn("WARNING: "+w.Key+" "+w.Problem, "setting", w.Key)
	}
	fail := func(err error) (*Daemon, error) {
		d.acquired.release()
		return nil, err
	}

	rdb, closeRedis, err := openRedis(ctx, cfg, log)
	if err != nil {
		return fail(err)
	}
	d.redis = rdb
	d.acquired.push(closeRedis)

	reg := opts.Registry
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	m := metrics.New(reg, metrics.BuildInfo{Version: buildinfo.Version, Revision: buildinfo.Revision(), GoVersion: runtime.Version()})

	nodes := make([]esl.Node, len(cfg.FreeSWITCH.Nodes))
	for i, n := range cfg.FreeSWITCH.Nodes {
		pw := n.Password
		if pw == "" {
			pw = cfg.FreeSWITCH.Password
		}
		nodes[i] = esl.Node{Name: n.Name, Addr: n.Addr, Password: pw}
		m.AddNode(n.Name)
	}
	pool, err := esl.NewPool(nodes, esl.Options{
		DialTimeout:    cfg.FreeSWITCH.DialTimeout,
		AuthTimeout:    cfg.FreeSWITCH.DialTimeout,
		CommandTimeout: cfg.FreeSWITCH.CommandTimeout,
		CommandConns:   cfg.FreeSWITCH.CommandConnections,
		SilenceTimeout: cfg.FreeSWITCH.SilenceTimeout,
		Logger:         log.With("component", "esl"),
		Observer:       m,
	})
	if err != nil {
		return fail(err) // esl's errors name the node and the fix
	}
	d.pool = pool

	notifs, err := notifiers(cfg, pool, m, log)
	if err != nil {
		return fail(err) // notify's errors say "notify:" and the fix
	}
	eopts, err := engineOptions(cfg)
	if err != nil {
		return fail(err)
	}
	st, err := openStore(ctx, rdb, cfg, m, log)
	if err != nil {
		return fail(err)
	}
	d.store = st
	eopts.Store = st
	eopts.Pool = pool
	eopts.Metrics = m
	eopts.Logger = log
	switch len(notifs) {
	case 0:
	case 1:
		eopts.Notifier = notifs[0]
	default:
		eopts.Notifier = fanout(notifs)
	}
	if cfg.Confirm.MachineDetection {
		d.machines = newMachineDetection(pool, log.With("component", "machine_detection"))
		eopts.MachineDetection = d.machines.on
	}
	if opts.Engine != nil {
		opts.Engine(&eopts)
	}
	// The offer watcher sees the ordinary calls the engine does not steer;
	// d.phone is set before the engine runs, so the hook reads it safely.
	if cfg.Phone.Enabled {
		eopts.Observe = func(ev *esl.Event) { d.phone.Observe(ev) }
	}
	// The engine tells the webhooks of its transitions; d.hooks is set
	// before the engine runs, so the hook reads it safely.
	if cfg.Webhooks.On() {
		eopts.Transitions = func(s store.Session, entries []store.Entry) { d.hooks.Observe(s, entries) }
		eopts.CallbackURL = cfg.Webhooks.RequestURLCheck()
	}
	engine, err := session.New(eopts)
	if err != nil {
		return fail(fmt.Errorf("session engine: %w", err))
	}
	d.engine = engine
	if d.hooks, err = webhooks(cfg.Webhooks, st, engine.Replica(), m, log); err != nil {
		return fail(err) // webhook's errors say "webhook:" and the fix
	}
	if cfg.Phone.Enabled {
		threshold := cfg.Phone.OfferThreshold
		if threshold == 0 {
			threshold = -1 // counted, never offered
		}
		p := cfg.Phone.Prompts
		d.phone, err = phone.New(phone.Options{
			Engine: engine, Store: st, Pool: pool, Listen: cfg.Phone.Listen,
			OnPrefix: cfg.Phone.OnPrefix, OffPrefix: cfg.Phone.OffPrefix,
			OptOutPrefix: cfg.Phone.OptOutPrefix, OptInPrefix: cfg.Phone.OptInPrefix,
			Prompts: phone.Prompts{On: p.On, Off: p.Off, NotFound: p.NotFound, Limit: p.Limit,
				Invalid: p.Invalid, Failed: p.Failed, Offer: p.Offer,
				OptedOut: p.OptedOut, OptedIn: p.OptedIn, Refused: p.Refused},
			OfferThreshold: threshold, OfferWindow: cfg.Phone.OfferWindow, DigitTimeout: cfg.Phone.DigitTimeout,
			OfferNotifier: offerNotifier(cfg, notifs),
			Logger:        log.With("component", "phone"),
			Metrics:       m,
		})
		if err != nil {
			return fail(fmt.Errorf("phone.listen: %w", err))
		}
		d.acquired.push(func() { d.phone.Close() })
	}

	m.AddRoutes(api.RouteNames()...)
	var metricsHandler http.Handler
	if cfg.Metrics.Enabled {
		metricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	}
	handler := api.New(api.Options{
		Engine:    engine,
		Token:     cfg.API.Token,
		Ready:     d.ready,
		Nodes:     d.nodes,
		Stats:     st,
		Requests:  m,
		PauseNode: d.pauseNode,
		Page:      web.Handler(),
		Replica:   engine.Replica(),
		NotificationBacklog: func() int {
			n := 0
			for _, nt := range notifs {
				n += nt.Backlog()
			}
			return n
		},
		Metrics:     metricsHandler,
		MaxBody:     cfg.API.MaxBody,
		MaxAttempts: cfg.Retry.MaxAttempts,
		Logger:      log.With("component", "api"),
	})
	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return fail(fmt.Errorf("api.listen: %w (is another bgcall running? change api.listen)", err))
	}
	d.apiAddr = ln.Addr()
	d.acquired.push(func() { ln.Close() })
	if cfg.Metrics.PprofListen != "" {
		pln, err := net.Listen("tcp", cfg.Metrics.PprofListen)
		if err != nil {
			return fail(fmt.Errorf("pprof.listen: %w", err))
		}
		d.pprofLn = pln
		d.acquired.push(func() { pln.Close() })
	}

	go d.run(ctx, ln, handler, notifs)
	quiet := engine.DefaultQuietHours().String()
	if quiet == "" {
		quiet = "none"
	}
	log.Info("bgcall started", "version", buildinfo.Version, "replica", engine.Replica(),
		"api", d.apiAddr.String(), "nodes", len(nodes), "store", storeKind(cfg.Redis), "namespace", cfg.Namespace,
		"quiet_hours", quiet)
	return d, nil
}

// APIAddr is the address the API listens on.
func (d *Daemon) APIAddr() string { return d.apiAddr.String() }

// PhoneAddr is where the dialplan's socket application reaches the daemon
// ("" when phone.enabled is off).
func (d *Daemon) PhoneAddr() string {
	if d.phone == nil {
		return ""
	}
	return d.phone.Addr()
}

// PprofAddr is the pprof listener's address, "" when pprof is off.
func (d *Daemon) PprofAddr() string {
	if d.pprofLn == nil {
		return ""
	}
	return d.pprofLn.Addr().String()
}

// Wait returns when the daemon has stopped.
func (d *Daemon) Wait() error {
	<-d.done
	return d.err
}

// run owns every goroutine of the daemon. Engine and pool run on a context
// of their own so that they outlive ctx while live calls drain.
func (d *Daemon) run(ctx context.Context, ln net.Listener, handler http.Handler, notifs []*notify.Notifier) {
	defer close(d.done)
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var work sync.WaitGroup
	// The first failure stops the daemon; later ones are only logged, and
	// never block their goroutine.
	errs := make(chan error, 1)
	failed := func(err error) {
		select {
		case errs <- err:
		default:
			d.log.Error("bgcall part failed while stopping", "err", err)
		}
	}
	startOn := func(ctx context.Context, wg *sync.WaitGroup, name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				failed(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}
	start := func(name string, f func(context.Context) error) { startOn(workCtx, &work, name, f) }
	// The webhooks stop last, once nothing makes events any more (the
	// engine, the phone, the API's requests), so that they write every
	// event queued to the outbox.
	hooksCtx, stopHooks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHooks()
	var hooks sync.WaitGroup
	start("FreeSWITCH pool", d.pool.Run)
	start("session engine", d.engine.Run)
	if d.phone != nil {
		start("phone", d.phone.Run)
	}
	for _, n := range notifs {
		start("notifier", n.Run)
	}
	if d.hooks != nil {
		startOn(hooksCtx, &hooks, "webhooks", d.hooks.Run)
	}
	start("node pauses", d.followPauses)
	if d.machines != nil {
		start("machine detection", d.machines.run)
	}

	streamsCtx, stopStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStreams()
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return streamsCtx },
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	var serving sync.WaitGroup
	serve := func(s *http.Server, l net.Listener) {
		serving.Add(1)
		go func() {
			defer serving.Done()
			if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				failed(fmt.Errorf("http %s: %w", l.Addr(), err))
			}
		}()
	}
	serve(srv, ln)
	var psrv *http.Server
	if d.pprofLn != nil {
		psrv = &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		serve(psrv, d.pprofLn)
		d.log.Info("pprof listening", "addr", d.pprofLn.Addr().String())
	}

	select {
	case <-ctx.Done():
		d.drain()
	case err := <-errs:
		d.err = err
		d.log.Error("bgcall stopping after a failure", "err", err)
	}

	stopWork()
	work.Wait()
	stopStreams()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	srv.Shutdown(shutCtx)
	if psrv != nil {
		psrv.Shutdown(shutCtx)
	}
	cancel()
	serving.Wait()
	stopHooks()
	hooks.Wait()
	d.acquired.release()
	d.log.Info("bgcall stopped")
}

// drain stops claiming new attempts, flips /readyz, and waits for the calls
// this replica steers to finish, at most drain.timeout.
func (d *Daemon) drain() {
	d.draining.Store(true)
	drain(d.engine, d.cfg.Drain, d.log)
}

// drainer is what a drain needs of the engine.
type drainer interface {
	Drain()
	Live() int
	Released() <-chan struct{}
}

// drain stops e from starting anything new and waits until it steers no
// session, at most timeout.
func drain(e drainer, timeout time.Duration, log *slog.Logger) {
	e.Drain()
	live := e.Live()
	if live == 0 || timeout == 0 {
		log.Info("stopping", "live_sessions", live)
		return
	}
	log.Info("draining: no new attempts; waiting for live calls", "live_sessions", live, "timeout", timeout)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for e.Live() > 0 {
		select {
		case <-deadline.C:
			log.Warn("drain timeout: stopping with live sessions; another replica (or this one, restarted with the same replica.id) resumes them",
				"live_sessions", e.Live())
			return
		case <-e.Released():
		}
	}
	log.Info("drained")
}

// ready is /readyz: Redis answers and takes writes, the store is not
// failing call after call, a FreeSWITCH node is connected, and the daemon
// is not draining.
func (d *Daemon) ready(ctx context.Context) error {
	if d.draining.Load() {
		return errors.New("draining: shutting down")
	}
	if err := d.redis.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis does not answer: %v", err)
	}
	if err := d.store.Check(ctx); err != nil {
		return err
	}
	for _, h := range d.pool.Health() {
		if h.Connected {
			return nil
		}
	}
	return fmt.Errorf("no FreeSWITCH node connected (of %d configured)", len(d.pool.Health()))
}

// nodes is each FreeSWITCH node as this replica sees it, for the API.
func (d *Daemon) nodes() []api.NodeStatus {
	health := d.pool.Health()
	out := make([]api.NodeStatus, len(health))
	for i, h := range health {
		out[i] = api.NodeStatus{Name: h.Name, Addr: h.Addr, Connected: h.Connected, Channels: h.Channels,
			CommandConns: h.CommandConns, Reconnects: h.Reconnects, LastError: h.LastError, Paused: h.Paused}
		if p, ok := d.pauses.get(h.Name); ok && h.Paused {
			out[i].PausedBy, out[i].PausedSince = p.By, &p.Since
		}
		if !h.LastHeartbeat.IsZero() {
			out[i].LastHeartbeat = &h.LastHeartbeat
		}
	}
	return out
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// NewLogger builds the daemon's logger from the log settings.
func NewLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level))
	hopts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}
