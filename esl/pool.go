package esl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"bgcall/freeswitch"
	"bgcall/internal/uuid"
)

// Pool keeps a set of FreeSWITCH nodes connected and merges their events.
type Pool struct {
	opts    Options
	nodes   []*node
	byName  map[string]*node
	events  chan Event
	running atomic.Bool
	pick    atomic.Uint64

	mu     sync.Mutex
	change chan struct{} // closed and replaced when a node goes up or down
}

// NodeHealth is one node's state, for metrics and readiness.
type NodeHealth struct {
	Name, Addr       string
	Connected        bool      // the event connection is up, subscribed and resynced
	CommandConns     int       // command connections up (see Options.CommandConns)
	LastHeartbeat    time.Time // last HEARTBEAT event received
	CoreUUID         string
	Channels         int    // live channels tracked
	Reconnects       uint64 // successful reconnections after the first connection
	LastError        string // why the node is or last went down
	BufferedEvents   int    // events read and not yet delivered to Events
	OrderRegressions uint64 // channel events FreeSWITCH sent with a lower Event-Sequence than the channel's previous one
	PendingJobs      int    // BGAPIWait calls waiting for their result
	Paused           bool   // Pick leaves the node out (SetPaused)
}

// NewPool checks the configuration; Run connects.
func NewPool(nodes []Node, opts Options) (*Pool, error) {
	if len(nodes) == 0 {
		return nil, errors.New("esl: no FreeSWITCH node configured: give at least one name, address and password")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{opts: o, byName: make(map[string]*node), events: make(chan Event, 1024), change: make(chan struct{})}
	for _, nc := range nodes {
		switch {
		case nc.Name == "":
			return nil, fmt.Errorf("esl: node at %q has no name: every node needs a unique name", nc.Addr)
		case nc.Addr == "":
			return nil, fmt.Errorf("esl: node %q has no address: set host:port of its event socket (usually :8021)", nc.Name)
		case p.byName[nc.Name] != nil:
			return nil, fmt.Errorf("esl: node name %q is used twice: names must be unique", nc.Name)
		}
		n := newNode(nc, &p.opts, p)
		p.nodes = append(p.nodes, n)
		p.byName[nc.Name] = n
	}
	return p, nil
}

// Run connects every node and keeps it connected until ctx is done. It then
// closes the connections, stops every goroutine it started and closes the
// Events channel. A Pool runs once.
func (p *Pool) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("esl: Pool.Run called twice")
	}
	var wg sync.WaitGroup
	for _, n := range p.nodes {
		wg.Add(2)
		go func() { defer wg.Done(); n.run(ctx) }()
		go func() { defer wg.Done(); n.release(ctx) }()
		for _, s := range n.cmds {
			wg.Add(1)
			go func() { defer wg.Done(); n.runCommandConn(ctx, s) }()
		}
	}
	wg.Wait()
	close(p.events)
	return nil
}

// Events is the one stream of events of every node, in FreeSWITCH's order per
// channel, with the synthetic EventNodeUp, EventNodeDown and EventChannelGone.
// It must be read continuously: a consumer that stops for long makes the
// nodes' buffers overflow, which is handled as a lost connection. It is closed
// when Run returns.
func (p *Pool) Events() <-chan Event { return p.events }

// API runs "api cmd" on a node and parses the result (see freeswitch.ParseResult).
// cmd is one line, e.g. from a freeswitch builder.
func (p *Pool) API(ctx context.Context, node, cmd string) (string, error) {
	n, c, err := p.target(node, cmd)
	if err != nil {
		return "", err
	}
	if cc := n.commandConn(); cc != nil {
		c = cc
	}
	v, err := n.command(ctx, c, "api", "api "+cmd)
	if err != nil {
		return "", fmt.Errorf("%s: api %s: %w", node, verb(cmd), err)
	}
	return v, nil
}

// BGAPI runs "bgapi cmd" with the caller's job UUID and returns after
// FreeSWITCH accepted it. The result arrives on Events as a BACKGROUND_JOB
// with JobUUID == jobUUID; BACKGROUND_JOB is subscribed before any command is
// sent, so it cannot be missed while the connection lives (if it fails, the
// node's EventNodeDown follows and the job's fate must be checked, e.g. with
// uuid_exists on the leg it created).
func (p *Pool) BGAPI(ctx context.Context, node, cmd, jobUUID string) error {
	if err := freeswitch.ValidUUID(jobUUID); err != nil {
		return fmt.Errorf("%s: bgapi %s: job %w", node, verb(cmd), err)
	}
	n, c, err := p.target(node, cmd)
	if err != nil {
		return err
	}
	return p.bgapi(ctx, n, c, cmd, jobUUID)
}

func (p *Pool) bgapi(ctx context.Context, n *node, c *conn, cmd, jobUUID string) error {
	if cc := n.commandConn(); cc != nil {
		c = cc
	}
	// The Job-UUID header makes FreeSWITCH use our id, so the result can be
	// matched even if it arrives before this reply is read.
	v, err := n.command(ctx, c, "bgapi", "bgapi "+cmd+"\nJob-UUID: "+jobUUID)
	if err != nil {
		return fmt.Errorf("%s: bgapi %s: %w", n.cfg.Name, verb(cmd), err)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(v, "Job-UUID:")); got != jobUUID {
		return fmt.Errorf("%s: bgapi %s: FreeSWITCH answered job %q, want %q", n.cfg.Name, verb(cmd), got, jobUUID)
	}
	return nil
}

// BGAPIWait runs "bgapi cmd" and waits for its result, parsed with
// freeswitch.ParseResult. Its BACKGROUND_JOB goes to this caller only, not to
// Events. The result comes on the node's event connection, so losing that
// connection while waiting ends the wait with ErrConnectionLost.
func (p *Pool) BGAPIWait(ctx context.Context, node, cmd string) (string, error) {
	n, c, err := p.target(node, cmd)
	if err != nil {
		return "", err
	}
	id := uuid.New()
	ch := n.jobs.add(id)
	defer n.jobs.remove(id)
	if err := p.bgapi(ctx, n, c, cmd, id); err != nil {
		return "", err
	}
	select {
	case ev := <-ch:
		v, err := freeswitch.ParseResult(ev.Body)
		if err != nil {
			return "", fmt.Errorf("%s: bgapi %s: %w", node, verb(cmd), err)
		}
		return v, nil
	case <-c.dead:
		return "", fmt.Errorf("%s: bgapi %s: %w", node, verb(cmd), ErrConnectionLost)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// target finds the node and its live event connection and checks the
// command line. Commands go over a command connection when one is up
// (see command.go), else over the event connection.
func (p *Pool) target(node, cmd string) (*node, *conn, error) {
	n := p.byName[node]
	if n == nil {
		return nil, nil, fmt.Errorf("%w: %q", ErrNoNode, node)
	}
	if strings.TrimSpace(cmd) == "" || strings.ContainsAny(cmd, "\r\n\x00") {
		return nil, nil, fmt.Errorf("esl: command %q: must be one non-empty line (a new line would start a second command)", cmd)
	}
	c, err := n.conn()
	if err != nil {
		return nil, nil, err
	}
	return n, c, nil
}

// Pick returns the connected node with the least load: its live channels,
// its picks of the last second or so (a channel shows up only once its
// originate has gone out and FreeSWITCH reported it, so a burst of picks
// judged on channels alone would all land on the same node), and the
// commands waiting for its replies (a node that answers slowly gets fewer
// new calls). Equals are rotated. A node none of whose command connections
// is up is not picked.
func (p *Pool) Pick() (string, error) {
	now := time.Now()
	start := int(p.pick.Add(1))
	var best *node
	bestLoad := 0
	for i := range p.nodes {
		n := p.nodes[(start+i)%len(p.nodes)]
		h := n.health()
		if !n.usable(h) || h.Paused {
			continue
		}
		if load := h.Channels + n.picks.recent(now) + n.backlog(); best == nil || load < bestLoad {
			best, bestLoad = n, load
		}
	}
	if best == nil {
		return "", fmt.Errorf("%w: none of %d nodes is connected and not paused", ErrNoNode, len(p.nodes))
	}
	best.picks.add(now)
	return best.cfg.Name, nil
}

// pickCount counts a node's recent picks in two half-second windows.
type pickCount struct {
	mu        sync.Mutex
	window    int64 // start of the current window, in half seconds
	cur, prev int
}

const pickWindow = 500 * time.Millisecond

func (c *pickCount) roll(now time.Time) {
	w := now.UnixNano() / int64(pickWindow)
	switch {
	case w == c.window:
	case w == c.window+1:
		c.window, c.prev, c.cur = w, c.cur, 0
	default:
		c.window, c.prev, c.cur = w, 0, 0
	}
}

func (c *pickCount) add(now time.Time) {
	c.mu.Lock()
	c.roll(now)
	c.cur++
	c.mu.Unlock()
}

// recent is how many picks the current and the previous window had.
func (c *pickCount) recent(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	return c.cur + c.prev
}

// SetPaused pauses or resumes new calls on a node: Pick leaves a paused
// node out, for maintenance, while commands for the legs already on it
// still go.
func (p *Pool) SetPaused(node string, paused bool) error {
	n := p.byName[node]
	if n == nil {
		return fmt.Errorf("%w: %q", ErrNoNode, node)
	}
	n.paused.Store(paused)
	return nil
}

// Health reports every node, in configuration order.
func (p *Pool) Health() []NodeHealth {
	out := make([]NodeHealth, len(p.nodes))
	for i, n := range p.nodes {
		out[i] = n.health()
	}
	return out
}

// Nodes returns the node names in configuration order.
func (p *Pool) Nodes() []string {
	out := make([]string, len(p.nodes))
	for i, n := range p.nodes {
		out[i] = n.cfg.Name
	}
	return out
}

// WaitConnected waits until at least n nodes are connected with at least one
// command connection up (the nodes Pick may choose).
func (p *Pool) WaitConnected(ctx context.Context, n int) error {
	for {
		p.mu.Lock()
		ch := p.change
		p.mu.Unlock()
		up := 0
		for _, nd := range p.nodes {
			if nd.usable(nd.health()) {
				up++
			}
		}
		if up >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("esl: %d of %d nodes connected: %w", up, n, ctx.Err())
		}
	}
}

func (p *Pool) changed() {
	p.mu.Lock()
	close(p.change)
	p.change = make(chan struct{})
	p.mu.Unlock()
}
