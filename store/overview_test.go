package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestOverviewReads(t *testing.T) {
	st, _ := newStore(t, Options{Retention: time.Hour})
	ctx := context.Background()
	a := mustCreate(t, st, newSession("1001", "1002"), t0)
	b := mustCreate(t, st, newSession("1003", "1004"), t0)
	held := newSession("1005", "1006")
	held.DueAt = t0.Add(10 * time.Minute)
	mustCreate(t, st, held, t0)
	for _, f := range []struct {
		s       Session
		outcome Outcome
		at      time.Time
	}{{a, Expired, t0.Add(time.Minute)}, {b, Cancelled, t0.Add(2 * time.Minute)}} {
		next := f.s
		next.State, next.Outcome, next.FinishedAt = Finished, f.outcome, f.at
		if _, err := st.Apply(ctx, next, f.s.Version, []Entry{{Kind: KindFinished, At: f.at}}, f.at); err != nil {
			t.Fatal(err)
		}
	}
	counts, total, err := st.FinishedSince(ctx, t0.Add(90*time.Second), 10)
	if err != nil || total != 1 || counts[Cancelled] != 1 || counts[Expired] != 0 {
		t.Errorf("finished since 09:01:30: %v total %d (%v); want 1 cancelled", counts, total, err)
	}
	if counts, total, _ := st.FinishedSince(ctx, t0, 1); total != 2 || len(counts) != 1 {
		t.Errorf("finished since 09:00, at most 1 read: %v total %d; want 2 in all, 1 counted", counts, total)
	}
	due, n, err := st.DueBetween(ctx, t0.Add(5*time.Minute), t0.Add(15*time.Minute), 5)
	if err != nil || n != 1 || len(due) != 1 || due[0].Caller != "1005" {
		t.Errorf("due in 5-15 minutes: %v %d (%v); want 1005's", due, n, err)
	}
	if _, _, err := st.ClaimDue(ctx, "r1", t0, 0); err != nil {
		t.Fatal(err)
	}
	reps, err := st.Replicas(ctx)
	if err != nil || len(reps) != 1 || reps[0].ID != "r1" || reps[0].Owned != 0 || !reps[0].LeaseUntil.After(t0) {
		t.Errorf("replicas %+v (%v); want r1 with a lease", reps, err)
	}
}

func TestFindLeg(t *testing.T) {
	st, _ := newStore(t, Options{})
	ctx := context.Background()
	mustCreate(t, st, newSession("1001", "1002"), t0)
	b := mustCreate(t, st, newSession("1003", "1004"), t0.Add(time.Second))
	const old, unknown = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	next := b
	next.State, next.Owner = Waiting, ""
	if _, err := st.Apply(ctx, next, b.Version, []Entry{{Kind: KindAttemptEnded, Leg: "callee", UUID: old, At: t0.Add(2 * time.Second)}}, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s, err := st.FindLeg(ctx, old, t0.Add(-time.Hour), 1000); err != nil || s.ID != b.ID {
		t.Errorf("find %s: %s (%v), want %s", old, s.ID, err, b.ID)
	}
	if _, err := st.FindLeg(ctx, unknown, t0.Add(-time.Hour), 1000); !errors.Is(err, ErrNotFound) {
		t.Errorf("find an unknown leg: %v, want ErrNotFound", err)
	}
}

func TestListByNode(t *testing.T) {
	st, _ := newStore(t, Options{})
	ctx := context.Background()
	for i, node := range []string{"fs1", "fs2", "fs1"} {
		s := mustCreate(t, st, newSession(fmt.Sprint(1001+2*i), fmt.Sprint(1002+2*i)), t0.Add(time.Duration(i)*time.Second))
		next := s
		next.State, next.Outcome, next.Node = Finished, Expired, node
		if _, err := st.Apply(ctx, next, s.Version, []Entry{{Kind: KindFinished, At: t0}}, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := st.List(ctx, Filter{Node: "fs1"})
	if err != nil || len(got) != 2 || got[0].Node != "fs1" || got[1].Node != "fs1" {
		t.Errorf("list node fs1: %+v (%v), want the two on fs1", got, err)
	}
}

func TestPausedNodes(t *testing.T) {
	st, _ := newStore(t, Options{})
	ctx := context.Background()
	if err := st.PauseNode(ctx, "fs1", "cli:alice", t0); err != nil {
		t.Fatal(err)
	}
	got, err := st.PausedNodes(ctx)
	if err != nil || len(got) != 1 || got["fs1"].By != "cli:alice" || !got["fs1"].Since.Equal(t0) {
		t.Errorf("paused nodes %+v (%v), want fs1 by cli:alice", got, err)
	}
	if err := st.ResumeNode(ctx, "fs1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.PausedNodes(ctx); len(got) != 0 {
		t.Errorf("after resume: %+v", got)
	}
	if err := st.PauseNode(ctx, "fs|1", "", t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("pause a node named with '|': %v", err)
	}
}
