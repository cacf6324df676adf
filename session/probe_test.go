package session

import (
	"context"
	"strings"
	"testing"

	"bgcall/esl"
	"bgcall/store"
)

// TestProbeThatFailsIsAskedAgain: a replica that adopts its sessions (a
// restart under the same id adopts them before its event sockets are up)
// cannot ask FreeSWITCH about their legs yet. It must ask again, not take
// the wait for its state's deadline: B holding and A answered must not be
// hung up and recorded as A missing the call, nor a ringing B as no answer.
// Asked again, FreeSWITCH says both legs are up and answered.
func TestProbeThatFailsIsAskedAgain(t *testing.T) {
	for _, c := range []struct {
		st, want store.State
		then     string // the command the second answer calls for
	}{
		{store.DialingCallee, store.CalleeHold, "originate A"}, // B answered: A is dialled
		{store.CalleeHold, store.CalleeHold, "uuid_bridge"},    // A answered: the two are bridged
	} {
		st := c.st
		t.Run(string(st), func(t *testing.T) {
			m := newMachine(t)
			ctx := context.Background()
			s := sessionIn(st, m.st.now)
			m.st.put(s)
			tr := m.w.track(s)
			m.w.step(ctx, tr, input{kind: inProbed, probed: &probed{
				callee: legStatus{err: esl.ErrNotConnected}, caller: legStatus{err: esl.ErrNotConnected}}})
			settle(ctx, m.e)
			if tr.timer == nil {
				t.Fatal("no timer set to ask again")
			}
			m.w.handle(ctx, job{kind: jobTimer, id: s.ID, gen: tr.timerGen}) // the timer fires
			settle(ctx, m.e)

			got, _ := m.st.Get(ctx, s.ID)
			if got.State != c.want {
				t.Errorf("session %s %s after the probe failed and was asked again; want %s", got.State, got.Outcome, c.want)
			}
			cmds := m.sw.sent()
			words := words(cmds, s, len(m.sms.sent))
			if strings.Contains(words, "hang up") || len(m.sms.sent) > 0 || !strings.Contains(words, c.then) {
				t.Errorf("after a failed probe: %s; want no hangup and %s", words, c.then)
			}
			if !strings.Contains(strings.Join(cmds, "\n"), "uuid_dump "+legB) {
				t.Errorf("FreeSWITCH was not asked again about B's leg: %q", cmds)
			}
		})
	}
}
