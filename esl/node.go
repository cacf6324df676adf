package esl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"bgcall/freeswitch"
	"bgcall/internal/uuid"
)

// node keeps one FreeSWITCH node connected and feeds its events, in order,
// into the pool's stream.
type node struct {
	cfg   Node
	opts  *Options
	pool  *Pool
	log   *slog.Logger
	queue *eventQueue
	jobs  jobTable
	picks pickCount // Pool.Pick's recent choices of this node
	// paused: Pick leaves the node out (maintenance); commands for legs
	// already on it still go.
	paused atomic.Bool

	gen  atomic.Uint64
	cmds []*cmdSlot // command connections (see command.go)
	turn atomic.Uint64

	mu            sync.Mutex
	cur           *conn // the connection commands use; nil while down or resyncing
	ready         bool  // subscribed and resynced
	coreUUID      string
	lastHeartbeat time.Time
	reconnects    uint64
	lastErr       string
	everUp        bool
	channels      map[string]chanState // channels seen and not destroyed: bounded by live channels
	regressions   uint64
}

type chanState struct {
	gen, seq uint64
}

func newNode(cfg Node, opts *Options, p *Pool) *node {
	n := &node{
		cfg:      cfg,
		opts:     opts,
		pool:     p,
		log:      opts.Logger.With("node", cfg.Name),
		queue:    newEventQueue(opts.EventBuffer),
		jobs:     jobTable{waiters: make(map[string]chan Event)},
		channels: make(map[string]chanState),
	}
	for range max(opts.CommandConns, 0) {
		n.cmds = append(n.cmds, &cmdSlot{})
	}
	return n
}

// run connects, supervises and reconnects until ctx is done.
func (n *node) run(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		c, err := n.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.setErr(err)
			level := slog.LevelWarn
			if errors.Is(err, ErrAuth) {
				level = slog.LevelError
			}
			n.log.Log(ctx, level, "esl: connect failed", "addr", n.cfg.Addr, "err", err)
			if !sleep(ctx, backoff(n.opts.BackoffMin, n.opts.BackoffMax, failures)) {
				return
			}
			failures++
			continue
		}
		began := time.Now()
		n.supervise(ctx, c)
		n.down(c)
		// A connection that lived a while earns a quick reconnect; one that
		// failed at once counts as a failure, so a flapping node is not
		// redialled in a tight loop.
		if time.Since(began) > stableAfter {
			failures = 0
		}
		if !sleep(ctx, backoff(n.opts.BackoffMin, n.opts.BackoffMax, failures)) {
			return
		}
		failures++
	}
}

// stableAfter is how long a connection must live for the backoff to reset.
const stableAfter = 10 * time.Second

// connect dials, subscribes and resyncs; on success the node is up.
func (n *node) connect(ctx context.Context) (*conn, error) {
	gen := n.gen.Add(1)
	c, err := n.dial(ctx, gen, true)
	if err != nil {
		n.queue.closeGen(gen)
		return nil, err
	}
	if err := c.subscribe(ctx); err != nil {
		c.close(err)
		n.queue.closeGen(gen)
		return nil, err
	}
	if err := n.resync(ctx, c); err != nil {
		c.close(err)
		n.queue.closeGen(gen)
		return nil, fmt.Errorf("resync: %w", err)
	}
	n.mu.Lock()
	n.cur, n.ready = c, true
	n.lastErr = ""
	reconnected := n.everUp
	if reconnected {
		n.reconnects++
	}
	n.everUp = true
	core := n.coreUUID
	n.mu.Unlock()
	n.synthesize(gen, Event{Name: EventNodeUp, CoreUUID: core})
	if o := n.opts.Observer; o != nil {
		o.Connected(n.cfg.Name, true)
		if reconnected {
			o.Reconnected(n.cfg.Name)
		}
	}
	n.log.Info("esl: node up", "addr", n.cfg.Addr, "core_uuid", core, "reconnected", reconnected)
	n.pool.changed()
	return c, nil
}

// supervise returns when the connection has failed or ctx is done.
// eslgo's failures reach the connection through the relay and the command
// worker; this loop adds the two checks that need a clock: silence, and a
// ping ("api status") whenever nothing has been received for PingInterval,
// so that a node that stopped answering is caught by the command timeout.
func (n *node) supervise(ctx context.Context, c *conn) {
	tick := time.NewTicker(min(n.opts.PingInterval, n.opts.SilenceTimeout) / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			c.close(ctx.Err())
			return
		case <-c.dead:
			c.close(nil)
			return
		case now := <-tick.C:
			quiet := now.Sub(time.Unix(0, c.lastActivity.Load()))
			if quiet > n.opts.SilenceTimeout {
				c.fail(fmt.Errorf("nothing received for %v (no HEARTBEAT, event or reply)", quiet.Round(time.Millisecond)))
				continue
			}
			if quiet < n.opts.PingInterval {
				continue // replies or events arrive: the connection is alive
			}
			// The worker fails the connection if the reply does not come
			// within CommandTimeout; the ping itself only needs to be sent.
			pctx, cancel := context.WithTimeout(ctx, n.opts.CommandTimeout)
			_, err := c.do(pctx, "api", "api status")
			cancel()
			if err != nil && ctx.Err() == nil {
				n.log.Debug("esl: ping failed", "err", err)
			}
		}
	}
}

// down handles a failed connection: NODE_DOWN is queued after every event
// the connection relayed, and the connection's generation is closed.
func (n *node) down(c *conn) {
	err := c.failed()
	n.mu.Lock()
	wasUp := n.cur == c
	if wasUp {
		n.cur, n.ready = nil, false
	}
	if err != nil {
		n.lastErr = err.Error()
	}
	n.mu.Unlock()
	if wasUp {
		n.synthesize(c.gen, Event{Name: EventNodeDown, CoreUUID: n.core()})
	}
	n.queue.closeGen(c.gen)
	if !wasUp {
		return
	}
	if o := n.opts.Observer; o != nil {
		o.Connected(n.cfg.Name, false)
	}
	if errors.Is(err, context.Canceled) {
		n.log.Info("esl: node closed", "addr", n.cfg.Addr)
	} else {
		n.log.Warn("esl: node down", "addr", n.cfg.Addr, "err", err)
	}
	n.pool.changed()
}

// resync runs on a fresh connection after subscribing, so no change is
// missed between the check and the live stream. It learns the Core-UUID and
// reports every channel tracked before the loss that no longer exists.
func (n *node) resync(ctx context.Context, c *conn) error {
	core, err := n.probeCore(ctx, c)
	if err != nil {
		return err
	}
	n.mu.Lock()
	prev := n.coreUUID
	n.coreUUID = core
	var tracked []string
	for id, st := range n.channels {
		if st.gen < c.gen {
			tracked = append(tracked, id)
		}
	}
	n.mu.Unlock()

	restarted := prev != "" && core != prev
	if restarted {
		n.log.Warn("esl: node restarted (Core-UUID changed): every tracked channel is gone", "old", prev, "new", core, "channels", len(tracked))
	}
	for _, id := range tracked {
		if !restarted {
			cmd, err := freeswitch.UUIDExists(id)
			if err != nil {
				n.gone(c.gen, id) // cannot be a channel FreeSWITCH has
				continue
			}
			v, err := n.command(ctx, c, "api", "api "+cmd)
			if err != nil {
				return fmt.Errorf("uuid_exists: %w", err)
			}
			if v == "true" {
				continue
			}
		}
		n.gone(c.gen, id)
	}
	return n.seed(ctx, c)
}

// probeCore learns the node's Core-UUID from the BACKGROUND_JOB of a
// "bgapi status": every event carries it, and the round trip also proves that
// events flow on the new connection before the node is declared up.
func (n *node) probeCore(ctx context.Context, c *conn) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, n.opts.CommandTimeout)
	defer cancel()
	id := uuid.New()
	ch := n.jobs.add(id)
	defer n.jobs.remove(id)
	if _, err := n.command(ctx, c, "bgapi", "bgapi status\nJob-UUID: "+id); err != nil {
		return "", fmt.Errorf("core uuid: %w", err)
	}
	select {
	case ev := <-ch:
		if ev.CoreUUID == "" {
			return "", errors.New("core uuid: BACKGROUND_JOB without Core-UUID")
		}
		return ev.CoreUUID, nil
	case <-c.dead:
		return "", fmt.Errorf("core uuid: %w", ErrConnectionLost)
	case <-ctx.Done():
		return "", fmt.Errorf("core uuid: no BACKGROUND_JOB for \"bgapi status\" within %v: events do not flow", n.opts.CommandTimeout)
	}
}

// seed adds the channels FreeSWITCH lists that are not tracked yet (e.g. after
// bgcall restarts), so that the live-channel count is right from the start.
// "show channels" can lag by about a second; a channel destroyed meanwhile is
// removed by the next resync.
func (n *node) seed(ctx context.Context, c *conn) error {
	body, err := n.command(ctx, c, "api", "api show channels as json")
	if err != nil {
		var fe *freeswitch.Error
		if errors.As(err, &fe) {
			return nil // not fatal: tracking still fills from events
		}
		return fmt.Errorf("show channels: %w", err)
	}
	var list struct {
		Rows []struct {
			UUID string `json:"uuid"`
		} `json:"rows"`
	}
	if json.Unmarshal([]byte(body), &list) != nil {
		return nil
	}
	n.mu.Lock()
	for _, r := range list.Rows {
		if _, ok := n.channels[r.UUID]; !ok && freeswitch.ValidUUID(r.UUID) == nil {
			n.channels[r.UUID] = chanState{gen: c.gen}
		}
	}
	n.mu.Unlock()
	return nil
}

// gone reports a tracked channel as gone unless an event of the new
// connection has shown it alive meanwhile.
func (n *node) gone(gen uint64, id string) {
	n.mu.Lock()
	st, ok := n.channels[id]
	if ok && st.gen < gen {
		delete(n.channels, id)
	}
	n.mu.Unlock()
	if ok && st.gen < gen {
		n.synthesize(gen, Event{Name: EventChannelGone, UniqueID: id, CoreUUID: n.core()})
	}
}

// received takes an event the relay of connection c read, in wire order.
// Job results a BGAPIWait caller waits for go to it; the rest are queued for
// release. False means the queue stayed full: the consumer of Events is too
// slow, and c must fail.
func (n *node) received(c *conn, ev Event) bool {
	switch ev.Name {
	case freeswitch.EventHeartbeat:
		n.mu.Lock()
		n.lastHeartbeat = time.Now()
		n.mu.Unlock()
	case freeswitch.EventBackgroundJob:
		if n.jobs.deliver(ev) {
			return true
		}
	}
	return n.queue.push(c.gen, ev, n.opts.CommandTimeout, c.dead)
}

// release delivers events in order until ctx is done.
func (n *node) release(ctx context.Context) {
	for {
		ev, gen, ok := n.queue.next()
		if !ok {
			select {
			case <-n.queue.notify:
				continue
			case <-ctx.Done():
				return
			}
		}
		if !strings.HasPrefix(ev.Name, "BGCALL::") {
			n.track(gen, &ev)
		}
		select {
		case n.pool.events <- ev:
		case <-ctx.Done():
			return
		}
	}
}

// track keeps the set of live channels (gen is the event's connection).
func (n *node) track(gen uint64, ev *Event) {
	if ev.UniqueID == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	st, ok := n.channels[ev.UniqueID]
	if ok && st.gen == gen && ev.Sequence < st.seq {
		// FreeSWITCH itself delivered this channel's events out of
		// creation order; counted for diagnosis, delivered as sent.
		n.regressions++
	}
	switch {
	case ev.Name == freeswitch.EventChannelDestroy:
		delete(n.channels, ev.UniqueID)
	case ok:
		if gen > st.gen || gen == st.gen && ev.Sequence > st.seq {
			n.channels[ev.UniqueID] = chanState{gen: gen, seq: ev.Sequence}
		}
	case strings.HasPrefix(ev.Name, "CHANNEL_"):
		n.channels[ev.UniqueID] = chanState{gen: gen, seq: ev.Sequence}
	}
}

// command runs an api or bgapi line on c and parses the result.
func (n *node) command(ctx context.Context, c *conn, kind, line string) (string, error) {
	start := time.Now()
	raw, err := c.do(ctx, kind, line)
	var v string
	if err == nil {
		v, err = freeswitch.ParseResult(raw.GetReply())
	}
	if o := n.opts.Observer; o != nil && (kind == "api" || kind == "bgapi") {
		o.CommandDone(n.cfg.Name, kind, time.Since(start), err)
	}
	if err != nil {
		n.log.Debug("esl: command failed", "command", line, "err", err)
	}
	return v, err
}

// conn returns the connection commands may use now.
func (n *node) conn() (*conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cur == nil || !n.ready {
		if n.lastErr != "" {
			return nil, fmt.Errorf("%w: %s: %s", ErrNotConnected, n.cfg.Name, n.lastErr)
		}
		return nil, fmt.Errorf("%w: %s", ErrNotConnected, n.cfg.Name)
	}
	return n.cur, nil
}

func (n *node) core() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.coreUUID
}

func (n *node) setErr(err error) {
	n.mu.Lock()
	n.lastErr = err.Error()
	n.mu.Unlock()
}

func (n *node) health() NodeHealth {
	held := n.queue.held()
	n.mu.Lock()
	defer n.mu.Unlock()
	return NodeHealth{
		Name:             n.cfg.Name,
		Addr:             n.cfg.Addr,
		Connected:        n.cur != nil && n.ready,
		CommandConns:     n.liveCommandConns(),
		LastHeartbeat:    n.lastHeartbeat,
		CoreUUID:         n.coreUUID,
		Channels:         len(n.channels),
		Reconnects:       n.reconnects,
		LastError:        n.lastErr,
		BufferedEvents:   held,
		OrderRegressions: n.regressions,
		PendingJobs:      n.jobs.len(),
		Paused:           n.paused.Load(),
	}
}

// jobTable routes BACKGROUND_JOB results to callers of BGAPIWait. Entries
// live only while their caller waits.
type jobTable struct {
	mu      sync.Mutex
	waiters map[string]chan Event
}

func (t *jobTable) add(id string) chan Event {
	ch := make(chan Event, 1)
	t.mu.Lock()
	t.waiters[id] = ch
	t.mu.Unlock()
	return ch
}

func (t *jobTable) remove(id string) {
	t.mu.Lock()
	delete(t.waiters, id)
	t.mu.Unlock()
}

func (t *jobTable) deliver(ev Event) bool {
	t.mu.Lock()
	ch, ok := t.waiters[ev.JobUUID]
	if ok {
		delete(t.waiters, ev.JobUUID)
	}
	t.mu.Unlock()
	if ok {
		ch <- ev
	}
	return ok
}

func (t *jobTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.waiters)
}

// backoff is capped exponential with equal jitter: half the delay is fixed,
// half random, so nodes restarted together are not redialled in lockstep.
func backoff(lo, hi time.Duration, failures int) time.Duration {
	d := lo
	for i := 0; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

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

// synthesize queues an event this package makes up, as connection gen's,
// stamped with this node and the time it was made, which stands for both
// FreeSWITCH's time and the time received.
func (n *node) synthesize(gen uint64, ev Event) {
	ev.Node = n.cfg.Name
	ev.Time = time.Now()
	ev.Received = ev.Time
	n.queue.synthetic(gen, ev)
}
