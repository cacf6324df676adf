package e2e_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/e2e"
	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/internal/callrec"
	"bgcall/internal/testutil"
	"bgcall/store"
)

// scenario is one background call: who A and B are, what happens during
// it, and what must come of it.
type scenario struct {
	name           string
	caller, callee e2e.FarEnd
	policy         *api.PolicyOverride
	// callerOnCall puts A on another call before the session is made;
	// act may put it down (otherCall.hangUp), else it ends after the
	// session.
	callerOnCall bool
	// askFirst makes the session on the daemon that asks whether A is
	// busy before dialling B (caller_busy.before_callee).
	askFirst bool
	// act, when set, runs once the session exists (e.g. cancels it at some
	// moment).
	act func(ctx context.Context, c *call) error
	// repeat runs the scenario this many times one after the other
	// (default once), each judged on its own.
	repeat int
	// machineDetection: the row needs a FreeSWITCH that can hear a
	// voicemail's beep (mod_avmd); it is skipped where there is none.
	machineDetection bool
	want             want
}

// want is what the session and its channels must show.
type want struct {
	outcome  string
	attempts int
	// causes are the hangup causes of the unanswered callee attempts, in
	// order.
	causes []freeswitch.Cause
	note   string // in the "finished" timeline entry
	// answered: B answered (so A was dialled).
	answered bool
	// hold: B heard the hold prompt. Not asked of a hold too short for it
	// (FreeSWITCH starts a prompt some tens of milliseconds after it is
	// asked for, and a bridge drops one not started yet).
	hold bool
	// bridged: A answered too and the two were bridged.
	bridged bool
	// endedBy is whose phone ended a bridged call ("callee" or "caller"),
	// or "bgcall" when bgcall ended it (cancel with end_bridged).
	endedBy string
	// cancelledPrompt: B heard the cancelled prompt (cancel while B held).
	cancelledPrompt bool
	// Confirmation mode. unconfirmed: callee attempts that answered but
	// that nobody confirmed (a voicemail), each heard the confirmation
	// prompt and was hung up by bgcall; beeps: how many of those ended on a
	// voicemail's beep rather than on the time to confirm. confirmed: B
	// pressed 1 (answered is then set too); declined: B pressed 2.
	unconfirmed, beeps  int
	confirmed, declined bool
	// busyHeld: B held while A was on another call (timeline caller_busy);
	// busyDeferred: an attempt was put off, B not dialled, for the same
	// reason. Either way A is rung (and, deferred, B dialled) only once
	// A's other call is down.
	busyHeld, busyDeferred bool
}

// Far ends used by the table. Ring times are short; a ring time of
// FreeSWITCH is whole seconds, so a phone that never answers costs up to
// ringTime. Calls in progress are mostly ended by the test, as a user
// would put the phone down (talkThenHangUp): on a loaded machine bgcall
// may take a second or more to bridge, which a far end that hangs up on a
// timer would take for a caller who left.
var (
	answers      = e2e.FarEnd{Kind: e2e.Answer, Ring: 200 * time.Millisecond}
	neverAnswers = e2e.FarEnd{Kind: e2e.NoAnswer}
	busy         = e2e.FarEnd{Kind: e2e.Busy, Ring: 100 * time.Millisecond}
	oneSecond    = "1s"
	maxOne, two  = 1, 2
	yes          = true
)

var scenarios = []scenario{
	{
		// B's phone hangs up by itself, on a timer long enough for any
		// bridge.
		name:   "completed_callee_hangs_up",
		caller: answers, callee: e2e.FarEnd{Kind: e2e.Answer, Ring: 200 * time.Millisecond, Talk: 6 * time.Second},
		want: want{outcome: "completed", attempts: 1, answered: true, bridged: true, endedBy: "callee"},
	},
	{
		name:   "completed_caller_hangs_up",
		caller: answers, callee: answers,
		act:  talkThenHangUp("caller"),
		want: want{outcome: "completed", attempts: 1, answered: true, bridged: true, endedBy: "caller"},
	},
	{
		// The core flow again and again: every call bridged and
		// completed, whichever of A's originate reply and the bridge
		// FreeSWITCH reports first.
		name:   "completed_ten_in_a_row",
		caller: e2e.FarEnd{Kind: e2e.Answer, Ring: 100 * time.Millisecond},
		callee: e2e.FarEnd{Kind: e2e.Answer, Ring: 100 * time.Millisecond},
		act:    talkThenHangUp("callee"),
		repeat: 10,
		want:   want{outcome: "completed", attempts: 1, answered: true, bridged: true, endedBy: "callee"},
	},
	{
		name:   "caller_missed_no_answer",
		caller: neverAnswers, callee: answers,
		want: want{outcome: "caller_missed", attempts: 1, answered: true, hold: true},
	},
	{
		name:   "caller_missed_busy",
		caller: busy, callee: answers,
		want: want{outcome: "caller_missed", attempts: 1, answered: true},
	},
	{
		name:   "callee_left",
		caller: neverAnswers, callee: answers,
		act: func(ctx context.Context, c *call) error {
			if err := c.waitHold(ctx); err != nil {
				return err
			}
			return c.hangUp(ctx, "callee")
		},
		want: want{outcome: "callee_left", attempts: 1, answered: true, hold: true},
	},
	{
		name:   "no_answer_retried",
		caller: answers, callee: e2e.FarEnd{Kind: e2e.AnswerOnAttempt, Ring: 200 * time.Millisecond, Before: 1},
		policy: &api.PolicyOverride{RingTime: oneSecond},
		act:    talkThenHangUp("caller"),
		want: want{outcome: "completed", attempts: 2, causes: []freeswitch.Cause{freeswitch.NoAnswer},
			answered: true, bridged: true, endedBy: "caller"},
	},
	{
		name:   "busy_retried",
		caller: answers, callee: e2e.FarEnd{Kind: e2e.BusyThenAnswer, Ring: 200 * time.Millisecond, Before: 1},
		act: talkThenHangUp("caller"),
		want: want{outcome: "completed", attempts: 2, causes: []freeswitch.Cause{freeswitch.UserBusy},
			answered: true, bridged: true, endedBy: "caller"},
	},
	{
		name:   "rejected_gives_up",
		caller: answers, callee: e2e.FarEnd{Kind: e2e.Reject, Ring: 100 * time.Millisecond},
		want: want{outcome: "expired", attempts: rejectGiveUp,
			causes: []freeswitch.Cause{freeswitch.CallRejected, freeswitch.CallRejected},
			note:   fmt.Sprintf("CALL_REJECTED %d times", rejectGiveUp)},
	},
	{
		name:   "unallocated_fails_at_once",
		caller: answers, callee: e2e.FarEnd{Kind: e2e.Unallocated, Ring: 100 * time.Millisecond},
		want: want{outcome: "failed", attempts: 1, causes: []freeswitch.Cause{freeswitch.UnallocatedNumber},
			note: "UNALLOCATED_NUMBER is permanent"},
	},
	{
		name:   "max_attempts",
		caller: answers, callee: neverAnswers,
		policy: &api.PolicyOverride{RingTime: oneSecond, MaxAttempts: &two},
		want: want{outcome: "expired", attempts: 2, causes: []freeswitch.Cause{freeswitch.NoAnswer, freeswitch.NoAnswer},
			note: "2 attempts made"},
	},
	{
		name:   "early_media_is_no_answer",
		caller: answers, callee: e2e.FarEnd{Kind: e2e.EarlyMedia, Ring: 100 * time.Millisecond},
		policy: &api.PolicyOverride{RingTime: oneSecond, MaxAttempts: &maxOne},
		want:   want{outcome: "expired", attempts: 1, causes: []freeswitch.Cause{freeswitch.NoAnswer}},
	},
	{
		name:   "cancelled_while_waiting",
		caller: answers, callee: neverAnswers,
		policy: &api.PolicyOverride{RingTime: oneSecond, FirstInterval: "1m"},
		act: func(ctx context.Context, c *call) error {
			if _, err := c.waitSession(ctx, "the wait after the first attempt", func(s api.Session) bool {
				return s.State == "waiting" && s.Attempts == 1
			}); err != nil {
				return err
			}
			_, err := c.cancel(ctx, false)
			return err
		},
		want: want{outcome: "cancelled", attempts: 1, causes: []freeswitch.Cause{freeswitch.NoAnswer}},
	},
	{
		name:   "cancelled_while_callee_rings",
		caller: answers, callee: neverAnswers,
		act: func(ctx context.Context, c *call) error {
			if _, err := c.waitLeg(ctx, "callee", freeswitch.EventChannelProgress); err != nil {
				return err
			}
			_, err := c.cancel(ctx, false)
			return err
		},
		want: want{outcome: "cancelled", attempts: 1},
	},
	{
		name:   "cancelled_while_callee_holds_and_caller_rings",
		caller: neverAnswers, callee: answers,
		act: func(ctx context.Context, c *call) error {
			if err := c.waitHold(ctx); err != nil {
				return err
			}
			_, err := c.cancel(ctx, false)
			return err
		},
		want: want{outcome: "cancelled", attempts: 1, answered: true, hold: true, cancelledPrompt: true},
	},
	{
		// Confirmation mode: a voicemail answers for B on every attempt
		// and presses nothing. That is no answer: B's leg is hung up, the
		// attempt retried, and the policy ends the session.
		name:   "voicemail_not_confirmed_retried_then_expired",
		caller: answers, callee: e2e.FarEnd{Kind: e2e.Voicemail, Ring: 200 * time.Millisecond},
		policy: &api.PolicyOverride{Confirm: &yes, MaxAttempts: &two},
		want:   want{outcome: "expired", attempts: 2, unconfirmed: 2, note: "2 attempts made"},
	},
	{
		name:   "confirmed_with_1_then_completed",
		caller: answers, callee: e2e.FarEnd{Kind: e2e.PressesOne, Ring: 200 * time.Millisecond, Talk: time.Second},
		policy: &api.PolicyOverride{Confirm: &yes},
		act:    talkThenHangUp("caller"),
		want:   want{outcome: "completed", attempts: 1, confirmed: true, answered: true, bridged: true, endedBy: "caller"},
	},
	{
		name:   "declined_with_2",
		caller: answers, callee: e2e.FarEnd{Kind: e2e.PressesTwo, Ring: 200 * time.Millisecond, Talk: time.Second},
		policy: &api.PolicyOverride{Confirm: &yes},
		want:   want{outcome: "declined", attempts: 1, declined: true, note: "B declined and opted out of background calls from"},
	},
	{
		// Machine detection: the voicemail's beep ends the attempt well
		// before the time to confirm is over.
		name:   "voicemail_beep_is_no_answer",
		caller: answers, callee: e2e.FarEnd{Kind: e2e.Voicemail, Ring: 200 * time.Millisecond, Talk: 300 * time.Millisecond},
		policy:           &api.PolicyOverride{Confirm: &yes, MaxAttempts: &maxOne},
		machineDetection: true,
		want:             want{outcome: "expired", attempts: 1, unconfirmed: 1, beeps: 1, note: "1 attempts made"},
	},
	{
		// A cancel does not cut a call in progress unless asked to.
		name:   "cancel_refused_while_bridged",
		caller: answers, callee: answers,
		act: func(ctx context.Context, c *call) error {
			if err := c.waitBridged(ctx); err != nil {
				return err
			}
			if _, err := c.cancel(ctx, false); !isAPIError(err, "bridged") {
				return fmt.Errorf("cancel of a bridged call without end_bridged: %v, want the daemon's \"bridged\" refusal", err)
			}
			return c.hangUp(ctx, "callee")
		},
		want: want{outcome: "completed", attempts: 1, answered: true, bridged: true, endedBy: "callee"},
	},
	{
		name:   "cancelled_while_bridged_with_end_bridged",
		caller: answers, callee: answers,
		act: func(ctx context.Context, c *call) error {
			if err := c.waitBridged(ctx); err != nil {
				return err
			}
			_, err := c.cancel(ctx, true)
			return err
		},
		want: want{outcome: "cancelled", attempts: 1, answered: true, bridged: true, endedBy: "bgcall"},
	},
	{
		// A stays on another call all the while B holds: B hears the hold
		// prompt, then the unavailable prompt; A is never rung and gets
		// the message.
		name:   "caller_busy_while_callee_holds",
		caller: answers, callee: answers,
		callerOnCall: true,
		want:         want{outcome: "caller_busy", attempts: 1, answered: true, hold: true, busyHeld: true, note: "caller busy"},
	},
	{
		// A puts the other call down while B holds: A is rung then, and
		// A and B talk.
		name:   "caller_busy_then_free",
		caller: answers, callee: answers,
		callerOnCall: true,
		act:          then(freeCaller(store.KindCallerBusy, 1), talkThenHangUp("caller")),
		want: want{outcome: "completed", attempts: 1, answered: true, hold: true, bridged: true, endedBy: "caller",
			busyHeld: true},
	},
	{
		// Asked before dialling B: a busy A puts the attempts off, none
		// counted, and B is dialled once A is free.
		name:   "caller_busy_before_callee",
		caller: answers, callee: answers,
		callerOnCall: true, askFirst: true,
		act:  then(freeCaller(store.KindDeferred, 2), talkThenHangUp("caller")),
		want: want{outcome: "completed", attempts: 1, answered: true, bridged: true, endedBy: "caller", busyDeferred: true},
	},
}

func TestScenariosSimulator(t *testing.T)      { runScenarios(t, simulator) }
func TestScenariosRealFreeSWITCH(t *testing.T) { runScenarios(t, realFreeSWITCH) }

// runScenarios runs the table on one backend, the scenarios side by side,
// and beside the other tests of the package: they spend their time
// waiting for phones to ring.
func runScenarios(t *testing.T, start func(*testing.T) *backend) {
	t.Parallel()
	b := start(t)
	tests := make(map[string]func(*testing.T))
	for _, sc := range scenarios {
		tests[sc.name] = func(t *testing.T) {
			if sc.machineDetection && !b.machineDetection {
				t.Skipf("%s cannot hear a voicemail's beep (no mod_avmd loaded); TestMachineDetectionModule checks it says so", b.name)
			}
			if sc.machineDetection {
				testutil.WaitFor(t, "machine detection on", func() bool { return lines(b.log, "machine detection on", "node=fs1") != "" })
			}
			runs, failed := max(sc.repeat, 1), 0
			for range runs {
				if !b.run(t, sc) {
					failed++
				}
			}
			if failed > 0 && runs > 1 {
				t.Errorf("%d of %d runs failed", failed, runs)
			}
		}
	}
	together(t, tests)
}

// together runs the tests as subtests, all at once. Unlike t.Parallel it
// is not bounded by -parallel (GOMAXPROCS by default): these tests wait for
// phones, not for a CPU.
func together(t *testing.T, tests map[string]func(*testing.T)) {
	var wg sync.WaitGroup
	for name, test := range tests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name, test)
		}()
	}
	wg.Wait()
}

// run runs sc once on b and judges it; false if it failed.
func (b *backend) run(t *testing.T, sc scenario) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	caller, callee := b.subscriber(sc.caller), b.subscriber(sc.callee)
	client := b.api
	if sc.askFirst {
		client = b.askingFirst(t)
	}
	c := b.followOn(ctx, t, caller, client)
	if sc.callerOnCall {
		c.other = b.onAnotherCall(ctx, t, caller)
		defer func() {
			if err := c.other.hangUp(ctx); err != nil {
				t.Errorf("%v", err)
			}
		}()
	}
	c.create(ctx, t, callee, sc.policy)
	ok := true
	fail := func(format string, args ...any) {
		t.Helper()
		ok = false
		t.Errorf(format, args...)
	}
	if sc.act != nil {
		if err := sc.act(ctx, c); err != nil {
			fail("%v", err)
		}
	}
	final, err := c.waitSession(ctx, "the outcome", func(s api.Session) bool { return s.State == "finished" })
	if err != nil {
		fail("%v", err)
	}
	if err := c.waitLegsDown(ctx); err != nil {
		fail("%v", err)
	}
	if ok {
		judge(ctx, c, final, sc.want, fail)
	}
	if !ok {
		t.Logf("%s", c.report())
	}
	return ok
}

// judge holds the session and its channels to w, and to what every
// background call must do.
func judge(ctx context.Context, c *call, s api.Session, w want, fail func(string, ...any)) {
	// Exactly one outcome, the one wanted, stored once.
	if s.Outcome != w.outcome {
		fail("outcome %q (%s), want %q", s.Outcome, s.Cause, w.outcome)
	}
	var finished []api.Entry
	var attemptLegs []string
	for _, e := range s.Timeline {
		switch e.Kind {
		case store.KindFinished:
			finished = append(finished, e)
		case store.KindAttempt:
			attemptLegs = append(attemptLegs, e.UUID)
		}
	}
	if streamed := c.finishedEntries(ctx); len(finished) != 1 || streamed != 1 {
		fail("%d finished entries in the timeline, %d on the watch stream; want exactly one", len(finished), streamed)
	} else if !strings.Contains(finished[0].Note, w.note) {
		fail("finished %q, want it to say %q", finished[0].Note, w.note)
	}

	// Every attempt was one callee leg, never two at once; the timeline
	// names the legs FreeSWITCH saw.
	callees, callers := c.legsOf("callee"), c.legsOf("caller")
	if s.Attempts != w.attempts || len(callees) != w.attempts {
		fail("%d attempts stored, %d callee legs on FreeSWITCH; want %d", s.Attempts, len(callees), w.attempts)
	}
	var calleeUUIDs []string
	for _, l := range callees {
		calleeUUIDs = append(calleeUUIDs, l.ch.UUID)
	}
	if !slices.Equal(attemptLegs, calleeUUIDs) {
		fail("the timeline's attempts dialled %v, FreeSWITCH saw callee legs %v", attemptLegs, calleeUUIDs)
	}
	isCallee := func(ch callrec.Channel) bool { return slices.Contains(calleeUUIDs, ch.UUID) }
	if n := c.b.rec.MaxUp(isCallee); n > 1 {
		fail("%d callee legs up at once", n)
	}

	// Caller ID: B's phone shows A's number, A's phone shows B's.
	for _, l := range callees {
		if l.far.UUID == "" {
			fail("callee leg %s: no far end channel", l.ch.UUID)
		} else if l.far.CallerNumber != c.caller {
			fail("callee leg %s: B's phone shows caller %q, want A's %s", l.ch.UUID, l.far.CallerNumber, c.caller)
		}
	}
	for _, l := range callers {
		if l.far.UUID == "" {
			fail("caller leg %s: no far end channel", l.ch.UUID)
		} else if want := s.Callee; l.far.CallerNumber != want {
			fail("caller leg %s: A's phone shows caller %q, want B's %s", l.ch.UUID, l.far.CallerNumber, want)
		}
	}

	// Confirmation: every answered leg was asked; those nobody confirmed
	// were hung up by bgcall, and the timeline says why.
	checkConfirmation(c, s, callees, w, fail)

	// Each unanswered attempt ended with the cause wanted.
	for i, cause := range w.causes {
		if i >= len(callees) {
			break
		}
		if l := callees[i]; !l.ch.Answered.IsZero() || l.ch.HangupCause != cause {
			fail("attempt %d: answered %v, hangup cause %s; want unanswered, %s", i+1, !l.ch.Answered.IsZero(), l.ch.HangupCause, cause)
		}
	}

	// A is dialled once B answered (and confirmed, when asked), and only
	// then.
	var answered *leg
	for i, l := range callees {
		if !l.ch.Answered.IsZero() && (w.answered || w.declined) {
			answered = &callees[i]
		}
	}
	if (answered != nil) != (w.answered || w.declined) {
		fail("B answered: %v, want %v", answered != nil, w.answered)
	}
	// A is rung once B answered, unless A was busy all the while.
	if wantCallers := map[bool]int{true: 1}[w.answered && w.outcome != "caller_busy"]; len(callers) != wantCallers {
		fail("%d caller legs, want %d", len(callers), wantCallers)
	}
	if answered != nil && len(callers) == 1 && callers[0].ch.Created.Before(answered.ch.Answered) {
		fail("A was dialled before B answered")
	}

	// The prompts B heard, and none to A.
	if answered != nil && !w.declined {
		checkPrompt(answered.ch, promptHold, w.hold, !w.hold, fail)
		checkPrompt(answered.ch, promptUnavailable, toldA(w.outcome), false, fail)
		checkPrompt(answered.ch, promptCancelled, w.cancelledPrompt, false, fail)
	}
	for _, l := range callers {
		if len(l.ch.Playbacks) > 0 {
			fail("A's leg played %v: prompts are for B", l.ch.Playbacks)
		}
	}

	// The bridge, and who ended it.
	var caller *leg
	if len(callers) == 1 {
		caller = &callers[0]
	}
	bridged := answered != nil && caller != nil && c.b.rec.Bridged(answered.ch.UUID, caller.ch.UUID)
	if bridged != w.bridged {
		fail("CHANNEL_BRIDGE of B's and A's legs: %v, want %v", bridged, w.bridged)
	}
	if bridged {
		checkEnd(c, *answered, *caller, w.endedBy, fail)
	}

	// A hears of a call B made and A missed, and of nothing else. The
	// message goes out after the outcome is stored (the notifier sends it
	// on its own), so the one owed is waited for.
	toA := func(e esl.Event) bool {
		return e.Name == "MESSAGE" && e.Header("to") == c.caller+"@"+chatDomain && strings.Contains(e.Body, s.Callee)
	}
	told := toldA(w.outcome) || w.outcome == "declined"
	if told {
		waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		// A timeout is judged below, with the messages seen.
		_ = c.b.rec.WaitFor(waitCtx, func(r *callrec.Recorder) bool { return len(r.Events(toA)) > 0 })
		cancel()
	}
	sms := c.b.rec.Events(toA)
	switch {
	case told && len(sms) != 1:
		fail("%d messages to A, want exactly one for %s", len(sms), w.outcome)
	case !told && len(sms) > 0:
		fail("%d messages to A, want them only for caller_missed, caller_busy and declined", len(sms))
	case w.outcome == "declined" && !strings.Contains(sms[0].Body, "declined"):
		fail("the message to A %q does not say B declined", sms[0].Body)
	}
	judgeBusy(c, s, w, fail)

	// B's 2 means "never from this caller" here (confirm.decline_opts_out):
	// A's next request for B is refused.
	if w.declined {
		if _, _, err := c.b.api.Create(ctx, api.CreateRequest{Caller: c.caller, Callee: s.Callee}); !isAPIError(err, "opted_out") {
			fail("a request from A to B after B declined: %v, want the daemon's \"opted_out\" refusal", err)
		}
	}

	// Nothing is left up (waitLegsDown), and every leg was seen to end.
	for _, l := range append(callees, callers...) {
		if l.ch.HungUp.IsZero() && l.far.HungUp.IsZero() {
			fail("%s leg %s never hung up", l.role, l.ch.UUID)
		}
	}
}

// checkConfirmation holds the confirmation mode to w: each callee leg that
// answered in it heard the confirmation prompt; the legs nobody confirmed
// were hung up by bgcall, and each such attempt is on the timeline as not
// confirmed (or a beep heard); B's 1 and 2 are there too.
func checkConfirmation(c *call, s api.Session, callees []leg, w want, fail func(string, ...any)) {
	asked := w.unconfirmed > 0 || w.confirmed || w.declined
	answeredLegs := 0
	for i, l := range callees {
		if l.ch.Answered.IsZero() {
			continue
		}
		answeredLegs++
		if heard := playedPrompt(l.ch, promptConfirm); heard != asked {
			fail("callee leg %s: heard the confirmation prompt %v, want %v (played %v)", l.ch.UUID, heard, asked, l.ch.Playbacks)
		}
		if i < w.unconfirmed && c.killedBefore(l.ch.UUID, time.Time{}) == nil {
			fail("callee leg %s answered, nobody confirmed, and bgcall did not hang it up", l.ch.UUID)
		}
		// B's key, as FreeSWITCH reported it on bgcall's leg.
		if key := map[bool]string{true: "1"}[w.confirmed] + map[bool]string{true: "2"}[w.declined]; i >= w.unconfirmed && key != "" &&
			!slices.ContainsFunc(l.ch.Events, func(e esl.Event) bool {
				return e.Name == freeswitch.EventDTMF && e.Header(freeswitch.HeaderDTMFDigit) == key
			}) {
			fail("callee leg %s: no DTMF %s event", l.ch.UUID, key)
		}
	}
	want := w.unconfirmed
	if w.answered || w.declined {
		want++
	}
	if answeredLegs != want {
		fail("%d callee legs answered, want %d", answeredLegs, want)
	}
	var unconfirmed, beeps, confirmed, declined int
	for _, e := range s.Timeline {
		switch {
		case e.Kind == store.KindAttemptEnded && strings.Contains(e.Note, "no confirmation"):
			unconfirmed++
		case e.Kind == store.KindAttemptEnded && strings.Contains(e.Note, "beep"):
			unconfirmed++
			beeps++
		case e.Kind == store.KindCalleeConfirmed:
			confirmed++
		case e.Kind == store.KindCalleeDeclined:
			declined++
		}
	}
	if unconfirmed != w.unconfirmed || beeps != w.beeps {
		fail("timeline: %d attempts not confirmed (%d on a beep), want %d (%d)", unconfirmed, beeps, w.unconfirmed, w.beeps)
	}
	if (confirmed == 1) != w.confirmed || confirmed > 1 || (declined == 1) != w.declined || declined > 1 {
		fail("timeline: %d callee_confirmed, %d callee_declined; want confirmed %v, declined %v", confirmed, declined, w.confirmed, w.declined)
	}
}

// playedPrompt reports whether ch started playing prompt.
func playedPrompt(ch callrec.Channel, prompt string) bool {
	for _, e := range ch.Events {
		if e.Name == freeswitch.EventPlaybackStart && strings.HasSuffix(e.Header(freeswitch.HeaderPlaybackFilePath), prompt) {
			return true
		}
	}
	return false
}

// toldA reports whether a session ending with outcome tells A that B
// called, and B why A did not come: A missed the call, or was busy.
func toldA(outcome string) bool { return outcome == "caller_missed" || outcome == "caller_busy" }

// checkPrompt checks that ch played prompt from start to stop, or not at
// all; either, if maybe. FreeSWITCH names the file by its full path in the
// sounds directory.
func checkPrompt(ch callrec.Channel, prompt string, want, maybe bool, fail func(string, ...any)) {
	var started, stopped bool
	for _, e := range ch.Events {
		if !strings.HasSuffix(e.Header(freeswitch.HeaderPlaybackFilePath), prompt) {
			continue
		}
		started = started || e.Name == freeswitch.EventPlaybackStart
		stopped = stopped || e.Name == freeswitch.EventPlaybackStop
	}
	if started != stopped || (started != want && !maybe) {
		fail("B's leg %s: %s started %v, stopped %v; want %v (played %v)", ch.UUID, prompt, started, stopped, want, ch.Playbacks)
	}
}

// checkEnd checks who ended a bridged call: a phone hanging up (its
// channel ends first, and bgcall sent no uuid_kill for the call before)
// or bgcall (uuid_kill).
func checkEnd(c *call, callee, caller leg, by string, fail func(string, ...any)) {
	if by == "bgcall" {
		if c.killedBefore(callee.ch.UUID, time.Time{}) == nil && c.killedBefore(caller.ch.UUID, time.Time{}) == nil {
			fail("bgcall ended the bridged call without uuid_kill")
		}
		return
	}
	ender := map[string]leg{"callee": callee, "caller": caller}[by]
	for _, l := range []leg{callee, caller} {
		if k := c.killedBefore(l.ch.UUID, ender.far.HungUp); k != nil {
			fail("bgcall sent %q at %s, before the %s's phone ended the call at %s",
				k.Line, k.At.Format("15:04:05.000"), by, ender.far.HungUp.Format("15:04:05.000"))
		}
	}
	order := c.b.rec.HangupOrder(slices.Compact([]string{callee.far.UUID, callee.ch.UUID, caller.ch.UUID, caller.far.UUID})...)
	if len(order) == 0 || order[0] != ender.far.UUID {
		fail("the call ended by channel %v first, want the %s's phone (%s)", order, by, ender.far.UUID)
	}
	if cause := ender.far.HangupCause; cause != freeswitch.NormalClearing {
		fail("the %s's phone hung up with %s, want NORMAL_CLEARING", by, cause)
	}
}
