package session

import (
	"context"
	"testing"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
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
