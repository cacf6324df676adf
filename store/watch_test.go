package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// receive returns the next change, failing the test after 10 s.
func receive(t *testing.T, changes <-chan Change) Change {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("change not received")
		return Change{}
	}
}

func TestSubscribeReceivesChanges(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	changes, stop := st.Subscribe(ctx)
	defer stop()

	check := func(what string, got Change, want Session, entries []Entry) {
		t.Helper()
		if got.Session != want {
			t.Errorf("%s: session = %+v\nwant %+v", what, got.Session, want)
		}
		if len(got.Entries) != len(entries) {
			t.Fatalf("%s: entries = %+v, want %+v", what, got.Entries, entries)
		}
		for i := range entries {
			if got.Entries[i] != entries[i] {
				t.Errorf("%s: entry %d = %+v, want %+v", what, i, got.Entries[i], entries[i])
			}
		}
	}
	sess := mustCreate(t, st, newSession("1001", "1002"), t0)
	check("create", receive(t, changes), sess, []Entry{{At: t0, Kind: KindCreated, State: Waiting, Note: "requested"}})

	claimed, _, err := st.ClaimDue(ctx, "r1", t0, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	check("claim", receive(t, changes), claimed[0], nil)

	next := claimed[0]
	next.State = DialingCallee
	dial := Entry{At: t0.Add(time.Second), Kind: "dial", Leg: "callee"}
	applied, err := st.Apply(ctx, next, next.Version, []Entry{dial}, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	check("apply", receive(t, changes), applied, []Entry{dial})

	if c := (<-chan Change)(changes); len(c) != 0 {
		t.Errorf("%d unexpected changes", len(c))
	}
	stop()
	if _, ok := <-changes; ok {
		t.Error("channel open after stop")
	}
}

// TestSubscribeKeepsEachChange checks that changes made faster than the
// subscriber reads still arrive one by one, each with its own version,
// state, outcome and entries, although the rest of the session is read later.
func TestSubscribeKeepsEachChange(t *testing.T) {
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
	next.State, next.Outcome = Finished, Cancelled
	finished, err := st.Apply(ctx, next, next.Version, []Entry{{Kind: KindFinished}, {Kind: "notified"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		version int64
		state   State
		outcome Outcome
		entries []string
	}{
		{sess.Version, Waiting, "", []string{"created"}},
		{claimed[0].Version, Waiting, "", nil},
		{finished.Version, Finished, Cancelled, []string{"finished", "notified"}},
	}
	for i, w := range want {
		c := receive(t, changes)
		var kinds []Kind
		for _, e := range c.Entries {
			kinds = append(kinds, e.Kind)
		}
		if c.Session.ID != sess.ID || c.Session.Version != w.version || c.Session.State != w.state ||
			c.Session.Outcome != w.outcome || fmt.Sprint(kinds) != fmt.Sprint(w.entries) {
			t.Errorf("change %d = %s v%d %s %q %v, want %s v%d %s %q %v", i,
				c.Session.ID, c.Session.Version, c.Session.State, c.Session.Outcome, kinds,
				sess.ID, w.version, w.state, w.outcome, w.entries)
		}
		if c.Session.Caller != "1001" || c.Session.Callee != "1002" {
			t.Errorf("change %d: caller/callee %q/%q not read", i, c.Session.Caller, c.Session.Callee)
		}
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

// TestSubscribeBurst checks that a burst of changes, read in batches, all
// arrive, each completed with its own session.
func TestSubscribeBurst(t *testing.T) {
	const n = 300
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	changes, stop := st.Subscribe(ctx)
	defer stop()
	want := make(map[string]Session, n)
	for i := range n {
		s := mustCreate(t, st, newSession(fmt.Sprintf("1%04d", i), fmt.Sprintf("2%04d", i)), t0)
		want[s.ID] = s
	}
	for range n {
		c := receive(t, changes)
		w, ok := want[c.Session.ID]
		if !ok {
			t.Fatalf("unexpected or repeated change %+v", c.Session)
		}
		delete(want, c.Session.ID)
		if c.Session != w || len(c.Entries) != 1 {
			t.Errorf("change = %+v %v\nwant %+v and one entry", c.Session, c.Entries, w)
		}
	}
}
