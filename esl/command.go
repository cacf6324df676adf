package esl

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Command connections. eslgo cannot tell which caller a reply belongs to,
// so a connection carries one command at a time, and on the event connection
// each reply also waits behind the events queued before it. A node therefore
// keeps a few extra connections that subscribe to nothing and carry api and
// bgapi commands only: commands to one node overlap, one per connection, and
// their replies never queue behind events. BACKGROUND_JOB results still come
// on the event connection, which FreeSWITCH sends them to because it is
// subscribed, so they stay in the node's event order.
//
// The event connection alone decides whether the node is up: losing a
// command connection loses only the commands in flight on it (their callers
// get ErrConnectionLost) and it is redialled on its own.

// cmdSlot holds one command connection while it lives.
type cmdSlot struct {
	cur atomic.Pointer[conn]
}

// runCommandConn keeps one command connection dialled until ctx is done.
func (n *node) runCommandConn(ctx context.Context, s *cmdSlot) {
	failures := 0
	for ctx.Err() == nil {
		c, err := n.dial(ctx, 0, false)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The event connection reports the same causes (refused
			// password, unreachable node) at a higher level.
			n.log.Debug("esl: command connection: connect failed", "addr", n.cfg.Addr, "err", err)
			if !sleep(ctx, backoff(n.opts.BackoffMin, n.opts.BackoffMax, failures)) {
				return
			}
			failures++
			continue
		}
		began := time.Now()
		s.cur.Store(c)
		n.pool.changed()
		n.supervise(ctx, c)
		s.cur.Store(nil)
		n.pool.changed()
		if err := c.failed(); err != nil && !errors.Is(err, context.Canceled) {
			n.log.Info("esl: command connection lost; redialling", "addr", n.cfg.Addr, "err", err)
		}
		if time.Since(began) > stableAfter {
			failures = 0
		}
		if !sleep(ctx, backoff(n.opts.BackoffMin, n.opts.BackoffMax, failures)) {
			return
		}
		failures++
	}
}

// commandConn returns the live command connection with the fewest commands
// queued or in flight, or nil if none lives. Ties go to the next connection
// in turn, so an idle node still spreads its commands.
func (n *node) commandConn() *conn {
	if len(n.cmds) == 0 {
		return nil
	}
	start := int(n.turn.Add(1))
	var best *conn
	var bestLoad int32
	for i := range n.cmds {
		c := n.cmds[(start+i)%len(n.cmds)].cur.Load()
		if c == nil || c.failed() != nil {
			continue
		}
		if l := c.load.Load(); best == nil || l < bestLoad {
			best, bestLoad = c, l
		}
	}
	return best
}

// backlog is how many commands wait for a reply from the node, queued or
// in flight, on its command connections and its event connection.
func (n *node) backlog() int {
	total := int32(0)
	for _, s := range n.cmds {
		if c := s.cur.Load(); c != nil {
			total += c.load.Load()
		}
	}
	n.mu.Lock()
	if n.cur != nil {
		total += n.cur.load.Load()
	}
	n.mu.Unlock()
	return int(total)
}

// liveCommandConns counts the command connections up now.
func (n *node) liveCommandConns() int {
	live := 0
	for _, s := range n.cmds {
		if c := s.cur.Load(); c != nil && c.failed() == nil {
			live++
		}
	}
	return live
}

// usable reports whether commands can be sent to a node in state h: it is
// connected and, unless command connections are turned off, at least one of
// them is up.
func (n *node) usable(h NodeHealth) bool {
	return h.Connected && (len(n.cmds) == 0 || h.CommandConns > 0)
}
