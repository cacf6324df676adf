package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/store"
)

// TestHangupWithheldIsForgotten: a replica woke from a pause past its
// lease, and a deadline of a session another replica took over meanwhile
// doomed B's leg; the fence withheld the hangup. The new owner bridged that
// very leg. Once the lease is regained, nothing may send the withheld
// hangup after all (the doomed leg's node coming back, an event of the
// leg): the doom was the old owner's, and void.
func TestHangupWithheldIsForgotten(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	m.e.fence.until = time.Time{} // the lease is in doubt
	m.e.closer.doom("s1", legB, "fs1", time.Minute)
	settle(ctx, m.e)
	if cmds := m.sw.sent(); len(cmds) != 0 {
		t.Fatalf("sent while the lease was in doubt: %q", cmds)
	}
	m.e.fence.until = time.Now().Add(time.Hour) // regained
	m.e.closer.retryNode("fs1")
	m.e.closer.observe(&esl.Event{Node: "fs1", Name: freeswitch.EventChannelAnswer, UniqueID: legB})
	m.e.closer.flush()
	settle(ctx, m.e)
	if cmds := m.sw.sent(); len(cmds) != 0 {
		t.Errorf("a hangup withheld for the lease went out once it was regained: %q", cmds)
	}
}

// TestBridgeThatNeverLeftIsTriedAgain: A answered while B held, and the
// uuid_bridge could not be sent (the node's event socket was cut a moment
// earlier). Both parties are waiting: once the node is back, the legs are
// asked about and bridged, instead of the bridge deadline ending the call
// as failed and hanging both up.
func TestBridgeThatNeverLeftIsTriedAgain(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	s := sessionIn(store.CalleeHold, m.st.now)
	m.st.put(s)
	tr := m.w.track(s)
	tr.calleeParked, tr.callerParked = true, true
	m.sw.apiErr = fmt.Errorf("fs1: %w", esl.ErrNotConnected)
	m.w.step(ctx, tr, input{kind: inAnswer, leg: roleCaller, at: time.Now()})
	settle(ctx, m.e)
	m.sw.apiErr = nil // the node is back
	tr = m.w.live[s.ID]
	if tr == nil || tr.timer == nil {
		t.Fatal("the session is not waiting for anything")
	}
	m.w.handle(ctx, job{kind: jobTimer, id: s.ID, gen: tr.timerGen})
	settle(ctx, m.e)

	got, _ := m.st.Get(ctx, s.ID)
	if got.State != store.CalleeHold {
		t.Errorf("session %s %s; want it still holding B, the bridge sent again", got.State, got.Outcome)
	}
	bridges := 0
	for _, c := range m.sw.sent() {
		if strings.HasPrefix(c, "uuid_kill") {
			t.Errorf("sent %q", c)
		}
		if strings.HasPrefix(c, "uuid_bridge") {
			bridges++
		}
	}
	if bridges != 2 {
		t.Errorf("uuid_bridge sent %d times, want the one that failed and one more: %q", bridges, m.sw.sent())
	}
}

// TestEventsLostWhileTheNodeWasAwayAreAskedAbout: A answered while the
// event socket of the node was cut, so the answer never came (the
// reconnect reports only the channels that are gone). When the node is
// back, the sessions on it are read again and FreeSWITCH asked about their
// legs: A is bridged to B, instead of being hung up at the ring deadline
// and recorded as not answering.
func TestEventsLostWhileTheNodeWasAwayAreAskedAbout(t *testing.T) {
	m := newMachine(t)
	events := make(chan esl.Event, 1)
	m.sw.events = events
	ctx, cancel := context.WithCancel(context.Background())
	dispatched := make(chan struct{})
	go func() { defer close(dispatched); m.e.dispatch(ctx) }()
	defer func() { cancel(); <-dispatched }()

	s := sessionIn(store.CalleeHold, m.st.now)
	m.st.put(s)
	m.w.track(s)
	events <- esl.Event{Node: "fs1", Name: esl.EventNodeUp}
	select {
	case j := <-m.w.inbox:
		m.w.handle(ctx, j)
	case <-time.After(5 * time.Second):
		t.Fatal("the node came back, and the session on it was not looked at again")
	}
	settle(ctx, m.e)
	got, _ := m.st.Get(ctx, s.ID)
	cmds := strings.Join(m.sw.sent(), "\n")
	if got.State != store.CalleeHold || !strings.Contains(cmds, "uuid_bridge "+legB+" "+legA) || strings.Contains(cmds, "uuid_kill") {
		t.Errorf("session %s %s after the node came back; sent:\n%s\nwant A, who answered meanwhile, bridged to B", got.State, got.Outcome, cmds)
	}
}

// TestBridgeAfterAskingSurvivesTheLateCancelOfAsOriginate: FreeSWITCH said
// A answered (after a takeover, or once the node was back), so A is bridged
// to B at once, while A's originate may still be running; the bridge takes
// A's leg out of it, and FreeSWITCH ends that originate with
// ORIGINATOR_CANCEL. That late job is not A refusing the call: the session
// must not end as caller_missed, nor B be hung up.
func TestBridgeAfterAskingSurvivesTheLateCancelOfAsOriginate(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	s := sessionIn(store.CalleeHold, m.st.now)
	m.st.put(s)
	tr := m.w.track(s)
	up := legStatus{exists: true, answered: true}
	m.w.step(ctx, tr, input{kind: inProbed, probed: &probed{callee: up, caller: up}})
	settle(ctx, m.e)
	m.w.step(ctx, tr, input{kind: inJobFailed, leg: roleCaller, cause: freeswitch.OriginatorCancel, at: time.Now()})
	settle(ctx, m.e)
	got, _ := m.st.Get(ctx, s.ID)
	cmds := strings.Join(m.sw.sent(), "\n")
	if got.State != store.CalleeHold || strings.Contains(cmds, "uuid_kill") || len(m.sms.sent) > 0 {
		t.Errorf("session %s %s after the late ORIGINATOR_CANCEL of A's originate; sent:\n%s", got.State, got.Outcome, cmds)
	}
}

// TestNoCalleeDialledAfterACancel: the claim stored the attempt, and its
// originate was held up (its worker waited seconds on Redis for another
// session); meanwhile a cancel from another replica was acknowledged. B
// must not be dialled after that.
func TestNoCalleeDialledAfterACancel(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	s := sessionIn(store.DialingCallee, m.st.now)
	cancelled := s
	cancelled.State, cancelled.Outcome, cancelled.Owner, cancelled.Version = store.Finished, store.Cancelled, "", s.Version+1
	m.st.put(cancelled)
	m.w.handle(ctx, job{kind: jobClaimed, id: s.ID, sess: s}) // the claim as it was
	settle(ctx, m.e)
	for _, c := range m.sw.sent() {
		if strings.Contains(c, "originate") {
			t.Errorf("B dialled after the cancel: %s", c)
		}
	}
	if m.w.live[s.ID] != nil {
		t.Error("the cancelled session is still steered")
	}
}

// TestCancelAcknowledgedAsBsOriginateLeaves: another replica's cancel lands
// after the steering replica checked that the session still dials B, and
// before B's originate is written (the fault run's seed 17: the two in the
// same millisecond). The cancel is not acknowledged before the originate
// is written, so its teardown finds the leg; or the originate is not sent.
func TestCancelAcknowledgedAsBsOriginateLeaves(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	s := sessionIn(store.DialingCallee, m.st.now)
	m.st.put(s)
	acked := make(chan int, 1) // how many commands were sent when the cancel was acknowledged
	var once sync.Once
	m.sw.beforeTurn = func() {
		once.Do(func() { // B's originate's turn: its check is behind it
			done := make(chan struct{})
			go func() {
				defer close(done)
				if _, err := m.e.Cancel(ctx, s.ID, false); err != nil {
					t.Errorf("cancel: %v", err)
				}
				acked <- len(m.sw.sent())
			}()
			select {
			case <-done: // acknowledged before the originate left
			case <-m.st.refusedSending: // ordered after it: let it go
			}
		})
	}
	m.w.handle(ctx, job{kind: jobClaimed, id: s.ID, sess: s})
	settle(ctx, m.e)
	var n int
	select {
	case n = <-acked:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancel was never acknowledged")
	}
	settle(ctx, m.e)
	sent := m.sw.sent()
	originated := false
	for i, c := range sent {
		if !strings.Contains(c, "originate") {
			continue
		}
		originated = true
		if i >= n {
			t.Errorf("B's originate written after the cancel was acknowledged (command %d, acknowledged after %d): %s", i+1, n, c)
		}
	}
	if originated && !slices.ContainsFunc(sent, func(c string) bool { return strings.Contains(c, "uuid_kill "+legB) }) {
		t.Errorf("B was dialled and the cancel did not hang the leg up; sent %q", sent)
	}
	if got, _ := m.st.Get(ctx, s.ID); got.Outcome != store.Cancelled {
		t.Errorf("outcome %q, want cancelled", got.Outcome)
	}
}

// TestOriginateWithheldUnlessMarked: B's originate goes only while the
// store holds its mark. A mark that lapsed unrenewed before the command's
// turn (a paused process, Redis gone meanwhile) withholds it, and the
// session is checked again after the grace; a turn that comes late while
// the mark is renewed (a slow node) still sends it. A store that cannot
// mark it at all does not stop the call: it goes unmarked, under the
// lease's gate. Each mark set is taken away after.
func TestOriginateWithheldUnlessMarked(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error // BeginSending's
		noRenewal bool
		pause     time.Duration // before the command's turn
		sent      bool
	}{
		{"marked", nil, false, 0, true},
		{"the store cannot mark it", errors.New("redis: connection refused"), false, 0, true},
		{"the mark lapsed unrenewed", nil, true, 100 * time.Millisecond, false},
		{"a late turn, the mark renewed", nil, false, 100 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t)
			ctx := context.Background()
			m.e.sendingHold = 40 * time.Millisecond
			m.st.sendingErr, m.st.noRenewal = tc.err, tc.noRenewal
			s := sessionIn(store.DialingCallee, m.st.now)
			m.st.put(s)
			turns := 0
			m.sw.beforeTurn = func() {
				turns++
				time.Sleep(tc.pause) // the process paused, or the node slow
			}
			m.w.handle(ctx, job{kind: jobClaimed, id: s.ID, sess: s})
			settle(ctx, m.e)
			sent := slices.ContainsFunc(m.sw.sent(), func(c string) bool { return strings.Contains(c, "originate") })
			if sent != tc.sent {
				t.Errorf("B's originate sent: %v, want %v (%d turns, sent %q)", sent, tc.sent, turns, m.sw.sent())
			}
			if tr := m.w.live[s.ID]; !tc.sent && (tr == nil || !tr.recheck) {
				t.Error("the withheld originate is not followed by a check of the session")
			}
			m.e.marks.Wait() // taken away off the session's lane
			if leg := m.st.marked(s.ID); leg != "" {
				t.Errorf("the mark of leg %s was left behind", leg)
			}
			if tc.err == nil && m.st.marks == 0 {
				t.Error("the originate was never marked: the test proves nothing")
			}
		})
	}
}

// TestMarkTakenAwayOffTheLane: taking an originate's mark away waits for
// Redis; the session's lane does not, so its next command (A's bridge, a
// prompt) is not held up by a slow or lost reply. The fault run's seed 15
// caught a bridge held up by it until the bridge's deadline called it
// failed.
func TestMarkTakenAwayOffTheLane(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	unblock := make(chan struct{})
	m.st.endSending = func() { <-unblock } // Redis answers nothing meanwhile
	defer func() { close(unblock); m.e.marks.Wait() }()
	s := sessionIn(store.DialingCallee, m.st.now)
	m.st.put(s)
	m.w.handle(ctx, job{kind: jobClaimed, id: s.ID, sess: s})
	done := make(chan struct{})
	go func() { settle(ctx, m.e); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the session's lane waits for Redis to take B's originate's mark away")
	}
	if !slices.ContainsFunc(m.sw.sent(), func(c string) bool { return strings.Contains(c, "originate") }) {
		t.Errorf("B's originate not sent: %q", m.sw.sent())
	}
}

// TestCallerOriginateNotSentAfterACancel: B answered and the worker
// stored A's leg; a cancel landed before A's originate's turn. A is not
// rung, and the session is let go.
func TestCallerOriginateNotSentAfterACancel(t *testing.T) {
	m := newMachine(t)
	m.e.opt.CallerBusy.Check = BusyOff // A is dialled as B answers
	ctx := context.Background()
	s := sessionIn(store.DialingCallee, m.st.now)
	m.st.put(s)
	tr := m.w.track(s)
	tr.calleeParked = true
	m.w.step(ctx, tr, input{kind: inAnswer, leg: roleCallee, at: time.Now()})
	held, _ := m.st.Get(ctx, s.ID)
	if held.State != store.CalleeHold || held.CallerLeg == "" {
		t.Fatalf("after B's answer: %s with caller leg %q, want callee_hold with A's leg stored", held.State, held.CallerLeg)
	}
	if _, err := m.e.Cancel(ctx, s.ID, false); err != nil { // from any replica, before A's originate's turn
		t.Fatal(err)
	}
	settle(ctx, m.e)
	for _, c := range m.sw.sent() {
		if strings.Contains(c, "originate") && strings.Contains(c, held.CallerLeg) {
			t.Errorf("A rung after the cancel was acknowledged: %s", c)
		}
	}
	if m.w.live[s.ID] != nil {
		t.Error("the cancelled session is still steered")
	}
}

// TestCancelGivesUpWhenItsCallerDoes: a cancel waiting for an originate's
// mark ends when its caller's context does, and changes nothing.
func TestCancelGivesUpWhenItsCallerDoes(t *testing.T) {
	m := newMachine(t)
	s := sessionIn(store.DialingCallee, m.st.now)
	m.st.put(s)
	if ok, err := m.st.BeginSending(context.Background(), s.ID, s.CalleeLeg, time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.e.Cancel(ctx, s.ID, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancel while B's originate is marked, its caller gone: %v, want the context's deadline", err)
	}
	if got, _ := m.st.Get(context.Background(), s.ID); got.State != store.DialingCallee || got.Version != s.Version {
		t.Errorf("the session became %s at version %d, want unchanged", got.State, got.Version)
	}
}

// TestLeaseLapsedBeforeTheCommandsTurn: the lease was held when a step
// decided on a command, and lapsed before the command's turn came on the
// node's connection (the process was paused in between, or the command
// waited behind others): the command is not sent. A replica paused just
// after its check would otherwise dial B again on waking, while the
// replica that took the session over had begun an attempt of its own.
func TestLeaseLapsedBeforeTheCommandsTurn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state store.State
		in    input
		cmd   string
	}{
		{"originate B", store.Waiting, input{kind: inClaimed}, "originate"},
		{"hold prompt", store.CalleeHold, input{kind: inParked, leg: roleCallee}, "uuid_broadcast"},
		{"uuid_bridge", store.CalleeHold, input{kind: inAnswer, leg: roleCaller}, "uuid_bridge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t)
			ctx := context.Background()
			s := sessionIn(tc.state, m.st.now)
			m.st.put(s)
			tr := m.w.track(s)
			tr.calleeParked, tr.callerParked = tc.cmd == "uuid_bridge", tc.cmd == "uuid_bridge"
			lapsed := 0
			m.sw.beforeTurn = func() {
				m.e.fence.mu.Lock()
				m.e.fence.until = time.Time{} // paused past the lease
				m.e.fence.mu.Unlock()
				lapsed++
			}
			m.w.step(ctx, tr, tc.in)
			settle(ctx, m.e)
			if lapsed == 0 {
				t.Fatal("no command reached its turn: the test proves nothing")
			}
			for _, c := range m.sw.sent() {
				if strings.Contains(c, tc.cmd) {
					t.Errorf("sent %q after the lease lapsed", c)
				}
			}
		})
	}
}
