package session

import (
	"context"
	"errors"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/store"
)

// The engine as a state machine. A worker turns everything that happens to
// a session it steers into an input (an event of one of its legs, a
// deadline, a command that never left, FreeSWITCH's answer after a
// takeover) and hands it to the function of the session's state. Each such
// function handles every input, in one switch: what it does there is the
// whole of what that state means. The table `transitions` below says the
// same as data; the transition table test holds the functions to it, pair
// by pair, and docs/engine.md is generated from it.
//
// Cancel is the one step taken outside the machine: any replica may cancel
// any session, by one version-checked store step (Engine.CancelBy), and
// tears down what the state had live (tearDown). The steering worker learns
// of it when its next step is refused, reads the session again and lets go.

// inputKind names what happened to a session.
type inputKind int

const (
	inClaimed      inputKind = iota // the scheduler claimed it (or a takeover found it waiting)
	inAnswer                        // CHANNEL_ANSWER of one of its legs
	inParked                        // BACKGROUND_JOB +OK: the leg's originate handed it, answered, to park
	inJobFailed                     // BACKGROUND_JOB -ERR: the leg's originate failed
	inHangup                        // CHANNEL_HANGUP, _HANGUP_COMPLETE or _DESTROY of one of its legs
	inNodeLost                      // the leg vanished with its node (restart, lost connection, shutdown)
	inBridge                        // CHANNEL_BRIDGE: A and B are joined
	inPlaybackStop                  // PLAYBACK_STOP: a prompt to the leg ended
	inDeadline                      // the state's deadline passed
	inNotSent                       // an originate of the leg never reached FreeSWITCH
	inProbed                        // FreeSWITCH's answer about the legs, after a takeover or restart
	inChecked                       // the node's answer whether A is in a call (busy.go)
	inDTMF                          // DTMF: the leg's phone pressed a key
	inBeep                          // CUSTOM avmd::beep: mod_avmd heard a voicemail's beep on the leg
	inputKinds                      // the number of kinds
)

var inputNames = [inputKinds]string{"claimed", "answer", "parked", "job failed", "hangup", "node lost",
	"bridge", "playback stop", "deadline", "not sent", "probed", "checked", "dtmf", "beep"}

func (k inputKind) String() string { return inputNames[k] }

// role says which of a session's legs an input concerns.
type role string

const (
	roleCallee role = "callee" // B's leg
	roleCaller role = "caller" // A's leg
)

// input is one thing that happened to a session.
type input struct {
	kind   inputKind
	leg    role             // the leg it concerns, for the kinds that have one
	cause  freeswitch.Cause // why the leg ended, for the kinds that end one
	at     time.Time        // when the event was read off the socket; zero if learnt otherwise
	err    error            // inNotSent: why it never left
	probed *probed          // inProbed
	check  *checked         // inChecked
	digit  string           // inDTMF: the key pressed
	file   string           // inPlaybackStop: the prompt that ended, as FreeSWITCH names it
}

// classify turns ev into an input for t's session, or reports false if ev
// concerns none of its current legs or nothing the machine acts on.
func classify(t *tracked, ev *esl.Event) (input, bool) {
	leg := ev.UniqueID
	if ev.Name == freeswitch.EventBackgroundJob {
		leg = ev.JobUUID
	}
	in := input{at: ev.Received}
	switch {
	case leg == "":
		return in, false
	case leg == t.s.CalleeLeg:
		in.leg = roleCallee
	case leg == t.s.CallerLeg:
		in.leg = roleCaller
	default:
		return in, false // a leg of an earlier attempt
	}
	switch ev.Name {
	case freeswitch.EventChannelAnswer:
		in.kind = inAnswer
	case freeswitch.EventChannelBridge:
		in.kind = inBridge
	case freeswitch.EventPlaybackStop:
		in.kind, in.file = inPlaybackStop, ev.Header(freeswitch.HeaderPlaybackFilePath)
	case freeswitch.EventDTMF:
		in.kind, in.digit = inDTMF, ev.Header(freeswitch.HeaderDTMFDigit)
	case freeswitch.EventCustom:
		if ev.Subclass != freeswitch.SubclassAVMDBeep {
			return in, false
		}
		in.kind = inBeep
	case freeswitch.EventChannelHangup, freeswitch.EventChannelHangupComplete, freeswitch.EventChannelDestroy:
		in.kind, in.cause = inHangup, ev.HangupCause
	case esl.EventChannelGone:
		in.kind, in.cause = inNodeLost, causeNodeLost
	case freeswitch.EventBackgroundJob:
		in.kind = inParked
		if _, err := freeswitch.ParseResult(ev.Body); err != nil {
			// A failed job ends a leg that never answered as surely as a
			// hangup does (an unregistered user never gets a channel, so
			// the job is all there is).
			in.kind = inJobFailed
			var fe *freeswitch.Error
			if errors.As(err, &fe) {
				in.cause = fe.Cause
			}
		}
	default:
		return in, false
	}
	if in.cause == freeswitch.SystemShutdown {
		in.kind = inNodeLost // the node is going down under every leg
	}
	return in, true
}

// step hands in to the function of t's state.
func (w *worker) step(ctx context.Context, t *tracked, in input) {
	switch t.s.State {
	case store.Waiting:
		w.waiting(ctx, t, in)
	case store.DialingCallee:
		w.dialingCallee(ctx, t, in)
	case store.Confirming:
		w.confirming(ctx, t, in)
	case store.CalleeHold:
		w.calleeHold(ctx, t, in)
	case store.Bridged:
		w.bridgedState(ctx, t, in)
	}
}

// waiting: no leg is up; the session waits for its next callee attempt.
func (w *worker) waiting(ctx context.Context, t *tracked, in input) {
	switch in.kind {
	case inClaimed:
		w.beginAttempt(ctx, t)
	case inDeadline:
		w.adopt(ctx, t) // a store error, or a busy check unanswered, left it here: look again
	case inChecked:
		// A was asked before B is dialled (CallerBusy.BeforeCallee).
		w.checkedBeforeCallee(ctx, t, in.check)
	default:
		// inAnswer, inParked, inJobFailed, inHangup, inNodeLost, inBridge,
		// inPlaybackStop, inNotSent, inProbed, inDTMF, inBeep: a waiting
		// session has no leg.
	}
}

// dialingCallee: B's phone rings.
func (w *worker) dialingCallee(ctx context.Context, t *tracked, in input) {
	e, s := w.e, t.s
	if in.leg == roleCaller {
		return // there is no caller leg yet
	}
	switch in.kind {
	case inClaimed:
		// The claim began the attempt and stored it; no worker step did,
		// so its transition is logged here.
		e.logTransition(s, store.Waiting, store.KindAttempt, "attempt", s.Attempts, "node", s.Node, "callee_leg", s.CalleeLeg)
		e.observe(s, []store.Entry{{At: s.UpdatedAt, Kind: store.KindAttempt, State: s.State, Attempt: s.Attempts, Leg: "callee", Node: s.Node, UUID: s.CalleeLeg}})
		w.sendAttempt(ctx, t)
	case inAnswer, inParked:
		t.calleeParked = t.calleeParked || in.kind == inParked
		w.calleeAnswered(ctx, t, in.at)
	case inJobFailed, inHangup, inNodeLost:
		w.calleeAttemptEnded(ctx, t, in.cause, "")
	case inDeadline:
		e.closer.doom(s.ID, s.CalleeLeg, s.Node, t.policy.RingTime)
		w.calleeAttemptEnded(ctx, t, freeswitch.RecoveryOnTimerExpire, "FreeSWITCH reported nothing within the ring time")
	case inNotSent:
		// A lost connection may still have run it.
		e.closer.doom(s.ID, s.CalleeLeg, s.Node, t.policy.RingTime)
		w.calleeAttemptEnded(ctx, t, freeswitch.DestinationOutOfOrder, "originate not sent: "+in.err.Error())
	case inProbed:
		b := in.probed.callee
		// B's originate returned long ago if B answered, and its job may
		// have gone to the replica that steered the session then.
		t.calleeParked = b.answered
		switch {
		case b.err != nil:
			w.probeAgain(t)
		case !b.exists && e.now().Sub(s.UpdatedAt) < e.opt.LegGrace:
			// The attempt has just begun: FreeSWITCH runs an originate
			// on a thread of its own after accepting it, so its channel
			// may not exist yet when a node coming back (or a restart)
			// has it asked about. Ask again after the grace.
			w.probeAgain(t)
		case !b.exists:
			// Doomed, in case its originate is still on its way: the next
			// attempt must never overlap it.
			e.closer.doom(s.ID, s.CalleeLeg, s.Node, t.policy.RingTime)
			w.calleeAttemptEnded(ctx, t, freeswitch.Cause(""), "leg gone when the session was taken over")
		case b.answered:
			w.calleeAnswered(ctx, t, time.Time{})
		default:
			w.setTimer(t, t.policy.RingTime+e.opt.LegGrace)
		}
	default:
		// inBridge, inPlaybackStop, inDTMF, inBeep: nothing is bridged,
		// played or listened to yet; inChecked: A is asked only while
		// waiting or holding B.
	}
}

// confirming: B answered and hears the confirmation prompt ("press 1 to be
// connected, 2 to decline"); A is not dialled yet. Only B's 1 goes on; a
// voicemail that answered for B presses nothing, or beeps.
func (w *worker) confirming(ctx context.Context, t *tracked, in input) {
	e, s := w.e, t.s
	if in.leg == roleCaller {
		return // there is no caller leg yet
	}
	switch in.kind {
	case inParked:
		t.calleeParked = true
		w.askConfirm(ctx, t) // held back until now, see calleeAnswered
	case inPlaybackStop:
		w.playConfirm(t)
	case inDTMF:
		switch in.digit {
		case "1":
			w.calleeConfirmed(ctx, t)
		case "2":
			w.calleeDeclined(ctx, t)
		}
		// Any other key: B may have slipped; the prompt goes on.
	case inDeadline:
		w.notConfirmed(ctx, t, confirmNoDigit, freeswitch.NoAnswer, "no confirmation (voicemail?)")
	case inBeep:
		w.notConfirmed(ctx, t, confirmMachine, freeswitch.NoAnswer, "answering machine: a beep was heard on B's leg")
	case inHangup:
		e.opt.Metrics.Confirmation(confirmHungUp)
		w.calleeAttemptEnded(ctx, t, in.cause, "B hung up before confirming")
	case inNodeLost:
		e.closer.doom(s.ID, s.CalleeLeg, s.Node, 0) // should only the connection have been lost
		w.calleeAttemptEnded(ctx, t, causeNodeLost, "node lost while B was asked to confirm")
	case inProbed:
		b := in.probed.callee
		t.calleeParked = b.answered
		switch {
		case b.err != nil:
			w.probeAgain(t)
		case !b.exists:
			w.calleeAttemptEnded(ctx, t, freeswitch.Cause(""), "leg gone when the session was taken over")
		default:
			// What B heard or pressed meanwhile is unknown: ask again, with
			// the whole time to answer.
			w.askConfirm(ctx, t)
			w.setTimer(t, t.policy.ConfirmTimeout)
		}
	default:
		// inClaimed (a claim never hands out a session that is not
		// waiting), inAnswer (B answered already), inJobFailed (a late
		// failure of the originate of a leg that answered), inBridge,
		// inNotSent (B's events came: it ran after all), inChecked (A is
		// asked only once B confirmed).
	}
}

// calleeHold: B answered and hears the hold prompt; A's phone rings. A and
// B are bridged once A answered and both originates returned. Before A is
// rung (no caller leg yet), the node is asked whether A is in a call, and
// asked again while A is (busy.go).
func (w *worker) calleeHold(ctx context.Context, t *tracked, in input) {
	e, s := w.e, t.s
	switch in.kind {
	case inChecked:
		if s.CallerLeg == "" {
			w.callerChecked(ctx, t, in.check)
		}
	case inClaimed:
		// A claim never hands out a session that is not waiting.
	case inAnswer:
		if in.leg == roleCallee {
			return // B answered already
		}
		t.callerHeard = in.at
		w.bridgeWhenParked(ctx, t)
		if !t.bridging {
			// The jobs come within milliseconds; should one never reach
			// this replica, the deadline bridges A anyway.
			w.setTimer(t, e.opt.LegGrace)
		}
	case inParked:
		if in.leg == roleCaller {
			t.callerParked = true
			if t.callerHeard.IsZero() {
				t.callerHeard = in.at
			}
		} else {
			t.calleeParked = true
			if !t.callerParked {
				w.playHold(ctx, t) // held back until now, see dialCaller
			}
		}
		w.bridgeWhenParked(ctx, t)
	case inJobFailed:
		if in.leg == roleCallee || !t.callerHeard.IsZero() {
			// The originate of a leg that answered failed afterwards
			// (ORIGINATOR_CANCEL when something took the leg out of it):
			// the channel lives on, and only its own hangup ends it.
			return
		}
		w.callerMissed(ctx, t, in.cause)
	case inHangup:
		if in.leg == roleCallee {
			w.calleeLeft(ctx, t, in.cause)
		} else {
			w.callerMissed(ctx, t, in.cause)
		}
	case inNodeLost:
		// The node went away under both legs, whichever is reported first:
		// B did not leave and A did not refuse.
		w.holdLost(ctx, t)
	case inBridge:
		w.bridged(ctx, t)
	case inPlaybackStop:
		// The confirmation prompt B interrupted ends after the hold
		// prompt began: only the hold prompt's end replays it.
		if in.leg == roleCallee && !t.bridging && !w.isConfirmPrompt(t, in.file) {
			w.playHold(ctx, t)
		}
	case inDeadline:
		switch {
		case s.CallerLeg == "":
			w.busyWaitDeadline(ctx, t) // A is being asked, or is busy
		case !t.bridging && !t.callerHeard.IsZero():
			w.bridge(ctx, t, t.callerHeard) // A answered; an originate's job is late or lost
		case t.bridging && !t.bridgeAsked:
			// No CHANNEL_BRIDGE read here is not proof that no bridge
			// happened: a loaded node, or this replica restarted in
			// between, may deliver it late. FreeSWITCH is asked before the
			// call is called failed.
			t.bridgeAsked = true
			w.askLegs(t)
			w.setTimer(t, e.opt.LegGrace)
		case t.bridging:
			w.bridgeFailed(ctx, t)
		default:
			e.closer.doom(s.ID, s.CallerLeg, s.Node, t.policy.CallerRingTime)
			w.callerMissed(ctx, t, freeswitch.NoAnswer)
		}
	case inNotSent:
		switch {
		case in.leg == roleCallee, t.bridging:
			// Its events came through: it ran after all.
		case errors.Is(in.err, esl.ErrConnectionLost) || errors.Is(in.err, esl.ErrNotConnected):
			w.holdLost(ctx, t) // the node, not A, failed: the policy decides
		default:
			e.closer.doom(s.ID, s.CallerLeg, s.Node, t.policy.CallerRingTime) // it may have run
			w.callerMissed(ctx, t, freeswitch.DestinationOutOfOrder, "originate not sent: "+in.err.Error())
		}
	case inProbed:
		w.calleeHoldProbed(ctx, t, in.probed)
	default:
		// inDTMF (B confirmed already, or was never asked), inBeep
		// (detection stops once B confirmed: a human is on the line).
	}
}

// probeAgain asks FreeSWITCH about t's legs again after the grace, when
// it could not be asked (a node not connected yet: a replica restarted
// under its id adopts its sessions before its event sockets are up). The
// timer reads the session again and probes; it must not act as the state's
// deadline, which would hang up legs that may be ringing or answered.
func (w *worker) probeAgain(t *tracked) {
	t.recheck = true
	w.setTimer(t, w.e.opt.LegGrace)
}

// calleeHoldProbed takes up a session found holding B after a takeover.
func (w *worker) calleeHoldProbed(ctx context.Context, t *tracked, r *probed) {
	e, s, b, a := w.e, t.s, r.callee, r.caller
	t.calleeParked = b.answered
	switch {
	case b.err != nil || a.err != nil:
		w.probeAgain(t)
	case !b.exists:
		w.calleeLeft(ctx, t, freeswitch.Cause(""))
	case s.CallerLeg == "":
		// Taken over while A was being asked whether A is in a call: ask
		// again, B holding.
		w.holdForCheck(ctx, t)
	case !a.exists && w.callerWindowOver(t):
		// A's leg is not up and B has held as long as A may be asked for
		// and rung: A had its chance. Dialling A again would restart the
		// window with every takeover while B waits on hold, until
		// FreeSWITCH's park timeout ends B's call.
		e.closer.doom(s.ID, s.CallerLeg, s.Node, t.policy.CallerRingTime)
		w.callerMissed(ctx, t, freeswitch.NoAnswer, "A's leg was not up when the session was taken over, and A's ring time since B answered is over")
	case !a.exists:
		// The lost replica stored A's leg but it is not up: never dialled,
		// or already over. B is still holding, so dial A again under a new
		// name (the old one is doomed, in case its originate is still on
		// its way).
		e.closer.doom(s.ID, s.CallerLeg, s.Node, t.policy.CallerRingTime)
		e.legs.remove(s.CallerLeg)
		w.dialCaller(ctx, t, time.Time{}, s, "", store.Entry{Kind: store.KindCallerRedial, Leg: "caller", Node: s.Node, UUID: s.CallerLeg,
			Note: "A's leg was not up when the session was taken over"})
	case a.bridged && b.bridged:
		w.bridged(ctx, t) // bridged before the step was stored, or its event is late
	case t.bridgeAsked:
		w.bridgeFailed(ctx, t)
	case a.answered:
		// A answered: a late failure of A's originate (ORIGINATOR_CANCEL,
		// the bridge taking A's leg out of it) is not A refusing.
		t.callerHeard = time.Now()
		w.bridge(ctx, t, time.Time{})
	default:
		w.playHold(ctx, t)
		w.setTimer(t, t.policy.CallerRingTime+e.opt.LegGrace)
	}
}

// callerWindowOver reports whether B, holding, has waited as long as A may
// be asked for (the busy check's wait, where configured) and rung, with
// the grace for the legs' events.
func (w *worker) callerWindowOver(t *tracked) bool {
	e, s := w.e, t.s
	if s.AnsweredAt.IsZero() {
		return false
	}
	window := t.policy.CallerRingTime + e.opt.LegGrace
	if e.opt.CallerBusy.Wait > 0 {
		window += e.opt.CallerBusy.Wait
	}
	return !e.now().Before(s.AnsweredAt.Add(window))
}

// bridgeFailed ends a session whose uuid_bridge went out but whose legs
// FreeSWITCH does not show bridged.
func (w *worker) bridgeFailed(ctx context.Context, t *tracked) {
	e, s := w.e, t.s
	e.closer.doom(s.ID, s.CallerLeg, s.Node, 0)
	e.closer.doom(s.ID, s.CalleeLeg, s.Node, 0)
	w.finish(ctx, t, store.Failed, "", "uuid_bridge sent but FreeSWITCH never bridged the legs")
}

// bridgedState: A and B talk. bgcall never ends the call; it waits for a
// leg to hang up and then ends the other.
func (w *worker) bridgedState(ctx context.Context, t *tracked, in input) {
	switch in.kind {
	case inHangup, inNodeLost:
		w.hungUpWhileBridged(ctx, t, in.leg == roleCallee, in.cause)
	case inDeadline:
		w.adopt(ctx, t) // a store error left it here: look again
	case inProbed:
		b, a := in.probed.callee, in.probed.caller
		switch {
		case b.err != nil || a.err != nil:
			w.probeAgain(t)
		case !b.exists || !a.exists:
			w.hungUpWhileBridged(ctx, t, !b.exists, freeswitch.Cause(""))
		}
		// Both up: they are talking; the hangup event will end it.
	default:
		// inClaimed, inAnswer, inParked, inJobFailed (a late job of a leg
		// that talks), inBridge (again), inPlaybackStop, inNotSent,
		// inChecked (late), inDTMF, inBeep: the call goes on.
	}
}

// tearDown ends what was live in s when it was cancelled (from any
// replica, see Engine.CancelBy): a ringing leg is hung up, B on hold hears
// the cancel prompt first, a bridged call (cancelled only on request) ends.
func (e *Engine) tearDown(s store.Session) {
	p := e.policyOf(s)
	switch s.State {
	case store.DialingCallee:
		e.closer.doom(s.ID, s.CalleeLeg, s.Node, p.RingTime)
	case store.Confirming:
		e.closer.doom(s.ID, s.CalleeLeg, s.Node, 0)
	case store.CalleeHold:
		e.closer.doom(s.ID, s.CallerLeg, s.Node, p.CallerRingTime)
		// B answered; its originate returned long ago but for a cancel in
		// the first milliseconds of the hold, from whichever replica.
		e.closer.prompt(s.ID, s.CalleeLeg, s.Node, e.opt.Prompts.Cancelled, true)
	case store.Bridged:
		e.closer.doom(s.ID, s.CalleeLeg, s.Node, 0)
		e.closer.doom(s.ID, s.CallerLeg, s.Node, 0)
	}
}

// transition is one row of the engine's table: in state, on input (on the
// given leg, when the condition holds), the session moves to next and the
// engine sends commands to FreeSWITCH (and the SMS to A) and writes the
// timeline entries named. An empty next means the state does not change;
// a row that does nothing says so with empty commands and timeline.
type transition struct {
	state    store.State
	input    string // an inputKind's name, or "cancel" (Engine.CancelBy)
	leg      role
	when     string // the condition, from the words of the transition test's setups
	next     string // the state after, or "finished: <outcome>"
	commands string
	timeline string
}

// transitions is the engine's table, every (state, input) pair that does
// something, and the pairs that deliberately do nothing. The transition
// table test holds the state functions above to it, row by row, and
// docs/engine.md is generated from it (go test ./session -run
// TransitionTable -update-docs).
var transitions = []transition{
	{store.Waiting, "claimed", "", "", "dialing_callee", "originate B", "attempt"},
	{store.Waiting, "claimed", "", "no node connected", "", "", "deferred"},
	{store.Waiting, "claimed", "", "past max_total", "finished: expired", "", "finished"},
	{store.Waiting, "deadline", "", "", "dialing_callee", "originate B", "attempt"},
	{store.Waiting, "answer", "", "", "", "", ""},
	{store.Waiting, "parked", "", "", "", "", ""},
	{store.Waiting, "job failed", "", "", "", "", ""},
	{store.Waiting, "hangup", "", "", "", "", ""},
	{store.Waiting, "node lost", "", "", "", "", ""},
	{store.Waiting, "bridge", "", "", "", "", ""},
	{store.Waiting, "playback stop", "", "", "", "", ""},
	{store.Waiting, "not sent", "", "", "", "", ""},
	{store.Waiting, "probed", "", "", "", "", ""},
	{store.Waiting, "claimed", "", "caller_busy.before_callee", "dialing_callee", "busy check of A, originate B", "attempt"},
	{store.Waiting, "claimed", "", "caller_busy.before_callee, A busy", "", "busy check of A", "deferred"},
	{store.Waiting, "checked", "", "A free", "dialing_callee", "originate B", "attempt"},
	{store.Waiting, "checked", "", "A busy", "", "", "deferred"},
	{store.Waiting, "checked", "", "check failed", "dialing_callee", "originate B", "attempt"},
	{store.Waiting, "dtmf", "", "", "", "", ""},
	{store.Waiting, "beep", "", "", "", "", ""},
	{store.Waiting, "cancel", "", "", "finished: cancelled", "", "cancelled, finished"},

	{store.DialingCallee, "claimed", "", "the claim began the attempt", "", "originate B", ""},
	{store.DialingCallee, "answer", roleCallee, "", "callee_hold", "busy check of A, originate A", "callee_answered, caller_dialing"},
	{store.DialingCallee, "answer", roleCallee, "confirmation on", "confirming", "", "callee_answered"},
	{store.DialingCallee, "parked", roleCallee, "", "callee_hold", "hold prompt to B, busy check of A, originate A", "callee_answered, caller_dialing"},
	{store.DialingCallee, "parked", roleCallee, "confirmation on", "confirming", "confirm prompt to B", "callee_answered"},
	{store.DialingCallee, "parked", roleCallee, "confirmation and machine detection on", "confirming", "avmd start B, confirm prompt to B", "callee_answered"},
	{store.DialingCallee, "job failed", roleCallee, "USER_BUSY, attempts left", "waiting", "", "attempt_ended, scheduled"},
	{store.DialingCallee, "job failed", roleCallee, "UNALLOCATED_NUMBER", "finished: failed", "", "attempt_ended, finished"},
	{store.DialingCallee, "hangup", roleCallee, "NO_ANSWER, attempts left", "waiting", "", "attempt_ended, scheduled"},
	{store.DialingCallee, "hangup", roleCallee, "NO_ANSWER, last attempt", "finished: expired", "", "attempt_ended, finished"},
	{store.DialingCallee, "node lost", roleCallee, "attempts left", "waiting", "", "attempt_ended, scheduled"},
	{store.DialingCallee, "bridge", roleCallee, "", "", "", ""},
	{store.DialingCallee, "playback stop", roleCallee, "", "", "", ""},
	{store.DialingCallee, "deadline", "", "attempts left", "waiting", "hang up B", "attempt_ended, scheduled"},
	{store.DialingCallee, "not sent", roleCallee, "attempts left", "waiting", "hang up B", "attempt_ended, scheduled"},
	{store.DialingCallee, "probed", "", "B's leg not created yet", "", "", ""},
	{store.DialingCallee, "probed", "", "B gone", "waiting", "hang up B", "attempt_ended, scheduled"},
	{store.DialingCallee, "probed", "", "B answered", "callee_hold", "hold prompt to B, busy check of A, originate A", "callee_answered, caller_dialing"},
	{store.DialingCallee, "probed", "", "B answered, confirmation on", "confirming", "confirm prompt to B", "callee_answered"},
	{store.DialingCallee, "probed", "", "B rings", "", "", ""},
	{store.DialingCallee, "probed", "", "node unreachable", "", "", ""},
	{store.DialingCallee, "dtmf", roleCallee, "", "", "", ""},
	{store.DialingCallee, "beep", roleCallee, "", "", "", ""},
	{store.DialingCallee, "cancel", "", "", "finished: cancelled", "hang up B", "cancelled, finished"},
	{store.DialingCallee, "checked", "", "", "", "", ""},

	{store.Confirming, "claimed", "", "", "", "", ""},
	{store.Confirming, "answer", roleCallee, "", "", "", ""},
	{store.Confirming, "parked", roleCallee, "", "", "confirm prompt to B", ""},
	{store.Confirming, "parked", roleCallee, "machine detection on", "", "avmd start B, confirm prompt to B", ""},
	{store.Confirming, "job failed", roleCallee, "", "", "", ""},
	{store.Confirming, "hangup", roleCallee, "attempts left", "waiting", "", "attempt_ended, scheduled"},
	{store.Confirming, "node lost", roleCallee, "attempts left", "waiting", "hang up B", "attempt_ended, scheduled"},
	{store.Confirming, "bridge", roleCallee, "", "", "", ""},
	{store.Confirming, "playback stop", roleCallee, "", "", "confirm prompt to B", ""},
	{store.Confirming, "deadline", "", "attempts left", "waiting", "hang up B", "attempt_ended, scheduled"},
	{store.Confirming, "deadline", "", "last attempt", "finished: expired", "hang up B", "attempt_ended, finished"},
	{store.Confirming, "not sent", roleCallee, "", "", "", ""},
	{store.Confirming, "probed", "", "B gone", "waiting", "", "attempt_ended, scheduled"},
	{store.Confirming, "probed", "", "B answered", "", "confirm prompt to B", ""},
	{store.Confirming, "probed", "", "node unreachable", "", "", ""},
	{store.Confirming, "dtmf", roleCallee, "B pressed 1", "callee_hold", "hold prompt to B, busy check of A, originate A", "callee_confirmed, caller_dialing"},
	{store.Confirming, "dtmf", roleCallee, "B pressed 1, machine detection on", "callee_hold", "avmd stop B, hold prompt to B, busy check of A, originate A", "callee_confirmed, caller_dialing"},
	{store.Confirming, "dtmf", roleCallee, "B pressed 2", "finished: declined", "hang up B, SMS to A", "callee_declined, finished"},
	{store.Confirming, "dtmf", roleCallee, "B pressed 2, declining opts out", "finished: declined", "hang up B, SMS to A", "callee_declined, finished"},
	{store.Confirming, "dtmf", roleCallee, "B pressed 5", "", "", ""},
	{store.Confirming, "beep", roleCallee, "attempts left", "waiting", "hang up B", "attempt_ended, scheduled"},
	{store.Confirming, "cancel", "", "", "finished: cancelled", "hang up B", "cancelled, finished"},
	{store.Confirming, "checked", "", "", "", "", ""},

	{store.CalleeHold, "claimed", "", "", "", "", ""},
	{store.CalleeHold, "answer", roleCallee, "", "", "", ""},
	{store.CalleeHold, "answer", roleCaller, "jobs not in", "", "", ""},
	{store.CalleeHold, "answer", roleCaller, "both jobs in", "", "uuid_bridge", ""},
	{store.CalleeHold, "parked", roleCaller, "B's job in", "", "uuid_bridge", ""},
	{store.CalleeHold, "parked", roleCaller, "B's job not in", "", "", ""},
	{store.CalleeHold, "parked", roleCallee, "A's job in", "", "uuid_bridge", ""},
	{store.CalleeHold, "parked", roleCallee, "A's job not in", "", "hold prompt to B", ""},
	{store.CalleeHold, "job failed", roleCallee, "", "", "", ""},
	{store.CalleeHold, "job failed", roleCaller, "A has not answered", "finished: caller_missed", "unavailable prompt to B, SMS to A", "caller_ended, finished"},
	{store.CalleeHold, "job failed", roleCaller, "A has not answered, B's job not in", "finished: caller_missed", "SMS to A", "caller_ended, finished"},
	{store.CalleeHold, "job failed", roleCaller, "A answered", "", "", ""},
	{store.CalleeHold, "hangup", roleCallee, "", "finished: callee_left", "hang up A", "callee_hung_up, finished"},
	{store.CalleeHold, "hangup", roleCaller, "", "finished: caller_missed", "unavailable prompt to B, SMS to A", "caller_ended, finished"},
	{store.CalleeHold, "node lost", roleCallee, "attempts left", "waiting", "hang up A, hang up B", "attempt_ended, scheduled"},
	{store.CalleeHold, "bridge", roleCallee, "", "bridged", "", "bridged"},
	{store.CalleeHold, "playback stop", roleCallee, "", "", "hold prompt to B", ""},
	{store.CalleeHold, "playback stop", roleCallee, "bridge sent", "", "", ""},
	{store.CalleeHold, "playback stop", roleCallee, "the confirmation prompt B interrupted", "", "", ""},
	{store.CalleeHold, "playback stop", roleCaller, "", "", "", ""},
	{store.CalleeHold, "deadline", "", "A has not answered", "finished: caller_missed", "hang up A, unavailable prompt to B, SMS to A", "caller_ended, finished"},
	{store.CalleeHold, "deadline", "", "A answered", "", "uuid_bridge", ""},
	{store.CalleeHold, "deadline", "", "bridge sent", "finished: failed", "uuid_dump B, uuid_dump A, hang up A, hang up B", "finished"},
	{store.CalleeHold, "deadline", "", "bridge sent, its event late", "bridged", "uuid_dump B, uuid_dump A", "bridged"},
	{store.CalleeHold, "not sent", roleCaller, "", "finished: caller_missed", "hang up A, unavailable prompt to B, SMS to A", "caller_ended, finished"},
	{store.CalleeHold, "not sent", roleCaller, "connection lost, attempts left", "waiting", "hang up A, hang up B", "attempt_ended, scheduled"},
	{store.CalleeHold, "not sent", roleCallee, "", "", "", ""},
	{store.CalleeHold, "probed", "", "B gone", "finished: callee_left", "hang up A", "callee_hung_up, finished"},
	{store.CalleeHold, "probed", "", "A gone", "", "hang up A, originate A, hold prompt to B", "caller_redial, caller_dialing"},
	{store.CalleeHold, "probed", "", "A gone, A's window over", "finished: caller_missed", "hang up A, unavailable prompt to B, SMS to A", "caller_ended, finished"},
	{store.CalleeHold, "probed", "", "both bridged", "bridged", "", "bridged"},
	{store.CalleeHold, "probed", "", "bridge sent, not bridged", "finished: failed", "hang up A, hang up B", "finished"},
	{store.CalleeHold, "probed", "", "A answered", "", "uuid_bridge", ""},
	{store.CalleeHold, "probed", "", "A rings", "", "hold prompt to B", ""},
	{store.CalleeHold, "probed", "", "node unreachable", "", "", ""},
	{store.CalleeHold, "dtmf", roleCallee, "", "", "", ""},
	{store.CalleeHold, "beep", roleCallee, "", "", "", ""},
	{store.CalleeHold, "cancel", "", "", "finished: cancelled", "hang up A, cancel prompt to B", "cancelled, finished"},
	{store.CalleeHold, "checked", "", "", "", "", ""},
	{store.CalleeHold, "checked", "", "A free", "", "originate A", "caller_dialing"},
	{store.CalleeHold, "checked", "", "A busy", "", "", "caller_busy"},
	{store.CalleeHold, "checked", "", "A busy, wait over", "finished: caller_busy", "unavailable prompt to B, SMS to A", "caller_busy, finished"},
	{store.CalleeHold, "checked", "", "check failed", "", "originate A", "caller_dialing"},
	{store.CalleeHold, "deadline", "", "A being asked, no answer", "", "originate A", "caller_dialing"},
	{store.CalleeHold, "deadline", "", "A busy, asking again", "", "busy check of A", "caller_busy"},
	{store.CalleeHold, "deadline", "", "A still busy, asking again", "", "busy check of A", ""},
	{store.CalleeHold, "deadline", "", "A free again, asking again", "", "busy check of A, originate A", "caller_dialing"},
	{store.CalleeHold, "playback stop", roleCallee, "A being asked", "", "hold prompt to B", ""},
	{store.CalleeHold, "hangup", roleCallee, "A being asked", "finished: callee_left", "", "callee_hung_up, finished"},
	{store.CalleeHold, "probed", "", "A being asked", "", "hold prompt to B, busy check of A, originate A", "caller_dialing"},
	{store.CalleeHold, "cancel", "", "A being asked", "finished: cancelled", "cancel prompt to B", "cancelled, finished"},

	{store.Bridged, "claimed", "", "", "", "", ""},
	{store.Bridged, "answer", roleCaller, "", "", "", ""},
	{store.Bridged, "parked", roleCaller, "", "", "", ""},
	{store.Bridged, "job failed", roleCaller, "", "", "", ""},
	{store.Bridged, "hangup", roleCallee, "", "finished: completed", "hang up A", "finished"},
	{store.Bridged, "hangup", roleCaller, "", "finished: completed", "hang up B", "finished"},
	{store.Bridged, "node lost", roleCaller, "", "finished: completed", "hang up B", "finished"},
	{store.Bridged, "bridge", roleCallee, "", "", "", ""},
	{store.Bridged, "playback stop", roleCallee, "", "", "", ""},
	{store.Bridged, "deadline", "", "", "", "uuid_dump B, uuid_dump A", ""},
	{store.Bridged, "not sent", roleCaller, "", "", "", ""},
	{store.Bridged, "probed", "", "both up", "", "", ""},
	{store.Bridged, "probed", "", "B gone", "finished: completed", "hang up A", "finished"},
	{store.Bridged, "dtmf", roleCallee, "", "", "", ""},
	{store.Bridged, "beep", roleCallee, "", "", "", ""},
	{store.Bridged, "cancel", "", "", "", "", ""},
	{store.Bridged, "cancel", "", "end bridged", "finished: cancelled", "hang up B, hang up A", "cancelled, finished"},
	{store.Bridged, "checked", "", "", "", "", ""},
}
