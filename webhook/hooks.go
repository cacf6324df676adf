package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"bgcall/metrics"
	"bgcall/store"
)

// Outbox is where events wait for delivery; *store.Store is one.
type Outbox interface {
	OutboxAdd(ctx context.Context, maxLen int64, events ...string) error
	OutboxRead(ctx context.Context, consumer string, count int, block time.Duration, pending bool) ([]store.OutboxEvent, error)
	OutboxClaim(ctx context.Context, consumer string, minIdle time.Duration, count int) ([]store.OutboxEvent, error)
	OutboxTouch(ctx context.Context, consumer string, ids ...string) error
	OutboxDone(ctx context.Context, ids ...string) error
	OutboxBacklog(ctx context.Context) (int64, error)
}

// Options configure Hooks. Outbox, Replica and Secret are required.
type Options struct {
	Outbox  Outbox
	Replica string // this replica's name among the outbox's consumers
	// URL receives every session's events; "" sends only to the sessions'
	// own callback URLs (store.Session.CallbackURL).
	URL string
	// RequestURL checks a session's own callback URL as the configuration
	// stands now (config.Webhooks.RequestURLCheck): one a request was
	// allowed to name may not be any more. Nil allows none.
	RequestURL func(url string) error

	Secret string // keys the signature
	// Timeout bounds one try; default 5s.
	Timeout time.Duration
	// Backoff spaces the retries; zero: DefaultBackoff.
	Backoff Backoff
	// MaxAttempts bounds the tries of one event by one replica (default
	// 10); after the last, the event is given up and counted failed.
	MaxAttempts int
	// Workers deliver in parallel, one event per session and URL at a time
	// (default 4).
	Workers int
	// InFlight bounds the events a replica holds at once (default 1000).
	InFlight int
	// ClaimIdle is how long an event another replica read may go untouched
	// before this one takes it over (default 1m). A replica touches the
	// events it holds every ClaimIdle/4.
	ClaimIdle time.Duration
	// MaxBacklog bounds the outbox (default 100000): past it the oldest
	// events are dropped, so that an endpoint down for days cannot fill
	// Redis.
	MaxBacklog int64
	// Queue bounds the events waiting to be written to the outbox (default
	// 10000); past it an event is dropped and counted failed, as the
	// engine must never wait for the outbox.
	Queue   int
	Client  *http.Client // default: no redirects followed
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Clock   func() time.Time // the signature's timestamp; default time.Now
}

func (o *Options) fill() error {
	if o.Outbox == nil || o.Replica == "" {
		return errors.New("webhook: Outbox and Replica are required")
	}
	if o.Secret == "" {
		return errors.New("webhook: a secret is required to sign the events")
	}
	setDefault(&o.Timeout, 5*time.Second)
	if o.Backoff == (Backoff{}) {
		o.Backoff = DefaultBackoff()
	}
	setDefault(&o.MaxAttempts, 10)
	setDefault(&o.Workers, 4)
	setDefault(&o.InFlight, 1000)
	setDefault(&o.ClaimIdle, time.Minute)
	setDefault(&o.MaxBacklog, 100000)
	setDefault(&o.Queue, 10000)
	if o.Client == nil {
		// A redirect is not followed: it would turn the POST into a GET,
		// and could lead out of the URLs the operator allowed.
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return nil
}

func setDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Hooks queues the events of sessions' transitions and delivers them. Its
// goroutines belong to Run.
type Hooks struct {
	opt   Options
	queue chan string // encoded records not yet in the outbox
	ready chan string // lines whose head may be tried now; room for every line, so never waited on

	// rounds counts the claim loop's rounds done, so that a test can wait
	// for a replica to have looked instead of sleeping.
	rounds atomic.Int64

	mu     sync.Mutex
	held   map[string]*held // outbox id -> event this replica holds
	lines  map[string]*line // session and URL -> its held events, in order
	room   chan struct{}    // signalled when held shrinks
	timers map[*line]*time.Timer
	// trying counts the tries in flight per URL, and waiting holds the
	// ready lines of a URL at its share of the workers (see work).
	trying  map[string]int
	waiting map[string][]string
}

// held is one outbox event this replica is delivering.
type held struct {
	id    string
	rec   record
	tries int
}

// line is the held events of one session to one URL: tried one at a time,
// in outbox order, so that an endpoint sees a session's events in order.
type line struct {
	key    string
	events []*held
}

// New checks opts.
func New(opts Options) (*Hooks, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	return &Hooks{
		opt:   opts,
		queue: make(chan string, opts.Queue),
		// Read and claim may each fill the room they saw: at most twice
		// InFlight lines, each in ready at most once.
		ready:   make(chan string, 2*opts.InFlight),
		held:    make(map[string]*held),
		lines:   make(map[string]*line),
		room:    make(chan struct{}, 1),
		timers:  make(map[*line]*time.Timer),
		trying:  make(map[string]int),
		waiting: make(map[string][]string),
	}, nil
}

// Observe queues the events of a stored transition of s that wrote entries
// (session.Options.Transitions). It never waits: the encoding is all it
// does on the caller's goroutine.
func (h *Hooks) Observe(s store.Session, entries []store.Entry) {
	var urls []string
	if h.opt.URL != "" {
		urls = append(urls, h.opt.URL)
	}
	if s.CallbackURL != "" && s.CallbackURL != h.opt.URL {
		if err := h.requestURLAllowed(s.CallbackURL); err != nil {
			h.opt.Logger.Warn("webhook not sent to the session's callback URL: the configuration no longer allows it",
				"session", s.ID, "url", s.CallbackURL, "err", err)
		} else {
			urls = append(urls, s.CallbackURL)
		}
	}
	if len(urls) == 0 {
		return
	}
	events := Events(s, entries)
	recs, err := encodeRecords(events, urls)
	if err != nil {
		h.opt.Logger.Error("webhook event not queued", "session", s.ID, "err", err)
		return
	}
	for i, r := range recs {
		select {
		case h.queue <- r:
		default:
			h.opt.Metrics.WebhookDelivery("failed", 0)
			h.opt.Logger.Error("webhook queue full (the outbox in Redis is not keeping up); event dropped",
				"session", s.ID, "event", events[i/len(urls)].Type)
		}
	}
}

func (h *Hooks) requestURLAllowed(u string) error {
	if h.opt.RequestURL == nil {
		return errors.New("webhooks.allow_request_url is off")
	}
	return h.opt.RequestURL(u)
}

// Run writes queued events to the outbox and delivers this replica's share
// of it until ctx is done. Events still queued then are written with a
// short grace, so that another replica delivers them.
func (h *Hooks) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(h.write)
	run(h.read)
	run(h.claim)
	for range h.opt.Workers {
		run(h.work)
	}
	wg.Wait()
	h.mu.Lock()
	for l, t := range h.timers {
		t.Stop()
		delete(h.timers, l)
	}
	h.mu.Unlock()
	return nil
}

// write moves queued events to the outbox, in batches.
func (h *Hooks) write(ctx context.Context) {
	const batch = 128
	var recs []string
	failures := 0
	for {
		if len(recs) == 0 {
			select {
			case r := <-h.queue:
				recs = append(recs, r)
			case <-ctx.Done():
				h.flush()
				return
			}
		}
	more:
		for len(recs) < batch {
			select {
			case r := <-h.queue:
				recs = append(recs, r)
			default:
				break more
			}
		}
		if err := h.opt.Outbox.OutboxAdd(ctx, h.opt.MaxBacklog, recs...); err != nil {
			if ctx.Err() != nil {
				h.flush(recs...)
				return
			}
			failures++
			h.opt.Metrics.RedisError("outbox")
			h.opt.Logger.Error("webhook events not written to the outbox; trying again", "events", len(recs), "err", err)
			if !sleep(ctx, h.opt.Backoff.Delay(failures, nil)) {
				h.flush(recs...)
				return
			}
			continue
		}
		failures = 0
		recs = recs[:0]
	}
}

// flush writes recs and whatever is still queued, once, with a grace of
// its own: the daemon is stopping.
func (h *Hooks) flush(recs ...string) {
	for {
		select {
		case r := <-h.queue:
			recs = append(recs, r)
			continue
		default:
		}
		break
	}
	if len(recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.opt.Outbox.OutboxAdd(ctx, h.opt.MaxBacklog, recs...); err != nil {
		h.opt.Logger.Error("webhook events lost while stopping: not written to the outbox", "events", len(recs), "err", err)
		for range recs {
			h.opt.Metrics.WebhookDelivery("failed", 0)
		}
	}
}

// read takes new events from the outbox while this replica has room for
// them, first those it held before a restart under the same name.
func (h *Hooks) read(ctx context.Context) {
	pending := true
	failures := 0
	for ctx.Err() == nil {
		n := h.space()
		if n == 0 {
			select {
			case <-h.room:
				continue
			case <-ctx.Done():
				return
			}
		}
		count := min(n, 100)
		if pending {
			// Once: those left beyond it are claimed back once idle.
			count = n
		}
		evs, err := h.opt.Outbox.OutboxRead(ctx, h.opt.Replica, count, time.Second, pending)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			h.opt.Metrics.RedisError("outbox")
			h.opt.Logger.Warn("reading the webhook outbox; trying again", "err", err)
			if !sleep(ctx, h.opt.Backoff.Delay(failures, nil)) {
				return
			}
			continue
		}
		failures, pending = 0, false
		h.hold(ctx, evs)
	}
}

// claim keeps the events this replica holds from looking abandoned, takes
// over those another replica abandoned, and reports the backlog.
func (h *Hooks) claim(ctx context.Context) {
	t := time.NewTicker(max(h.opt.ClaimIdle/4, time.Millisecond))
	defer t.Stop()
	for {
		h.claimOnce(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (h *Hooks) claimOnce(ctx context.Context) {
	h.mu.Lock()
	ids := make([]string, 0, len(h.held))
	for id := range h.held {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	if err := h.opt.Outbox.OutboxTouch(ctx, h.opt.Replica, ids...); err != nil && ctx.Err() == nil {
		h.opt.Metrics.RedisError("outbox")
		h.opt.Logger.Warn("webhook outbox: could not mark the events held here as in hand", "events", len(ids), "err", err)
	}
	if n := h.space(); n > 0 {
		evs, err := h.opt.Outbox.OutboxClaim(ctx, h.opt.Replica, h.opt.ClaimIdle, n)
		switch {
		case err != nil && ctx.Err() == nil:
			h.opt.Metrics.RedisError("outbox")
			h.opt.Logger.Warn("webhook outbox: claiming abandoned events", "err", err)
		case len(evs) > 0:
			h.opt.Logger.Info("webhook events taken over from a replica that stopped delivering them", "events", len(evs))
			h.hold(ctx, evs)
		}
	}
	if n, err := h.opt.Outbox.OutboxBacklog(ctx); err == nil {
		h.opt.Metrics.WebhookBacklog(n)
	}
	h.rounds.Add(1)
}

// space is how many more events this replica may hold.
func (h *Hooks) space() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return max(0, h.opt.InFlight-len(h.held))
}

// hold takes evs in hand, each on its line; an event held already (read
// back after a claim) is not held twice, and one that is gone or cannot be
// decoded is removed.
func (h *Hooks) hold(ctx context.Context, evs []store.OutboxEvent) {
	var junk []string
	h.mu.Lock()
	for _, ev := range evs {
		if _, ok := h.held[ev.ID]; ok {
			continue
		}
		if ev.Data == "" {
			// Still pending, its content gone: the outbox dropped it as
			// the oldest past MaxBacklog while a replica held it.
			h.opt.Metrics.WebhookDelivery("failed", 0)
			h.opt.Logger.Warn("webhook event dropped before delivery: the outbox held more than webhooks.max_backlog events", "id", ev.ID)
			junk = append(junk, ev.ID)
			continue
		}
		rec, err := decodeRecord(ev.Data)
		if err != nil {
			h.opt.Logger.Error("webhook outbox event cannot be read; removed", "id", ev.ID, "err", err)
			junk = append(junk, ev.ID)
			continue
		}
		e := &held{id: ev.ID, rec: rec}
		h.held[ev.ID] = e
		key := rec.Line + " " + rec.URL
		l := h.lines[key]
		if l == nil {
			l = &line{key: key}
			h.lines[key] = l
		}
		l.events = insert(l.events, e)
		if len(l.events) == 1 {
			h.ready <- key // room for every line: never waits
		}
	}
	h.mu.Unlock()
	if len(junk) > 0 {
		if err := h.opt.Outbox.OutboxDone(ctx, junk...); err != nil {
			h.opt.Logger.Warn("webhook outbox: removing unreadable events", "err", err)
		}
	}
}

// insert adds e to a line's events in sequence order: the events of a
// transition stored just after a session's creation may reach the outbox
// before the creation's. The head, which may be being tried, stays.
func insert(events []*held, e *held) []*held {
	i := len(events)
	for i > 1 && events[i-1].rec.Seq > e.rec.Seq {
		i--
	}
	return slices.Insert(events, i, e)
}

// work tries the head of each ready line. One URL never takes every
// worker: a URL that hangs (a tenant's callback URL that is down) would
// otherwise hold them all for the timeout of each try, and every other
// URL's events would wait behind it. With more than one worker, at most
// all but one try the same URL at once; its other ready lines wait for one
// of its tries to end.
func (h *Hooks) work(ctx context.Context) {
	share := max(1, h.opt.Workers-1)
	for {
		select {
		case key := <-h.ready:
			h.mu.Lock()
			l := h.lines[key]
			e := l.events[0]
			url := e.rec.URL
			if h.trying[url] >= share {
				h.waiting[url] = append(h.waiting[url], key)
				h.mu.Unlock()
				continue
			}
			h.trying[url]++
			h.mu.Unlock()
			h.try(ctx, l, e)
			h.mu.Lock()
			if h.trying[url]--; h.trying[url] == 0 {
				delete(h.trying, url)
			}
			if w := h.waiting[url]; len(w) > 0 {
				h.ready <- w[0] // a line is in ready, waiting or a timer once: never waits
				if h.waiting[url] = w[1:]; len(h.waiting[url]) == 0 {
					delete(h.waiting, url)
				}
			}
			h.mu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}

// try sends e, the head of l, once, and decides what follows.
func (h *Hooks) try(ctx context.Context, l *line, e *held) {
	start := time.Now()
	err := h.send(ctx, e.rec)
	took := time.Since(start)
	if ctx.Err() != nil {
		return // stopping: the event stays in the outbox for whoever reads it next
	}
	e.tries++
	log := h.opt.Logger.With("session", e.rec.Line, "event", e.rec.Type, "id", e.rec.Key, "url", e.rec.URL, "tries", e.tries)
	switch {
	case err == nil:
		h.opt.Metrics.WebhookDelivery("ok", took)
		log.Debug("webhook delivered")
	case e.tries >= h.opt.MaxAttempts:
		h.opt.Metrics.WebhookDelivery("failed", took)
		log.Error("webhook given up", "err", err)
	default:
		h.opt.Metrics.WebhookDelivery("retry", took)
		wait := h.opt.Backoff.Delay(e.tries, nil)
		log.Warn("webhook failed; retrying", "in", wait, "err", err)
		h.mu.Lock()
		h.timers[l] = time.AfterFunc(wait, func() {
			h.mu.Lock()
			delete(h.timers, l)
			h.mu.Unlock()
			h.ready <- l.key
		})
		h.mu.Unlock()
		return
	}
	if err := h.opt.Outbox.OutboxDone(ctx, e.id); err != nil {
		// It stays pending here: claimed after a restart, it is sent again,
		// which the idempotency key lets the receiver ignore.
		h.opt.Metrics.RedisError("outbox")
		log.Warn("webhook outbox: could not remove a finished event", "err", err)
	}
	h.mu.Lock()
	delete(h.held, e.id)
	l.events = l.events[1:]
	if len(l.events) == 0 {
		delete(h.lines, l.key)
	} else {
		h.ready <- l.key
	}
	h.mu.Unlock()
	select {
	case h.room <- struct{}{}:
	default:
	}
}

// maxResponse is as much of a response body as is read, so that the
// connection can be reused.
const maxResponse = 64 << 10

// send POSTs rec once; a 2xx answer is success.
func (h *Hooks) send(ctx context.Context, rec record) error {
	ctx, cancel := context.WithTimeout(ctx, h.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.URL, bytes.NewReader(rec.Body))
	if err != nil {
		return err
	}
	ts := h.opt.Clock().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bgcall-webhook")
	req.Header.Set(HeaderEvent, string(rec.Type))
	req.Header.Set(HeaderIdempotency, rec.Key)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign([]byte(h.opt.Secret), ts, rec.Body))
	resp, err := h.opt.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("endpoint answered %s", resp.Status)
	}
	return nil
}

// sleep waits d or until ctx is done, reporting false then.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
