package store

import (
	"context"
	"testing"
	"time"
)

func TestLegsOf(t *testing.T) {
	st, _ := newStore(t, Options{})
	ctx := context.Background()
	waiting := mustCreate(t, st, newSession("1001", "1002"), t0.Add(time.Hour))
	ringing := mustCreate(t, st, newSession("1003", "1004"), t0)
	claimed, _, err := st.ClaimDue(ctx, "r1", t0, 2)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	for _, c := range claimed {
		if c.ID == ringing.ID {
			ringing = c
		}
	}
	next := ringing
	next.State, next.Attempts, next.Node, next.CalleeLeg = DialingCallee, 1, "fs1", "0b5e6f1c-4d1f-4e8a-9d55-0a1b2c3d4e5f"
	if _, err := st.Apply(ctx, next, ringing.Version, []Entry{{Kind: KindAttempt}}, t0); err != nil {
		t.Fatal(err)
	}
	got, err := st.LegsOf(ctx, []string{waiting.ID, ringing.ID, "no-such-session"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Legs{
		waiting.ID: {State: Waiting},
		ringing.ID: {State: DialingCallee, CalleeLeg: "0b5e6f1c-4d1f-4e8a-9d55-0a1b2c3d4e5f"},
	}
	if len(got) != len(want) {
		t.Fatalf("LegsOf = %v, want %v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("LegsOf[%s] = %+v, want %+v", id, got[id], w)
		}
	}
}
