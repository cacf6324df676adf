package session

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/internal/uuid"
	"bgcall/metrics"
	"bgcall/store"
)

// Prompts are the sound files the legs hear. Each is a path FreeSWITCH can
// play (or "app::args" for uuid_broadcast).
type Prompts struct {
	Hold              string // B, while A's phone rings; repeated until A answers
	CallerUnavailable string // B, when A does not answer
	Cancelled         string // B, when A cancels while B is on hold
	// Confirm asks B, once B answered, to press 1 to be connected or 2 to
	// decline (Policy.Confirm); "{caller}" in it is replaced by A's number.
	Confirm string
}

// DefaultPrompts are FreeSWITCH's stock sounds, present on every install.
func DefaultPrompts() Prompts {
	return Prompts{
		Hold:              "ivr/ivr-hold_connect_call.wav",
		CallerUnavailable: "ivr/ivr-not_available.wav",
		Cancelled:         "ivr/ivr-call_cannot_be_completed_as_dialed.wav",
		Confirm:           "ivr/ivr-accept_reject_voicemail.wav",
	}
}

// Message is what A is told after missing the server's call: B called.
type Message struct {
	SessionID string
	Caller    string // A, the recipient
	Callee    string // B, who answered and waited
	Node      string // the FreeSWITCH node of the session, for chat
	At        time.Time
	// CallerBusy: A was in another call all the while B held, rather
	// than not answering.
	CallerBusy bool
	// Declined: B answered and declined the call back (pressed 2 at the
	// confirmation prompt), rather than A missing it.
	Declined bool
}

// Notifier tells A that B called. Send must not block for long: the engine
// calls it from its own goroutine, and the notifier owns retries.
type Notifier interface {
	Send(ctx context.Context, m Message)
}

// Options configure an Engine. Store, Pool and Replica are required.
type Options struct {
	Store   Store
	Pool    Switch
	Replica string // this process's identity among the replicas

	Policy     Policy
	Limits     store.Limits
	CalleeDial freeswitch.DialTemplate // e.g. "user/{number}@{domain}"
	CallerDial freeswitch.DialTemplate
	DialVars   map[string]string // extra template values, e.g. domain
	Prompts    Prompts
	CallerBusy CallerBusy // whether and how A is asked if A is in a call; zero: DefaultCallerBusy
	Notifier   Notifier   // nil: nobody is told
	Metrics    *metrics.Metrics
	Logger     *slog.Logger
	Clock      func() time.Time // nil: Store.Now, Redis's clock, which every replica shares

	// LegGrace is how long past a leg's own timeout the engine waits for
	// FreeSWITCH to report it before deciding by itself.
	LegGrace time.Duration
	// PromptTimeout bounds a closing prompt; the leg is hung up after it.
	PromptTimeout time.Duration
	// ParkTimeout (whole seconds) hangs up, inside FreeSWITCH, a leg that
	// sits parked with nobody steering it: the dead-man switch for a hold
	// that bgcall stopped repeating.
	ParkTimeout time.Duration
	// Workers steer sessions in parallel; one session always on one worker.
	// A worker waits for Redis on every step it stores, so an answer can
	// wait behind other sessions' steps on its worker: more workers make
	// that rarer. Default 48 (at 500 new sessions a second, 16 left B's
	// answer to A's originate at 6.4-7.3 ms p99, 48 at 4.4-5.0).
	Workers int
	// ClaimBatch and PollInterval tune the scheduler: how many due
	// sessions one claim takes, and the longest it sleeps.
	ClaimBatch   int
	PollInterval time.Duration
	// LeaseTTL is how long a replica's lease lasts without renewal; its
	// sessions move to another replica after that.
	LeaseTTL time.Duration
	// OrphanGrace is how long a tagged leg with no live session may stay
	// before the sweeper hangs it up.
	OrphanGrace time.Duration
	// ReconcileInterval is how often the sessions the store gives this
	// replica are compared with those it steers (default: LeaseTTL).
	ReconcileInterval time.Duration
	// DeclineOptsOut makes B's 2 at the confirmation prompt also mean
	// "never from this caller": B opts out of background calls from A, as
	// OptOut records it (by "confirmation"), until B or an operator takes
	// it back.
	DeclineOptsOut bool
	// MachineDetection, when set, says whether B's leg on a node is
	// listened to for a voicemail's beep (mod_avmd) while B is asked to
	// confirm; nil: never.
	MachineDetection func(node string) bool
	// Observe, when set, sees every event that belongs to no session of
	// this replica (ordinary calls, for the automatic offer). It runs on
	// the dispatcher's goroutine: it must not block.
	Observe func(*esl.Event)
	// Transitions, when set, is told of every transition this replica
	// stores, a session's creation included: the session as stored after it
	// and the timeline entries it wrote. It runs on the goroutine that
	// stored the step, often a worker steering other calls too: it must not
	// block (no network I/O; hand the work to a goroutine of its own).
	Transitions func(s store.Session, entries []store.Entry)
	// CallbackURL checks the callback URL a request names
	// (Request.CallbackURL); nil refuses every one.
	CallbackURL func(url string) error
}

func (o *Options) fill() error {
	if o.Store == nil || o.Pool == nil {
		return errors.New("session: Store and Pool are required")
	}
	if o.Replica == "" {
		host, _ := os.Hostname()
		o.Replica = fmt.Sprintf("%s-%s", host, randomID()[:6])
	}
	if o.Policy.RingTime == 0 {
		o.Policy = DefaultPolicy()
	}
	if err := o.Policy.Validate(); err != nil {
		return fmt.Errorf("retry policy: %w", err)
	}
	if o.CalleeDial == "" {
		o.CalleeDial = "user/{number}"
	}
	if o.CallerDial == "" {
		o.CallerDial = o.CalleeDial
	}
	if o.Prompts == (Prompts{}) {
		o.Prompts = DefaultPrompts()
	}
	if o.Prompts.Confirm == "" {
		// Options written before confirmation mode name no prompt for it:
		// a request may still switch it on.
		o.Prompts.Confirm = DefaultPrompts().Confirm
	}
	if o.CallerBusy == (CallerBusy{}) {
		o.CallerBusy = DefaultCallerBusy()
	}
	o.CallerBusy.fill()
	if err := o.CallerBusy.Validate(); err != nil {
		return err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = o.Store.Now
	}
	setDefault(&o.LegGrace, 5*time.Second)
	setDefault(&o.PromptTimeout, 15*time.Second)
	setDefault(&o.ParkTimeout, 10*time.Second)
	setDefault(&o.PollInterval, 50*time.Millisecond)
	setDefault(&o.LeaseTTL, 10*time.Second)
	setDefault(&o.OrphanGrace, time.Minute)
	setDefault(&o.ReconcileInterval, o.LeaseTTL)
	if o.Workers <= 0 {
		o.Workers = 48
	}
	if o.ClaimBatch <= 0 {
		o.ClaimBatch = 256
	}
	return nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// Engine steers background-call sessions. Create it with New, start it with
// Run; its request methods may be called before Run.
type Engine struct {
	opt     Options
	log     *slog.Logger
	now     func() time.Time
	workers []*worker
	legs    legIndex
	closer  *closer
	orphans *sweeper
	fence   *leaseFence
	steered steered
	// sendingHold is sendingHold; a test shortens it.
	sendingHold time.Duration
	// marks counts the originates' marks being taken away (sending.release).
	marks sync.WaitGroup
	// claims and leaseRounds count the scheduler's claims and the lease
	// loop's rounds done, so a test can wait for the engine to have looked
	// instead of sleeping.
	claims, leaseRounds atomic.Int64
	senders             *senders
	wake                chan struct{} // a session became due now: claim without waiting
	stopped             chan struct{} // closed when Run returns: nothing routes any more
	released            chan struct{} // a session stopped being steered here; see Released

	mu       sync.Mutex
	draining bool
}

// New checks opts and builds an Engine.
func New(opts Options) (*Engine, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	e := &Engine{
		opt:     opts,
		log:     opts.Logger.With("replica", opts.Replica),
		now:     opts.Clock,
		legs:    legIndex{m: make(map[string]string)},
		steered: steered{ids: make(map[string]struct{})},
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	e.released = make(chan struct{}, 1)
	e.senders = newSenders(opts.Pool.Nodes(), e.stopped)
	e.closer = newCloser(e)
	e.fence = newLeaseFence(opts.LeaseTTL)
	e.sendingHold = sendingHold
	e.orphans = newSweeper(e)
	for i := 0; i < opts.Workers; i++ {
		e.workers = append(e.workers, newWorker(e))
	}
	if opts.Metrics != nil {
		opts.Metrics.SetLiveFunc(e.liveCounts)
	}
	return e, nil
}

// Replica returns the identity this engine claims sessions under.
func (e *Engine) Replica() string { return e.opt.Replica }

// Run steers sessions until ctx is done: it claims due sessions, follows
// FreeSWITCH's events, renews this replica's lease and takes over the
// sessions of replicas whose lease ran out. It returns when every goroutine
// it started has stopped.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := e.renew(ctx); err != nil {
		return fmt.Errorf("register replica %s: %w", e.opt.Replica, err)
	}
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	for _, w := range e.workers {
		run(w.run)
	}
	// Sessions this replica id owned before a restart resume first.
	if err := e.adoptOwned(ctx); err != nil {
		e.log.Error("load owned sessions", "err", err)
	}
	run(e.dispatch)
	run(e.schedule)
	run(e.lease)
	run(e.takeOver)
	run(e.senders.run)
	run(e.closer.run)
	run(e.orphans.run)
	run(e.reconcile)
	<-ctx.Done()
	close(e.stopped) // timers firing from now on must not wait for a worker
	wg.Wait()
	e.marks.Wait()
	return nil
}

// adoptOwned hands every session this replica owns to its worker, which
// ignores those it steers already.
func (e *Engine) adoptOwned(ctx context.Context) error {
	owned, err := e.opt.Store.Owned(ctx, e.opt.Replica)
	if err != nil {
		return err
	}
	for _, s := range owned {
		e.route(s.ID, job{kind: jobAdopt, sess: s})
	}
	return nil
}

// Drain stops claiming new attempts and taking over the sessions of lost
// replicas; sessions already live here go on.
func (e *Engine) Drain() {
	e.mu.Lock()
	e.draining = true
	e.mu.Unlock()
}

func (e *Engine) isDraining() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.draining
}

// Released receives after sessions stop being steered by this replica
// (several may make one receive): a drain reads Live again on each instead
// of polling it.
func (e *Engine) Released() <-chan struct{} { return e.released }

// Live reports how many sessions this replica steers right now.
func (e *Engine) Live() int {
	n := 0
	for _, w := range e.workers {
		n += int(w.count.Load())
	}
	return n
}

// Create validates r and stores a new waiting session, or returns the live
// session A already has for B (created false). Bad input changes nothing.
func (e *Engine) Create(ctx context.Context, r Request) (store.Session, bool, error) {
	if err := r.Validate(); err != nil {
		return store.Session{}, false, err
	}
	if err := e.checkCallbackURL(r.CallbackURL); err != nil {
		return store.Session{}, false, err
	}
	if err := e.refuseOptedOut(ctx, r); err != nil {
		return store.Session{}, false, err
	}
	policyJSON := ""
	if r.Policy != nil {
		b, err := json.Marshal(r.Policy)
		if err != nil {
			return store.Session{}, false, fmt.Errorf("encode policy: %w", err)
		}
		policyJSON = string(b)
	}
	p := r.Policy.apply(e.opt.Policy)
	now := e.now()
	// max_total counts from the first attempt quiet hours allow, not from
	// the request: one made at night must not expire before the morning.
	first := p.First(now)
	s := store.Session{
		ID: newID(now), Caller: r.Caller, Callee: r.Callee, Source: r.Source,
		IdempotencyKey: r.IdempotencyKey, State: store.Waiting, Policy: policyJSON, CallbackURL: r.CallbackURL,
		CreatedAt: now, UpdatedAt: now, DueAt: first, DeadlineAt: first.Add(p.MaxTotal),
	}
	entry := store.CreatedEntry(now, r.Source)
	if !s.DueAt.Equal(now) {
		entry.Note += "; quiet hours: first attempt at " + s.DueAt.Format(time.RFC3339)
	}
	got, created, err := e.opt.Store.Create(ctx, s, entry, e.opt.Limits, now)
	switch {
	case errors.Is(err, store.ErrLimitCaller):
		e.opt.Metrics.SessionRefused(r.Source, "limit")
		return store.Session{}, false, fmt.Errorf("%w: caller %s has %d live sessions", ErrLimit, r.Caller, e.opt.Limits.PerCaller)
	case errors.Is(err, store.ErrLimitCallee):
		e.opt.Metrics.SessionRefused(r.Source, "limit")
		return store.Session{}, false, fmt.Errorf("%w: callee %s has %d live sessions", ErrLimit, r.Callee, e.opt.Limits.PerCallee)
	case err != nil:
		e.opt.Metrics.RedisError("create")
		return store.Session{}, false, err // the store's error names the session and the step
	}
	if created {
		e.opt.Metrics.SessionCreated(r.Source)
		e.log.Info("session created", "session", got.ID, "caller", got.Caller, "callee", got.Callee, "source", got.Source, "due", got.DueAt)
		e.observe(got, []store.Entry{entry})
		if err := e.cancelIfOptedOut(ctx, got); err != nil {
			return store.Session{}, false, err
		}
		if !got.DueAt.After(now) {
			select {
			case e.wake <- struct{}{}:
			default:
			}
		}
	}
	return got, created, nil
}

// Get returns a session and its timeline.
func (e *Engine) Get(ctx context.Context, id string) (store.Session, []store.Entry, error) {
	s, err := e.opt.Store.Get(ctx, id)
	if err != nil {
		return store.Session{}, nil, err
	}
	tl, err := e.opt.Store.Timeline(ctx, id)
	if err != nil {
		return store.Session{}, nil, err
	}
	return s, tl, nil
}

// List returns sessions matching f, newest first, and the cursor of the
// next page ("" on the last).
func (e *Engine) List(ctx context.Context, f store.Filter) ([]store.Session, string, error) {
	return e.opt.Store.List(ctx, f)
}

// Watch streams every change to every session until stop is called.
func (e *Engine) Watch(ctx context.Context) (<-chan store.Change, func()) {
	return e.opt.Store.Subscribe(ctx)
}

// DryRun returns the exact commands bgcall would send to FreeSWITCH for r's
// first callee attempt and for the caller leg, for pasting into fs_cli.
// The leg UUIDs are fresh; nothing is stored or sent.
func (e *Engine) DryRun(r Request) ([]string, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	p := r.Policy.apply(e.opt.Policy)
	s := store.Session{ID: newID(e.now()), Caller: r.Caller, Callee: r.Callee}
	callee, err := e.originateCallee(s, p, uuid.New())
	if err != nil {
		return nil, err
	}
	caller, err := e.originateCaller(s, p, uuid.New())
	if err != nil {
		return nil, err
	}
	return []string{"bgapi " + callee, "bgapi " + caller}, nil
}

// policyOf returns the effective policy of s.
func (e *Engine) policyOf(s store.Session) Policy {
	if s.Policy == "" {
		return e.opt.Policy
	}
	var o PolicyOverrides
	if err := json.Unmarshal([]byte(s.Policy), &o); err != nil {
		e.log.Warn("unreadable policy overrides; using defaults", "session", s.ID, "err", err)
		return e.opt.Policy
	}
	return o.apply(e.opt.Policy)
}

// QuietHours returns the quiet hours that apply to s: the operator's, in
// the callee's time zone when the session names one.
func (e *Engine) QuietHours(s store.Session) QuietHours { return e.policyOf(s).Quiet }

// RingWarning says when s rings B long enough for B's voicemail to
// answer, B not being asked to confirm (Policy.RingWarning); "" otherwise.
func (e *Engine) RingWarning(s store.Session) string { return e.policyOf(s).RingWarning() }

// DefaultQuietHours returns the operator's quiet hours.
func (e *Engine) DefaultQuietHours() QuietHours { return e.opt.Policy.Quiet }

func (e *Engine) liveCounts() map[string]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := e.opt.Store.LiveCounts(ctx)
	if err != nil {
		e.opt.Metrics.RedisError("live_counts")
		return nil
	}
	out := make(map[string]int64, len(c))
	for k, v := range c {
		out[string(k)] = v
	}
	return out
}

// route hands j to the worker that owns session id.
func (e *Engine) route(id string, j job) {
	h := fnv.New32a()
	h.Write([]byte(id))
	j.id = id
	select {
	case e.workers[h.Sum32()%uint32(len(e.workers))].inbox <- j:
	case <-e.stopped:
	}
}

// legIndex maps the UUIDs of legs this replica steers to their session.
type legIndex struct {
	mu sync.Mutex
	m  map[string]string
}

func (l *legIndex) add(uuid, id string) {
	if uuid == "" {
		return
	}
	l.mu.Lock()
	l.m[uuid] = id
	l.mu.Unlock()
}

func (l *legIndex) remove(uuid string) {
	l.mu.Lock()
	delete(l.m, uuid)
	l.mu.Unlock()
}

func (l *legIndex) get(uuid string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.m[uuid]
	return id, ok
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID returns a 20-character session id that sorts by creation time:
// 48 bits of milliseconds, then 48 random bits.
func newID(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	rand.Read(b[6:])
	return idEncoding.EncodeToString(b[:])
}

func randomID() string {
	var b [10]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}
