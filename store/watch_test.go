package store

import (
	"context"
	"testing"
	"time"
)

func TestSubscribeReceivesChanges(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	changes, stop := st.Subscribe(ctx)
	defer stop()

	sess := mustCreate(t, st, newSession("1001", "1002"), t0)
	claimed, _, err := st.ClaimDue(ctx, "r1", t0, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	next := claimed[0]
	next.State = DialingCallee
	applied, err := st.Apply(ctx, next, next.Version, []Entry{{Kind: "dial", Leg: "callee"}}, t0)
	if err != nil {
		t.Fatal(err)
	}

	want := []struct {
		sess    Session
		entries int
	}{{sess, 1}, {claimed[0], 0}, {applied, 1}}
	for i, w := range want {
		select {
		case c := <-changes:
			if c.Session != w.sess {
				t.Errorf("change %d session = %+v\nwant %+v", i, c.Session, w.sess)
			}
			if len(c.Entries) != w.entries {
				t.Errorf("change %d entries = %+v, want %d", i, c.Entries, w.entries)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("change %d not received", i)
		}
	}
	if c := (<-chan Change)(changes); len(c) != 0 {
		t.Errorf("%d unexpected changes", len(c))
	}
	stop()
	if _, ok := <-changes; ok {
		t.Error("channel open after stop")
	}
}

func TestSubscribeEndsWithContext(t *testing.T) {
	st, _ := newStore(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	changes, stop := st.Subscribe(ctx)
	defer stop()
	cancel()
	select {
	case _, ok := <-changes:
		if ok {
			t.Error("change received after cancel")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed after the context ended")
	}
}
