package session

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
)

// closer ends legs that no session steers any more: a leg hung up after a
// closing prompt, or a doomed leg killed now and again if it shows up later
// (an originate that was already on its way when the session was cancelled).
// Its commands go through the engine's sender under the session's key, so
// that no worker waits on them and none overtakes a command sent before it
// for the same session.
type closer struct {
	e       *Engine
	mu      sync.Mutex
	legs    map[string]*closing
	pending []closerCmd   // from observe, for run to send (bounded by legs)
	wake    chan struct{} // pending has commands
}

type closing struct {
	id        string // the session the leg belonged to: the sender's key
	node      string
	prompt    string    // the file whose PLAYBACK_STOP ends the leg; "" for doomed
	awaitPark bool      // the prompt waits for the leg's CHANNEL_PARK
	killAt    time.Time // hang up by then at the latest
	until     time.Time // forget the leg after this
}

type closerCmd struct {
	id, node, uuid, prompt string
}

func newCloser(e *Engine) *closer {
	return &closer{e: e, legs: make(map[string]*closing), wake: make(chan struct{}, 1)}
}

// doom hangs up leg of session id now, and again if it is created within
// window (plus the grace): an originate in flight may create it after this
// call.
func (c *closer) doom(id, leg, node string, window time.Duration) {
	if leg == "" {
		return
	}
	now := c.e.now()
	c.mu.Lock()
	c.legs[leg] = &closing{id: id, node: node, killAt: now, until: now.Add(window + c.e.opt.LegGrace)}
	c.mu.Unlock()
	c.send(closerCmd{id: id, node: node, uuid: leg})
}

// prompt plays path to leg of session id, then hangs it up when the prompt
// ends, or after PromptTimeout at the latest. A leg whose originate has not
// returned yet (parked false) gets the prompt once it parks: FreeSWITCH
// drops a prompt sent before, though it replies +OK.
func (c *closer) prompt(id, leg, node, path string, parked bool) {
	if leg == "" {
		return
	}
	now := c.e.now()
	kill := now.Add(c.e.opt.PromptTimeout)
	c.mu.Lock()
	c.legs[leg] = &closing{id: id, node: node, prompt: path, awaitPark: !parked, killAt: kill, until: kill.Add(c.e.opt.LegGrace)}
	c.mu.Unlock()
	if parked {
		c.send(closerCmd{id: id, node: node, uuid: leg, prompt: path})
	}
}

// forget stops watching leg, if session id doomed it.
func (c *closer) forget(leg, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.legs[leg]; cl != nil && cl.id == id {
		delete(c.legs, leg)
	}
}

func (c *closer) has(leg string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.legs[leg]
	return ok
}

// observe follows the events of closing legs. It reports whether ev
// belonged to one.
func (c *closer) observe(ev *esl.Event) bool {
	if ev.Name == esl.EventNodeUp {
		c.retryNode(ev.Node)
		return false
	}
	if ev.UniqueID == "" {
		return false
	}
	c.mu.Lock()
	cl, ok := c.legs[ev.UniqueID]
	if !ok {
		c.mu.Unlock()
		return false
	}
	kill := false
	switch ev.Name {
	case freeswitch.EventChannelHangup, freeswitch.EventChannelHangupComplete, freeswitch.EventChannelDestroy, esl.EventChannelGone:
		delete(c.legs, ev.UniqueID)
	case freeswitch.EventPlaybackStop:
		kill = cl.prompt != "" && !cl.awaitPark && playedFile(ev.Header(freeswitch.HeaderPlaybackFilePath), cl.prompt)
	case freeswitch.EventChannelPark:
		if cl.awaitPark {
			cl.awaitPark = false
			c.later(closerCmd{id: cl.id, node: cl.node, uuid: ev.UniqueID, prompt: cl.prompt})
		}
		kill = cl.prompt == ""
	case freeswitch.EventChannelCreate, freeswitch.EventChannelAnswer:
		kill = cl.prompt == ""
	}
	if kill {
		c.later(closerCmd{id: cl.id, node: cl.node, uuid: ev.UniqueID})
	}
	c.mu.Unlock()
	return true
}

// playedFile reports whether a PLAYBACK event naming reported is about
// the file sent. FreeSWITCH names a file given by a relative path by where
// it found it, e.g. ivr/ivr-not_available.wav as
// /usr/share/freeswitch/sounds/en/us/callie/ivr/ivr-not_available.wav.
func playedFile(reported, sent string) bool {
	if reported == "" || reported == sent {
		return true
	}
	relative := !strings.HasPrefix(sent, "/") && !strings.Contains(sent, "://")
	return relative && strings.HasSuffix(reported, "/"+sent)
}

// retryNode hangs up again the doomed legs of a node that came back: a
// hangup sent while its connection was down never reached it.
func (c *closer) retryNode(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for leg, cl := range c.legs {
		if cl.node == node && cl.prompt == "" {
			c.later(closerCmd{id: cl.id, node: node, uuid: leg})
		}
	}
}

// later queues cmd for run to send; c.mu is held. observe and retryNode
// run on the dispatcher, which must never wait for a node's sender: one
// slow node would hold up the events of every session.
func (c *closer) later(cmd closerCmd) {
	c.pending = append(c.pending, cmd)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// flush sends what later queued.
func (c *closer) flush() {
	c.mu.Lock()
	cmds := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, cmd := range cmds {
		c.send(cmd)
	}
}

func (c *closer) send(cmd closerCmd) {
	c.e.senders.send(cmd.node, cmd.id, func(ctx context.Context) { c.exec(ctx, cmd) })
}

func (c *closer) run(ctx context.Context) {
	tick := time.NewTicker(c.tickEvery())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
			c.flush()
		case <-tick.C:
			c.expire()
		}
	}
}

func (c *closer) tickEvery() time.Duration {
	return max(min(c.e.opt.PromptTimeout, c.e.opt.LegGrace)/4, 10*time.Millisecond)
}

// expire hangs up legs whose prompt outlived PromptTimeout and forgets
// legs past their watch window.
func (c *closer) expire() {
	now := c.e.now()
	var due []closerCmd
	c.mu.Lock()
	for leg, cl := range c.legs {
		if cl.prompt != "" && !now.Before(cl.killAt) {
			due = append(due, closerCmd{id: cl.id, node: cl.node, uuid: leg})
			cl.prompt = "" // killed once; still watched until `until`
		}
		if now.After(cl.until) {
			delete(c.legs, leg)
		}
	}
	c.mu.Unlock()
	for _, cmd := range due {
		c.send(cmd)
	}
}

func (c *closer) exec(ctx context.Context, cmd closerCmd) {
	ctx, ok := c.e.mayAct(ctx, "hang up", cmd.id)
	if !ok {
		// The session may be another replica's by now, which may want
		// this very leg (a deadline that fired as this replica woke from
		// a pause doomed a leg the new owner bridged): the doom is void,
		// and nothing (the node coming back, an event of the leg) may
		// send it later. If the session is over, the sweeper ends the leg.
		c.forget(cmd.uuid, cmd.id)
		return
	}
	// api sends line; a command the fence withheld at its turn voids the
	// doom as above.
	api := func(line string) (withheld bool, err error) {
		_, err = c.e.opt.Pool.API(ctx, cmd.node, line)
		if errors.Is(err, esl.ErrWithheld) {
			c.forget(cmd.uuid, cmd.id)
			return true, err
		}
		return false, err
	}
	if cmd.prompt != "" {
		// Stop the hold music first: a broadcast queues behind it otherwise.
		if line, err := freeswitch.UUIDBreak(cmd.uuid, true); err == nil {
			if withheld, _ := api(line); withheld {
				return
			}
		}
		line, err := freeswitch.UUIDBroadcast(cmd.uuid, cmd.prompt, "aleg")
		if err == nil {
			var withheld bool
			if withheld, err = api(line); withheld {
				return
			}
		}
		if err != nil {
			c.e.log.Warn("closing prompt; hanging up at once", "leg", cmd.uuid, "node", cmd.node, "err", err)
			cmd.prompt = ""
		} else {
			return
		}
	}
	line, err := freeswitch.UUIDKill(cmd.uuid, freeswitch.NormalClearing)
	if err != nil {
		return
	}
	// -ERR No such channel is success here: the leg is gone either way.
	api(line)
}
