package store

import (
	"context"
	"testing"
	"time"
)

func TestMissedCountsEachCallOnce(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	window := time.Hour
	for i, id := range []string{"c1", "c1", "c2", "c3", "c3"} {
		n, err := s.Missed(ctx, "1001", "1002", id, window, now.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"c1": 1, "c2": 2, "c3": 3}[id]
		if n != want {
			t.Errorf("call %d (%s): count %d, want %d", i, id, n, want)
		}
	}
	if n, _ := s.MissedCount(ctx, "1001", "1002", window, now.Add(5*time.Minute)); n != 3 {
		t.Errorf("MissedCount = %d, want 3", n)
	}
	if n, _ := s.MissedCount(ctx, "1002", "1001", window, now); n != 0 {
		t.Errorf("the reverse pair has count %d, want 0", n)
	}
}

func TestMissedWindowStartsANewRun(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	window := 10 * time.Minute
	s.Missed(ctx, "1001", "1002", "c1", window, now)
	s.Missed(ctx, "1001", "1002", "c2", window, now.Add(5*time.Minute))
	if n, _ := s.MissedCount(ctx, "1001", "1002", window, now.Add(11*time.Minute)); n != 0 {
		t.Errorf("count after the window: %d, want 0", n)
	}
	n, err := s.Missed(ctx, "1001", "1002", "c3", window, now.Add(11*time.Minute))
	if err != nil || n != 1 {
		t.Errorf("first call of a new run: %d, %v; want 1", n, err)
	}
}

func TestResetMissedForgetsTheRunButNotTheCall(t *testing.T) {
	s, c := newStore(t, Options{})
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s.Missed(ctx, "1001", "1002", "c1", time.Hour, now)
	s.Missed(ctx, "1001", "1002", "c2", time.Hour, now)
	if err := s.ResetMissed(ctx, "1001", "1002", "c2"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.MissedCount(ctx, "1001", "1002", time.Hour, now); n != 0 {
		t.Errorf("count after reset: %d, want 0", n)
	}
	if n, _ := s.Missed(ctx, "1001", "1002", "c2", time.Hour, now); n != 0 {
		t.Errorf("a late report of the call that reset the run counted: %d", n)
	}
	if n, _ := s.Missed(ctx, "1001", "1002", "c3", time.Hour, now); n != 1 {
		t.Errorf("next call after reset: %d, want 1", n)
	}
	if err := s.ResetMissed(ctx, "1003", "1004", "c9"); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.PTTL(ctx, s.missedKey("1003", "1004")).Result()
	if err != nil || ttl <= 0 {
		t.Errorf("a reset of a pair without a run leaves a key without expiry: ttl %v err %v", ttl, err)
	}
	if _, err := s.Missed(ctx, "", "1002", "c1", time.Hour, now); err == nil {
		t.Error("a missed call without caller was accepted")
	}
}
