package session

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"bgcall/freeswitch"
	"bgcall/store"
)

// A busy A is not an absent A. Before A is rung back, the engine asks the
// node whether A is in a call; while A is, B holds (the hold prompt goes
// on) and A is asked again every CallerBusy.Interval, up to CallerBusy.Wait
// after B answered. A free A is rung; an A still busy then ends the
// session as caller_busy: B hears the unavailable prompt and is hung up, A
// gets the message. B is never bridged into A's call waiting unknowingly.
// Where BeforeCallee is set, A is also asked before B is dialled at all
// (as Asterisk's CC_CALLER_BUSY): a busy A defers the attempt, which is
// not counted.
//
// The asking is a FreeSWITCH command, sent by the node's sender like every
// other: the worker never waits for it, and the answer comes back as a job
// (jobChecked), which the state machine takes as the input "checked".

// BusyCheck says how the engine asks whether A is in a call.
type BusyCheck string

const (
	// BusyChannels lists the node's channels that mention A's number
	// (show channels like) and counts those that are A's own, leaving out
	// the legs of background calls placed with A's caller ID (B's legs,
	// tagged bgcall_leg=callee) and this session's.
	BusyChannels BusyCheck = "channels"
	// BusyCommand runs the operator's own API command, CallerBusy.Command,
	// whose reply matching CallerBusy.BusyReply means busy.
	BusyCommand BusyCheck = "command"
	// BusyOff never asks: A is rung as soon as B answers.
	BusyOff BusyCheck = "off"
)

// CallerBusy configures the check whether A is in a call.
type CallerBusy struct {
	Check     BusyCheck                  // default BusyChannels
	Command   freeswitch.CommandTemplate // BusyCommand: e.g. "hash select/busy/{number}"
	BusyReply *regexp.Regexp             // BusyCommand: a reply matching it means busy; default freeswitch.DefaultBusyReply
	// Wait is how long B holds, after answering, for a busy A to be free;
	// 0 ends the session at the first busy answer.
	Wait time.Duration
	// Interval is how often a busy A is asked again while B holds.
	Interval time.Duration
	// BeforeCallee also asks before B is dialled: a busy A defers the
	// attempt by Defer without counting it.
	BeforeCallee bool
	Defer        time.Duration
}

// DefaultCallerBusy asks for A's channels; B holds up to 20 s, asking
// every 2 s.
func DefaultCallerBusy() CallerBusy {
	return CallerBusy{Check: BusyChannels, Wait: 20 * time.Second, Interval: 2 * time.Second, Defer: 30 * time.Second}
}

// Validate reports the first setting that cannot work, naming it.
func (c CallerBusy) Validate() error {
	switch c.Check {
	case BusyChannels, BusyOff:
	case BusyCommand:
		if err := c.Command.Validate(); err != nil {
			return fmt.Errorf("caller_busy.command: %w", err)
		}
	default:
		return fmt.Errorf("caller_busy.check %q: want channels, command or off", string(c.Check))
	}
	if c.Wait < 0 {
		return fmt.Errorf("caller_busy.wait %v is negative; 0 ends the session at once when A is busy", c.Wait)
	}
	if c.Interval <= 0 {
		return fmt.Errorf("caller_busy.interval %v: want a positive duration such as 2s", c.Interval)
	}
	if c.BeforeCallee && c.Defer <= 0 {
		return fmt.Errorf("caller_busy.defer %v: want a positive duration such as 30s", c.Defer)
	}
	return nil
}

func (c *CallerBusy) fill() {
	d := DefaultCallerBusy()
	if c.Check == "" {
		c.Check = d.Check
	}
	if c.BusyReply == nil {
		c.BusyReply = freeswitch.DefaultBusyReply
	}
	setDefault(&c.Interval, d.Interval)
	setDefault(&c.Defer, d.Defer)
}

// checked is what the node said about A.
type checked struct {
	seq  uint64 // matches tracked.check while it is the answer awaited
	busy bool
	why  string // what made A busy: the channel, or the command's reply
	err  error  // the node could not be asked, or its reply not read
}

// checksCaller reports whether A is asked before being rung.
func (e *Engine) checksCaller() bool { return e.opt.CallerBusy.Check != BusyOff }

// checksBeforeCallee reports whether A is asked before B is dialled.
func (e *Engine) checksBeforeCallee() bool { return e.checksCaller() && e.opt.CallerBusy.BeforeCallee }

// callerBusy asks node whether s's caller is in a call. It runs on a
// sender, never on a worker.
func (e *Engine) callerBusy(ctx context.Context, node string, s store.Session) (busy bool, why string, err error) {
	c := e.opt.CallerBusy
	if c.Check == BusyCommand {
		cmd, err := c.Command.Command(s.Caller)
		if err != nil {
			return false, "", err
		}
		out, err := e.opt.Pool.API(ctx, node, cmd)
		if err != nil {
			return false, "", fmt.Errorf("%s: %w", cmd, err)
		}
		reply := strings.TrimSpace(out)
		return c.BusyReply.MatchString(reply), fmt.Sprintf("%s answered %q", cmd, reply), nil
	}
	cmd, err := freeswitch.ShowChannelsLike(s.Caller)
	if err != nil {
		return false, "", err
	}
	out, err := e.opt.Pool.API(ctx, node, cmd)
	if err != nil {
		return false, "", fmt.Errorf("%s: %w", cmd, err)
	}
	rows, err := freeswitch.ParseChannels(out)
	if err != nil {
		return false, "", err
	}
	for _, r := range rows {
		if r.UUID == s.CalleeLeg || r.UUID == s.CallerLeg || !r.Names(s.Caller) {
			continue
		}
		ours, err := e.placedByBackgroundCall(ctx, node, r.UUID, s.ID)
		if err != nil {
			return false, "", err
		}
		if !ours {
			return true, "channel " + r.Name + " (" + r.UUID + ") is up", nil
		}
	}
	return false, "", nil
}

// placedByBackgroundCall reports whether leg is no call of A's although it
// names A: a leg of this session, or B's leg of another background call,
// which shows A's number as caller ID (mod_loopback copies the tags to the
// far half too). A leg gone meanwhile counts as not A's.
func (e *Engine) placedByBackgroundCall(ctx context.Context, node, leg, id string) (bool, error) {
	for _, v := range []struct{ name, ours string }{{VarSession, id}, {VarLeg, "callee"}} {
		cmd, err := freeswitch.UUIDGetVar(leg, v.name)
		if err != nil {
			return false, err
		}
		out, err := e.opt.Pool.API(ctx, node, cmd)
		switch {
		case freeswitch.NoSuchChannel(err):
			return true, nil
		case err != nil:
			return false, fmt.Errorf("%s: %w", cmd, err)
		case strings.TrimSpace(out) == v.ours:
			return true, nil
		}
	}
	return false, nil
}

// checkCaller asks node whether A is in a call; the answer comes back as
// the input "checked". A deadline covers an answer that never comes.
func (w *worker) checkCaller(t *tracked, node string) {
	e, s := w.e, t.s
	w.checks++
	c := &checked{seq: w.checks}
	t.check, t.checkNode = c.seq, node
	e.senders.send(node, s.ID, func(ctx context.Context) {
		if !e.stillAsking(ctx, s) {
			// Cancelled meanwhile, from any replica: no store step of the
			// worker's would tell it while A is asked again and again.
			w.report(job{kind: jobRecheck, id: s.ID})
			return
		}
		c.busy, c.why, c.err = e.callerBusy(ctx, node, s)
		if ctx.Err() != nil {
			return // stopping: whoever steers the session next asks again
		}
		w.report(job{kind: jobChecked, id: s.ID, checked: c})
	})
	w.setTimer(t, busyCheckTimeout(e))
}

// stillAsking reads s again from the store before A is asked: whether it
// is still s's owner's, in s's state, with no caller leg. A store that
// cannot answer does not stop the asking.
func (e *Engine) stillAsking(ctx context.Context, s store.Session) bool {
	fresh, err := e.opt.Store.Get(ctx, s.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false
	case err != nil:
		return true
	}
	return fresh.State == s.State && fresh.Owner == s.Owner && fresh.CallerLeg == ""
}

// busyCheckTimeout bounds the wait for the node's answer about A.
func busyCheckTimeout(e *Engine) time.Duration { return 2 * e.opt.LegGrace }

// ringCaller is what follows B's answer: A is rung at once, or, when A is
// asked first, B holds (next with before stored) until the node answered.
// heard is when B's answer was read.
func (w *worker) ringCaller(ctx context.Context, t *tracked, heard time.Time, next store.Session, before ...store.Entry) {
	if !w.e.checksCaller() {
		w.dialCaller(ctx, t, heard, next, "", before...)
		return
	}
	t.calleeHeard = heard
	next.CallerLeg = ""
	if !w.apply(ctx, t, next, before...) {
		return
	}
	w.holdForCheck(ctx, t)
}

// holdForCheck keeps B on hold and asks whether A is in a call.
func (w *worker) holdForCheck(ctx context.Context, t *tracked) {
	if t.calleeParked {
		w.playHold(ctx, t) // else once B's originate returned
	}
	w.checkCaller(t, t.s.Node)
}

// callerChecked takes in the node's answer about A while B holds: a free A
// is rung; a busy one is asked again until the wait is over, then the
// session ends as caller_busy. A node that could not tell does not keep A
// from being rung: the originate finds out.
func (w *worker) callerChecked(ctx context.Context, t *tracked, c *checked) {
	e, s, now := w.e, t.s, w.e.now()
	cb := e.opt.CallerBusy
	e.opt.Metrics.CallerBusyCheck("callee_answered", c.result())
	switch {
	case c.err != nil:
		e.log.Warn("could not tell whether A is busy; ringing A", "session", s.ID, "node", s.Node, "err", c.err)
		w.dialCaller(ctx, t, t.calleeHeard, s, "busy check failed: "+c.err.Error())
	case !c.busy:
		note := ""
		if t.busyNoted {
			note = "A is free again"
		}
		w.dialCaller(ctx, t, t.calleeHeard, s, note)
	case !now.Before(s.AnsweredAt.Add(cb.Wait)):
		w.callerBusyEnd(ctx, t, c.why)
	case !t.busyNoted:
		until := s.AnsweredAt.Add(cb.Wait)
		if w.apply(ctx, t, s, store.Entry{Kind: store.KindCallerBusy, Leg: "caller", Node: s.Node,
			Note: fmt.Sprintf("caller busy: %s; B holds, A asked again every %v until %s", c.why, cb.Interval, until.Format(time.TimeOnly))}) {
			t.busyNoted = true
			w.setTimer(t, cb.Interval)
		}
	default:
		w.setTimer(t, cb.Interval)
	}
}

// callerBusyEnd: A stayed in a call while B held. B hears why and is hung
// up; A is told B called, as when A misses the call.
func (w *worker) callerBusyEnd(ctx context.Context, t *tracked, why string) {
	e, s := w.e, t.s
	if !w.finish(ctx, t, store.CallerBusy, "", "caller busy: A was in a call while B held",
		store.Entry{Kind: store.KindCallerBusy, Leg: "caller", Node: s.Node, Note: "caller busy: " + why}) {
		return
	}
	e.closer.prompt(s.ID, s.CalleeLeg, s.Node, e.opt.Prompts.CallerUnavailable, t.calleeParked)
	w.tellCaller(ctx, t, Message{CallerBusy: true})
}

// busyWaitDeadline: no answer about A came in time (t.check still set),
// or it is time to ask a busy A again.
func (w *worker) busyWaitDeadline(ctx context.Context, t *tracked) {
	if t.check != 0 {
		w.callerChecked(ctx, t, &checked{err: errors.New("the node did not answer in time")})
		return
	}
	w.checkCaller(t, t.s.Node)
}

// deferForBusyCaller puts the attempt off: A is in a call, so B is not
// dialled now, and the attempt is not counted.
func (w *worker) deferForBusyCaller(ctx context.Context, t *tracked, why string) {
	e, s, now := w.e, t.s, w.e.now()
	next := s
	next.State, next.Owner = store.Waiting, ""
	next.DueAt = now.Add(e.opt.CallerBusy.Defer)
	w.apply(ctx, t, next, store.Entry{Kind: store.KindDeferred, Attempt: s.Attempts + 1,
		Note: fmt.Sprintf("caller busy: %s; B not dialled, attempt %d put off until %s", why, s.Attempts+1, next.DueAt.Format(time.TimeOnly))})
}

// checkedBeforeCallee takes in the node's answer about A before B is
// dialled: a busy A puts the attempt off; a free one, or a node that could
// not tell, lets B be dialled on the node asked.
func (w *worker) checkedBeforeCallee(ctx context.Context, t *tracked, c *checked) {
	w.e.opt.Metrics.CallerBusyCheck("before_callee", c.result())
	switch {
	case c.err != nil:
		w.e.log.Warn("could not tell whether A is busy; dialling B", "session", t.s.ID, "node", t.checkNode, "err", c.err)
		w.startAttempt(ctx, t, t.checkNode)
	case c.busy:
		w.deferForBusyCaller(ctx, t, c.why)
	default:
		w.startAttempt(ctx, t, t.checkNode)
	}
}

// result names the answer for the metrics.
func (c *checked) result() string {
	switch {
	case c.err != nil:
		return "unknown"
	case c.busy:
		return "busy"
	}
	return "free"
}
