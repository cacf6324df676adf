package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/internal/uuid"
	"bgcall/store"
)

// causeNodeLost marks a leg that vanished with its node (a restart or a
// lost connection, seen on resync): FreeSWITCH never reported its hangup.
const causeNodeLost = freeswitch.NodeLost

type jobKind int

const (
	jobClaimed    jobKind = iota // the scheduler claimed a due session
	jobAdopt                     // a session taken over or resumed after restart
	jobEvent                     // a FreeSWITCH event for one of the session's legs
	jobTimer                     // a deadline of the session's current state
	jobNotSent                   // an originate of the session did not reach FreeSWITCH
	jobProbed                    // FreeSWITCH's answer about an adopted session's legs
	jobRecheckAll                // the lease lapsed: ask the store about every session here
	jobRecheck                   // the reconciler found the session not ours in the store
	jobWithheld                  // a command of the session may not have reached FreeSWITCH: withheld (the lease was in doubt), or its connection failed
	jobNodeBack                  // a node's event socket is back: ask the store and FreeSWITCH about every session on it
	jobChecked                   // the node's answer whether the session's caller is in a call
)

type job struct {
	kind    jobKind
	id      string
	sess    store.Session
	ev      *esl.Event
	gen     uint64 // timer generation; an older one is ignored
	notSent *notSent
	probed  *probed
	checked *checked
	done    chan struct{} // closed once handled (jobRecheckAll)
	node    string        // jobNodeBack
}

// notSent reports an originate that failed on its way to FreeSWITCH, to
// the worker of its session, which decides against the session's state as
// it is by then.
type notSent struct {
	leg, node string
	caller    bool          // A's leg; else B's
	window    time.Duration // how long the leg might still show up
	err       error
}

// tracked is what a worker keeps about a session it steers. The store has
// the truth; this is the copy the next transition starts from.
type tracked struct {
	s        store.Session
	policy   Policy
	timer    *time.Timer
	timerGen uint64
	bridging bool // uuid_bridge sent: the hold prompt must not be replayed
	// bridgeAsked: the bridge's deadline passed without CHANNEL_BRIDGE and
	// FreeSWITCH was asked whether the legs are bridged.
	bridgeAsked bool
	// Each leg's originate returned +OK: FreeSWITCH handed the answered leg
	// to park. uuid_bridge waits for both, since a bridge that takes a leg
	// out of an originate still running makes FreeSWITCH end that
	// originate with ORIGINATOR_CANCEL (the channel lives on).
	calleeParked, callerParked bool
	callerHeard                time.Time // when A's answer was read; zero: not yet
	// recheck: a store step failed; when the timer fires, read the session
	// again and ask FreeSWITCH what is live instead of acting on a state
	// that may not be the stored one.
	recheck bool
	probe   uint64 // the FreeSWITCH answer awaited after an adoption; 0: none
	// check is the answer awaited about whether A is in a call (0: none),
	// asked of checkNode; busyNoted: the timeline says A was busy.
	check       uint64
	checkNode   string
	busyNoted   bool
	calleeHeard time.Time // when B's answer was read, for A's originate once A is free
	holdSent    bool      // the hold prompt was sent to B (it repeats on PLAYBACK_STOP)
}

// worker steers a fixed share of the sessions, one job at a time, so the
// events of one session are handled in order without locks.
//
// A worker does not wait for FreeSWITCH's replies: its commands go to the
// engine's senders (it waits only while a node's queue of 4096 commands is
// full), and an originate that fails comes back as a job. Reports come on
// a list of their own rather than the inbox, because the sender reporting
// must not wait for a worker that may itself be waiting for room in that
// sender's queue.
type worker struct {
	e     *Engine
	inbox chan job
	live  map[string]*tracked
	count atomic.Int64

	reportMu sync.Mutex
	reports  []job         // at most one per command that was in the senders since the last job
	reported chan struct{} // signalled when reports is not empty
	probes   uint64        // adoptions that asked FreeSWITCH, numbering their answers
	checks   uint64        // busy checks of callers, numbering their answers
}

// workerInbox is the jobs a worker holds before the dispatcher waits for
// it. A job carries a whole session, and the GC scans every inbox whole:
// 256 per worker keeps all of them near 7 MiB.
const workerInbox = 256

func newWorker(e *Engine) *worker {
	return &worker{e: e, inbox: make(chan job, workerInbox), live: make(map[string]*tracked), reported: make(chan struct{}, 1)}
}

func (w *worker) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			for _, t := range w.live {
				if t.timer != nil {
					t.timer.Stop()
				}
			}
			return
		case j := <-w.inbox:
			w.takeReports(ctx)
			w.handle(ctx, j)
		case <-w.reported:
			w.takeReports(ctx)
		}
	}
}

// takeReports handles the reports queued so far. The worker takes them
// before every job, so they never pile up behind a busy inbox.
func (w *worker) takeReports(ctx context.Context) {
	w.reportMu.Lock()
	reports := w.reports
	w.reports = nil
	w.reportMu.Unlock()
	for _, j := range reports {
		w.handle(ctx, j)
	}
}

// report queues j for the worker without waiting for it.
func (w *worker) report(j job) {
	w.reportMu.Lock()
	w.reports = append(w.reports, j)
	w.reportMu.Unlock()
	select {
	case w.reported <- struct{}{}:
	default:
	}
}

// handle turns j into an input for the state machine (machine.go), or
// does the bookkeeping it stands for.
func (w *worker) handle(ctx context.Context, j job) {
	t := w.live[j.id]
	switch j.kind {
	case jobClaimed:
		if t != nil {
			if j.sess.Fence <= t.s.Fence {
				return
			}
			// Still tracked after a step whose reply was lost but which
			// landed (back to waiting, due soon): the claim is newer.
			w.forget(t)
		}
		w.step(ctx, w.track(j.sess), input{kind: inClaimed})
	case jobAdopt:
		if t == nil {
			w.adopt(ctx, w.track(j.sess))
		}
	case jobEvent:
		if t != nil && !t.recheck { // while rechecking, the stored state is being read again
			if in, ok := classify(t, j.ev); ok {
				w.step(ctx, t, in)
			}
		}
	case jobTimer:
		if t == nil || t.timerGen != j.gen {
			return
		}
		t.timer = nil
		if t.recheck {
			w.recheck(ctx, t)
			return
		}
		w.step(ctx, t, input{kind: inDeadline})
	case jobNotSent:
		w.notSent(ctx, t, j.id, j.notSent)
	case jobProbed:
		r := j.probed
		if t == nil || t.probe != r.seq || t.s.Version != r.version || t.recheck || (t.bridging && !t.bridgeAsked) {
			return // the session moved on meanwhile: it is being steered already
		}
		t.probe = 0
		w.step(ctx, t, input{kind: inProbed, probed: r})
	case jobChecked:
		c := j.checked
		if t == nil || t.check != c.seq || t.recheck {
			return // the session moved on meanwhile
		}
		t.check = 0
		w.step(ctx, t, input{kind: inChecked, check: c})
	case jobRecheck:
		if t != nil {
			w.recheck(ctx, t)
		}
	case jobWithheld:
		// A command was withheld while the lease was in doubt, or may
		// not have reached FreeSWITCH: once the grace has passed, read the
		// session again and ask FreeSWITCH what is live, and the state's
		// function sends what is missing.
		if t != nil && !t.recheck {
			t.recheck = true
			w.setTimer(t, w.e.opt.LegGrace)
		}
	case jobNodeBack:
		// Events of the node's legs may have been lost while its event
		// socket was down: read each session on it again and ask
		// FreeSWITCH, as after a takeover.
		var on []*tracked
		for _, t := range w.live {
			if t.s.Node == j.node && !t.recheck {
				on = append(on, t)
			}
		}
		for _, t := range on {
			w.recheck(ctx, t)
		}
	case jobRecheckAll:
		all := make([]*tracked, 0, len(w.live))
		for _, t := range w.live {
			all = append(all, t)
		}
		for _, t := range all {
			w.recheck(ctx, t)
		}
		close(j.done)
	}
}

// notSent handles an originate that failed on its way to FreeSWITCH. If
// the leg is still one the session waits for, its state decides (t may be
// nil: the session is no longer steered here); otherwise the leg is
// doomed, since a lost connection may still have run it.
func (w *worker) notSent(ctx context.Context, t *tracked, id string, f *notSent) {
	e := w.e
	role := roleCallee
	if f.caller {
		role = roleCaller
	}
	e.log.Warn("originate not sent", "session", id, "leg", role, "uuid", f.leg, "node", f.node, "err", f.err)
	switch {
	case t == nil || (f.leg != t.s.CalleeLeg && f.leg != t.s.CallerLeg):
		e.closer.doom(id, f.leg, f.node, f.window)
	case !t.recheck: // else the stored state and FreeSWITCH are being asked again
		w.step(ctx, t, input{kind: inNotSent, leg: role, err: f.err})
	}
}

func (w *worker) track(s store.Session) *tracked {
	t := &tracked{s: s, policy: w.e.policyOf(s)}
	w.live[s.ID] = t
	w.count.Add(1)
	w.e.steered.add(s.ID)
	w.e.legs.add(s.CalleeLeg, s.ID)
	w.e.legs.add(s.CallerLeg, s.ID)
	return t
}

// forget drops a session this replica no longer steers.
func (w *worker) forget(t *tracked) {
	if _, ok := w.live[t.s.ID]; !ok {
		return
	}
	w.stopTimer(t)
	w.e.legs.remove(t.s.CalleeLeg)
	w.e.legs.remove(t.s.CallerLeg)
	delete(w.live, t.s.ID)
	w.count.Add(-1)
	w.e.steered.remove(t.s.ID)
	select {
	case w.e.released <- struct{}{}:
	default: // one is pending already, and Live will be read after it
	}
}

// setTimer arms the deadline of t's current state.
func (w *worker) setTimer(t *tracked, d time.Duration) {
	w.stopTimer(t)
	t.timerGen++
	gen, id := t.timerGen, t.s.ID
	t.timer = time.AfterFunc(d, func() { w.e.route(id, job{kind: jobTimer, gen: gen}) })
}

func (w *worker) stopTimer(t *tracked) {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	t.timerGen++
}

// apply stores next as t's new state with entries on its timeline. On
// false the session is no longer this worker's to steer (someone cancelled
// or took it over, or the store failed) and the caller must stop.
func (w *worker) apply(ctx context.Context, t *tracked, next store.Session, entries ...store.Entry) bool {
	e := w.e
	now := e.now()
	next.UpdatedAt = now
	for i := range entries {
		if entries[i].At.IsZero() {
			entries[i].At = now
		}
		if entries[i].State == "" {
			entries[i].State = next.State
		}
	}
	got, err := e.opt.Store.Apply(ctx, next, t.s.Version, entries, now)
	return w.stored(ctx, t, got, err, entries)
}

// stored takes in the store's answer to a step of t (got, or err) whose
// timeline entries were entries: on success t moves on and the transition
// is logged; otherwise the session is looked at again. It reports whether
// the step landed.
func (w *worker) stored(ctx context.Context, t *tracked, got store.Session, err error, entries []store.Entry) bool {
	e, now := w.e, w.e.now()
	if err != nil {
		if errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrFenced) || errors.Is(err, store.ErrNotFound) {
			// A cancel makes the next step stale, which is no news; a
			// session taken by another replica is.
			level := slog.LevelInfo
			if errors.Is(err, store.ErrStale) {
				level = slog.LevelDebug
			}
			e.log.Log(ctx, level, "session moved on; looking again", "session", t.s.ID, "state", t.s.State, "reason", err)
			w.recheck(ctx, t)
			return false
		}
		e.opt.Metrics.RedisError("apply")
		e.log.Error("store transition; will look again", "session", t.s.ID, "from", t.s.State, "step", entries[0].Kind, "err", err)
		// Whether the step landed is unknown: come back, read the stored
		// state and ask FreeSWITCH, rather than let an old deadline act on
		// a state that may not be the stored one.
		t.recheck = true
		w.setTimer(t, e.opt.LegGrace)
		return false
	}
	prev := t.s
	t.s = got
	for _, leg := range []string{prev.CalleeLeg, prev.CallerLeg} {
		if leg != "" && leg != got.CalleeLeg && leg != got.CallerLeg {
			e.legs.remove(leg)
		}
	}
	kind, cause := entries[0].Kind, ""
	for _, en := range entries {
		if en.Cause != "" && cause == "" {
			kind, cause = en.Kind, en.Cause
		}
	}
	node, callee, caller := got.Node, got.CalleeLeg, got.CallerLeg
	if got.State == store.Waiting { // the ended attempt's leg, not the cleared fields
		node, callee, caller = prev.Node, prev.CalleeLeg, prev.CallerLeg
	}
	e.logTransition(got, prev.State, kind, "attempt", got.Attempts, "node", node, "callee_leg", callee,
		"caller_leg", caller, "cause", cause, "outcome", got.Outcome, "reason", reasonOf(entries))
	e.observe(got, entries)
	switch got.State {
	case store.Finished:
		e.opt.Metrics.SessionFinished(string(got.Outcome), got.Attempts, now.Sub(got.CreatedAt))
		w.forget(t)
	case store.Waiting:
		w.forget(t) // waiting sessions belong to whoever claims them next
		if !got.DueAt.After(now) {
			select {
			case e.wake <- struct{}{}:
			default:
			}
		}
	}
	return true
}

// beginAttempt begins the next callee attempt of a claimed, waiting
// session: it stores the attempt (node, leg) and sends it. A claim usually
// begins the attempt itself (store.ClaimAndStart); the worker has the store
// do it when the claim could not (no node picked for it, or a session
// taken over while waiting).
func (w *worker) beginAttempt(ctx context.Context, t *tracked) {
	e, s, now := w.e, t.s, w.e.now()
	if !s.DeadlineAt.IsZero() && !now.Before(s.DeadlineAt) {
		w.finish(ctx, t, store.Expired, "", fmt.Sprintf("max_total %v reached", t.policy.MaxTotal))
		return
	}
	node, err := e.opt.Pool.Pick()
	if err != nil {
		next := s
		next.State, next.Owner = store.Waiting, ""
		next.DueAt = now.Add(min(t.policy.FirstInterval, 10*time.Second))
		w.apply(ctx, t, next, store.Entry{Kind: store.KindDeferred, Note: "no FreeSWITCH node connected: " + err.Error()})
		return
	}
	if e.checksBeforeCallee() {
		w.checkCaller(t, node) // B is dialled once A is found free
		return
	}
	w.startAttempt(ctx, t, node)
}

// startAttempt begins the next callee attempt of t on node.
func (w *worker) startAttempt(ctx context.Context, t *tracked, node string) {
	e, s, now := w.e, t.s, w.e.now()
	// The store begins it as a claim does (store.BeginAttempt), so there is
	// one definition of an attempt's fields and timeline entry.
	got, err := e.opt.Store.BeginAttempt(ctx, s, node, now)
	if w.stored(ctx, t, got, err, []store.Entry{{Kind: store.KindAttempt}}) {
		w.sendAttempt(ctx, t)
	}
}

// sendAttempt dials the callee attempt stored in t (by beginAttempt, or by
// the claim) and arms the ring deadline.
func (w *worker) sendAttempt(ctx context.Context, t *tracked) {
	e, s := w.e, t.s
	cmd, err := e.originateCallee(s, t.policy, s.CalleeLeg)
	if err != nil {
		w.finish(ctx, t, store.Failed, "", err.Error())
		return
	}
	t.calleeParked = false
	w.originate(s.ID, &notSent{leg: s.CalleeLeg, node: s.Node, window: t.policy.RingTime}, cmd, time.Time{})
	w.setTimer(t, t.policy.RingTime+e.opt.LegGrace)
}

// originate has cmd sent as a bgapi whose job is named after the leg, and
// reports back if it does not reach FreeSWITCH. The leg is known to the
// dispatcher before the command leaves, so none of its events can miss the
// session. For A's leg, heard is when B's answer was read (zero if the
// originate reacts to no event).
func (w *worker) originate(id string, leg *notSent, cmd string, heard time.Time) {
	e := w.e
	if !leg.caller {
		// A callee leg left over from an earlier attempt (Redis lost a
		// step, or a replica died between a hangup and its store write)
		// goes first: two callee legs are never up at once. On the same
		// node the hangup is sent before the originate.
		for old, node := range e.orphans.tagged(id) {
			if old != leg.leg {
				e.log.Warn("hanging up a leg of an earlier attempt before dialling B again", "session", id, "leg", old, "node", node)
				e.closer.doom(id, old, node, 0)
			}
		}
	}
	e.legs.add(leg.leg, id)
	e.senders.send(leg.node, id, func(ctx context.Context) {
		if leg.caller {
			ctx = e.reacting(ctx, "caller_originate", heard)
		}
		ctx, ok := e.mayAct(ctx, "originate", id)
		if !ok {
			w.report(job{kind: jobWithheld, id: id})
			return
		}
		mark, waits := e.beginSending(ctx, id, leg.leg)
		if !waits {
			w.report(job{kind: jobRecheck, id: id}) // cancelled meanwhile: let go
			return
		}
		defer mark.end(ctx)
		ctx = mark.gate(ctx)
		if err := e.opt.Pool.BGAPI(ctx, leg.node, cmd, leg.leg); err != nil {
			if ctx.Err() != nil {
				return // stopping: whoever takes the session over asks FreeSWITCH
			}
			if errors.Is(err, esl.ErrWithheld) {
				w.report(job{kind: jobWithheld, id: id}) // the lease lapsed while it waited
				return
			}
			leg.err = err
			w.report(job{kind: jobNotSent, id: id, notSent: leg})
		}
	})
}

// calleeAttemptEnded decides, by the retry policy, what follows an
// unanswered callee attempt.
func (w *worker) calleeAttemptEnded(ctx context.Context, t *tracked, cause freeswitch.Cause, note string) {
	e, s, now := w.e, t.s, w.e.now()
	e.opt.Metrics.DialAttempt("callee", cause.Class())
	same := 0
	if rule := t.policy.Rule(cause); rule.GiveUpAfter > 0 {
		same = 1 + w.countEnded(ctx, s.ID, cause)
	}
	d := t.policy.After(cause, s.Attempts, same, s.CreatedAt, now, nil)
	ended := store.Entry{Kind: store.KindAttemptEnded, Leg: "callee", Attempt: s.Attempts, Node: s.Node, UUID: s.CalleeLeg, Cause: string(cause), Note: note}
	if d.Outcome != "" {
		w.finish(ctx, t, store.Outcome(d.Outcome), cause, d.Reason, ended)
		return
	}
	next := s
	next.State, next.Owner, next.DueAt, next.CalleeLeg, next.Node = store.Waiting, "", d.Due, "", ""
	if w.apply(ctx, t, next, ended, store.Entry{Kind: store.KindScheduled, Attempt: s.Attempts + 1, Note: d.Reason}) {
		e.opt.Metrics.Retry()
	}
}

// countEnded counts the attempts of session id that ended with cause, from
// its timeline: only rules with a give-up count need it, so the common path
// makes no extra round trip.
func (w *worker) countEnded(ctx context.Context, id string, cause freeswitch.Cause) int {
	tl, err := w.e.opt.Store.Timeline(ctx, id)
	if err != nil {
		w.e.opt.Metrics.RedisError("timeline")
		return 0
	}
	n := 0
	for _, en := range tl {
		if en.Kind == store.KindAttemptEnded && en.Leg == "callee" && en.Cause == string(cause) {
			n++
		}
	}
	return n
}

// calleeAnswered holds B and dials A on B's node, or first asks B to
// confirm when the session's policy says so. heard is when B's answer was
// read, zero if it was learnt otherwise.
func (w *worker) calleeAnswered(ctx context.Context, t *tracked, heard time.Time) {
	s, now := t.s, w.e.now()
	next := s
	next.AnsweredAt = now
	answered := store.Entry{Kind: store.KindCalleeAnswered, Leg: "callee", Attempt: s.Attempts, Node: s.Node, UUID: s.CalleeLeg}
	if t.policy.Confirm {
		next.State = store.Confirming
		answered.Note = "asking B to confirm: 1 connects, 2 declines"
		if !w.apply(ctx, t, next, answered) {
			return
		}
		if t.calleeParked {
			// Else once B's originate has returned (confirming, inParked).
			w.askConfirm(ctx, t)
		}
		w.setTimer(t, t.policy.ConfirmTimeout)
		return
	}
	next.State = store.CalleeHold
	w.ringCaller(ctx, t, heard, next, answered)
	if t.s.State == store.CalleeHold {
		w.countAnswered(now, s)
	}
}

// countAnswered counts B's answer of s, at now, in the metrics: for a
// session that asks B to confirm, once B confirmed.
func (w *worker) countAnswered(now time.Time, s store.Session) {
	w.e.opt.Metrics.DialAttempt("callee", freeswitch.ClassAnswered)
	w.e.opt.Metrics.CalleeAnswered(now.Sub(s.CreatedAt))
}

// confirmPrompt is the confirmation prompt for s: prompts.confirm with
// {caller} replaced by A's number (a number is digits, and FreeSWITCH's
// say and phrase applications read it out).
func (e *Engine) confirmPrompt(s store.Session) string {
	return strings.ReplaceAll(e.opt.Prompts.Confirm, "{caller}", s.Caller)
}

// isConfirmPrompt reports whether file, a PLAYBACK_STOP's
// Playback-File-Path, is t's confirmation prompt. FreeSWITCH names a file
// in its sounds directory by its full path.
func (w *worker) isConfirmPrompt(t *tracked, file string) bool {
	p := w.e.confirmPrompt(t.s)
	return file != "" && p != "" && (file == p || strings.HasSuffix(file, "/"+p))
}

// askConfirm starts machine detection on B's leg where configured, and
// plays B the confirmation prompt.
func (w *worker) askConfirm(_ context.Context, t *tracked) {
	e, s := w.e, t.s
	if e.detectsMachines(s.Node) {
		w.sendAPI(t, "machine detection", func() (string, error) { return freeswitch.AVMD(s.CalleeLeg, true) })
	}
	w.playConfirm(t)
}

// detectsMachines reports whether B's leg on node is listened to for a
// voicemail's beep (Options.MachineDetection).
func (e *Engine) detectsMachines(node string) bool {
	return e.opt.MachineDetection != nil && e.opt.MachineDetection(node)
}

// playConfirm plays B the confirmation prompt; it is replayed each time it
// ends until B presses a key or the time to confirm is over.
func (w *worker) playConfirm(t *tracked) {
	s := t.s
	if w.e.closer.has(s.CalleeLeg) {
		return // a closing prompt owns B's leg now
	}
	w.sendAPI(t, "confirmation prompt", func() (string, error) {
		return freeswitch.UUIDBroadcast(s.CalleeLeg, w.e.confirmPrompt(s), "aleg")
	})
}

// sendAPI sends the api command build makes, for t's session, through its
// node's sender; what is logged of a failure names it what. It reports
// whether the command was queued (build did not fail).
func (w *worker) sendAPI(t *tracked, what string, build func() (string, error)) bool {
	e, s := w.e, t.s
	cmd, err := build()
	if err != nil {
		e.log.Warn(what, "session", s.ID, "callee_leg", s.CalleeLeg, "err", err)
		return false
	}
	e.senders.send(s.Node, s.ID, func(ctx context.Context) {
		ctx, ok := e.mayAct(ctx, what, s.ID)
		if !ok {
			w.report(job{kind: jobWithheld, id: s.ID})
			return
		}
		if _, err := e.opt.Pool.API(ctx, s.Node, cmd); errors.Is(err, esl.ErrWithheld) {
			w.report(job{kind: jobWithheld, id: s.ID})
		} else if err != nil {
			e.log.Warn(what, "session", s.ID, "callee_leg", s.CalleeLeg, "err", err)
		}
	})
	return true
}

// calleeConfirmed: B pressed 1. B is held and A dialled, as when B
// answers in a session that does not ask.
func (w *worker) calleeConfirmed(ctx context.Context, t *tracked) {
	e, s, now := w.e, t.s, w.e.now()
	if e.detectsMachines(s.Node) {
		w.sendAPI(t, "machine detection", func() (string, error) { return freeswitch.AVMD(s.CalleeLeg, false) })
	}
	// The hold prompt must not queue behind the confirmation prompt.
	w.sendAPI(t, "confirmation prompt", func() (string, error) { return freeswitch.UUIDBreak(s.CalleeLeg, true) })
	next := s
	next.State = store.CalleeHold
	w.ringCaller(ctx, t, time.Time{}, next, store.Entry{Kind: store.KindCalleeConfirmed, Leg: "callee", Attempt: s.Attempts, Node: s.Node, UUID: s.CalleeLeg})
	if t.s.State == store.CalleeHold {
		e.opt.Metrics.Confirmation(confirmConfirmed)
		w.countAnswered(now, s)
	}
}

// calleeDeclined: B pressed 2. The session ends declined, B's leg is hung
// up and A is told.
func (w *worker) calleeDeclined(ctx context.Context, t *tracked) {
	e, s := w.e, t.s
	reason := "B declined"
	if e.opt.DeclineOptsOut {
		reason = w.declineOptsOut(ctx, s)
	}
	if !w.finish(ctx, t, store.Declined, "", reason,
		store.Entry{Kind: store.KindCalleeDeclined, Leg: "callee", Attempt: s.Attempts, Node: s.Node, UUID: s.CalleeLeg}) {
		return
	}
	e.opt.Metrics.Confirmation(confirmDeclined)
	e.closer.doom(s.ID, s.CalleeLeg, s.Node, 0)
	w.tellCaller(ctx, t, Message{Declined: true})
}

// declineOptsOut records that B, who declined s, refuses background calls
// from A from now on (Options.DeclineOptsOut), and returns what the
// timeline says of it. The store records it directly: Engine.OptOut would
// cancel this very session, which ends declined instead. B pressed 2 either
// way: a store that fails leaves the decline standing, and says so.
func (w *worker) declineOptsOut(ctx context.Context, s store.Session) string {
	e := w.e
	if _, _, err := e.opt.Store.AddOptOut(ctx, store.OptOut{Callee: s.Callee, Caller: s.Caller, By: "confirmation"}, e.now()); err != nil {
		e.opt.Metrics.RedisError("optout")
		e.log.Error("B declined; the opt-out from A was not stored", "session", s.ID, "callee", s.Callee, "caller", s.Caller, "err", err)
		return "B declined; the opt-out from " + s.Caller + " was not stored: " + err.Error()
	}
	e.log.Info("callee opted out of background calls", "callee", s.Callee, "caller", s.Caller, "by", "confirmation", "session", s.ID)
	return "B declined and opted out of background calls from " + s.Caller
}

// notConfirmed: B's leg answered but nobody confirmed (no key within the
// time, or a voicemail's beep). That is no answer: B's leg is hung up and
// the retry policy decides, under cause.
func (w *worker) notConfirmed(ctx context.Context, t *tracked, result string, cause freeswitch.Cause, note string) {
	e, s := w.e, t.s
	e.opt.Metrics.Confirmation(result)
	e.closer.doom(s.ID, s.CalleeLeg, s.Node, 0)
	w.calleeAttemptEnded(ctx, t, cause, note)
}

// What became of a confirmation prompt, for the metrics.
const (
	confirmConfirmed = "confirmed" // B pressed 1
	confirmDeclined  = "declined"  // B pressed 2
	confirmNoDigit   = "no_digit"  // no key within the time: a voicemail, or nobody
	confirmMachine   = "machine"   // mod_avmd heard a voicemail's beep
	confirmHungUp    = "hung_up"   // B hung up first
)

// dialCaller stores a new caller leg in next and dials it, B holding. The
// leg is named and stored before it is dialled, so whoever steers the
// session next knows which leg to look for. note goes on the timeline's
// caller_dialing entry.
func (w *worker) dialCaller(ctx context.Context, t *tracked, heard time.Time, next store.Session, note string, before ...store.Entry) {
	e, s := w.e, t.s
	leg := uuid.New()
	t.callerParked, t.callerHeard = false, time.Time{}
	cmd, err := e.originateCaller(s, t.policy, leg)
	next.CallerLeg = leg
	if err != nil {
		next.CallerLeg = ""
	}
	entries := append(before, store.Entry{Kind: store.KindCallerDialing, Leg: "caller", Node: s.Node, UUID: next.CallerLeg, Note: note})
	if !w.apply(ctx, t, next, entries...) {
		return
	}
	if err != nil {
		w.callerMissed(ctx, t, "", err.Error())
		return
	}
	w.originate(s.ID, &notSent{leg: leg, node: s.Node, caller: true, window: t.policy.CallerRingTime}, cmd, heard)
	if t.calleeParked && !t.holdSent {
		// Else once B's originate has returned (calleeHold, inParked):
		// FreeSWITCH drops a prompt sent to a leg whose originate is
		// still under way, though it replies +OK. B already hears it
		// when A was asked first whether A is in a call.
		w.playHold(ctx, t)
	}
	w.setTimer(t, t.policy.CallerRingTime+e.opt.LegGrace)
}

func (w *worker) playHold(_ context.Context, t *tracked) {
	s := t.s
	if w.e.closer.has(s.CalleeLeg) {
		return // a closing prompt owns B's leg now
	}
	t.holdSent = w.sendAPI(t, "hold prompt", func() (string, error) {
		return freeswitch.UUIDBroadcast(s.CalleeLeg, w.e.opt.Prompts.Hold, "aleg")
	})
}

// bridgeWhenParked bridges A and B once both originates have handed their
// answered legs to park.
func (w *worker) bridgeWhenParked(ctx context.Context, t *tracked) {
	if t.calleeParked && t.callerParked {
		w.bridge(ctx, t, t.callerHeard)
	}
}

// bridge joins A to B once A answered (heard: when A's answer was read,
// zero if it was learnt otherwise). CHANNEL_BRIDGE, not the reply, proves
// it; the bridge deadline covers a bridge that never happens.
func (w *worker) bridge(_ context.Context, t *tracked, heard time.Time) {
	if t.bridging {
		return
	}
	e, s := w.e, t.s
	t.bridging = true
	e.opt.Metrics.DialAttempt("caller", freeswitch.ClassAnswered)
	cmd, err := freeswitch.UUIDBridge(s.CalleeLeg, s.CallerLeg)
	if err != nil {
		e.log.Warn("uuid_bridge", "session", s.ID, "err", err)
	} else {
		e.senders.send(s.Node, s.ID, func(ctx context.Context) {
			ctx, ok := e.mayAct(ctx, "uuid_bridge", s.ID)
			if !ok {
				w.report(job{kind: jobWithheld, id: s.ID})
				return
			}
			_, err := e.opt.Pool.API(e.reacting(ctx, "bridge", heard), s.Node, cmd)
			switch {
			case errors.Is(err, esl.ErrWithheld):
				w.report(job{kind: jobWithheld, id: s.ID}) // the lease lapsed while it waited
			case errors.Is(err, esl.ErrNotConnected), errors.Is(err, esl.ErrConnectionLost), errors.Is(err, context.DeadlineExceeded):
				// The node's connection failed: the bridge never left, or
				// nobody knows. Both parties wait; once the grace has
				// passed, FreeSWITCH is asked about the legs, and they are
				// bridged (again) or found bridged, rather than the
				// deadline below ending the call.
				e.log.Warn("uuid_bridge not sure to have reached FreeSWITCH; asking again", "session", s.ID, "err", err)
				w.report(job{kind: jobWithheld, id: s.ID})
			case err != nil:
				// A leg went away between the answer and the bridge; its
				// hangup event decides the outcome, the deadline below if
				// none comes.
				e.log.Warn("uuid_bridge", "session", s.ID, "err", err)
			}
		})
	}
	w.setTimer(t, e.opt.LegGrace)
}

func (w *worker) bridged(ctx context.Context, t *tracked) {
	e, s, now := w.e, t.s, w.e.now()
	next := s
	next.State, next.BridgedAt = store.Bridged, now
	w.stopTimer(t)
	if w.apply(ctx, t, next, store.Entry{Kind: store.KindBridged, Node: s.Node, UUID: s.CallerLeg}) {
		e.opt.Metrics.Bridged(now.Sub(s.CreatedAt))
	}
}

func (w *worker) hungUpWhileBridged(ctx context.Context, t *tracked, calleeHungUp bool, cause freeswitch.Cause) {
	e, s := w.e, t.s
	other, who := s.CallerLeg, "callee"
	if !calleeHungUp {
		other, who = s.CalleeLeg, "caller"
	}
	e.closer.doom(s.ID, other, s.Node, 0)
	e.opt.Metrics.BridgeEnded(e.now().Sub(s.BridgedAt))
	w.finish(ctx, t, store.Completed, cause, who+" hung up")
}

// calleeLeft: B hung up while A's phone rang.
func (w *worker) calleeLeft(ctx context.Context, t *tracked, cause freeswitch.Cause) {
	e, s := w.e, t.s
	e.closer.doom(s.ID, s.CallerLeg, s.Node, t.policy.CallerRingTime)
	w.finish(ctx, t, store.CalleeLeft, cause, "B hung up before A answered",
		store.Entry{Kind: store.KindCalleeHungUp, Leg: "callee", Node: s.Node, UUID: s.CalleeLeg, Cause: string(cause)})
}

// holdLost: B's leg vanished with its node while A rang. B did not hang
// up, so the policy decides, as for any attempt that did not reach A.
func (w *worker) holdLost(ctx context.Context, t *tracked) {
	e, s := w.e, t.s
	e.closer.doom(s.ID, s.CallerLeg, s.Node, t.policy.CallerRingTime)
	// B's leg too, should only the connection have been lost: the next
	// attempt must not overlap it.
	e.closer.doom(s.ID, s.CalleeLeg, s.Node, 0)
	next := s
	next.CallerLeg = ""
	t.s = next
	w.calleeAttemptEnded(ctx, t, causeNodeLost, "node lost while B was on hold")
}

// callerMissed: A did not answer. B hears why and is hung up; A is told.
func (w *worker) callerMissed(ctx context.Context, t *tracked, cause freeswitch.Cause, note ...string) {
	e, s := w.e, t.s
	e.opt.Metrics.DialAttempt("caller", cause.Class())
	n := "A did not answer"
	if len(note) > 0 {
		n = note[0]
	}
	if !w.finish(ctx, t, store.CallerMissed, cause, n,
		store.Entry{Kind: store.KindCallerEnded, Leg: "caller", Node: s.Node, UUID: s.CallerLeg, Cause: string(cause)}) {
		return
	}
	e.closer.prompt(s.ID, s.CalleeLeg, s.Node, e.opt.Prompts.CallerUnavailable, t.calleeParked)
	w.tellCaller(ctx, t, Message{})
}

// tellCaller sends A the message about how the call back ended: why
// says it (Message.CallerBusy, Message.Declined); the zero Message, that A
// missed B's call.
func (w *worker) tellCaller(ctx context.Context, t *tracked, why Message) {
	e, s := w.e, t.s
	if e.opt.Notifier != nil {
		why.SessionID, why.Caller, why.Callee, why.Node = s.ID, s.Caller, s.Callee, s.Node
		// A reads the time in the session's zone, the one its quiet hours use.
		why.At = e.now().In(t.policy.Quiet.location())
		e.opt.Notifier.Send(ctx, why)
	}
}

// finish gives t its outcome.
func (w *worker) finish(ctx context.Context, t *tracked, outcome store.Outcome, cause freeswitch.Cause, reason string, before ...store.Entry) bool {
	next, entries := finishing(t.s, w.e.now(), outcome, cause, reason, before...)
	return w.apply(ctx, t, next, entries...)
}

// finishing returns s given its outcome at now, and the timeline entries
// that say so after before: the one way a session ends, for the steering
// worker and for a cancel from any replica alike.
func finishing(s store.Session, now time.Time, outcome store.Outcome, cause freeswitch.Cause, reason string, before ...store.Entry) (store.Session, []store.Entry) {
	s.State, s.Outcome, s.Cause, s.FinishedAt, s.Owner = store.Finished, outcome, string(cause), now, ""
	return s, append(before, store.Entry{Kind: store.KindFinished, Note: string(outcome) + ": " + reason, Cause: string(cause)})
}
