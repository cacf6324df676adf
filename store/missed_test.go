package store

import (
	"context"
	"fmt"
	"strings"
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

// TestMissedCallsReportedTwiceInterleaved: each call is reported twice, by
// the dialplan and by its hangup event, and the reports of calls close
// together interleave; each call still counts once.
func TestMissedCallsReportedTwiceInterleaved(t *testing.T) {
	s, c := newStore(t, Options{})
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for i, id := range []string{"c1", "c2", "c1", "c3", "c2", "c3"} {
		n, err := s.Missed(ctx, "1001", "1002", id, time.Hour, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		seen[id] = true
		if n != len(seen) {
			t.Errorf("report %d (%s): count %d, want %d", i, id, n, len(seen))
		}
	}
	// Only the last 8 calls are remembered: the oldest report falls out.
	for i := 4; i <= 11; i++ {
		s.Missed(ctx, "1001", "1002", fmt.Sprintf("c%d", i), time.Hour, now)
	}
	if n, _ := s.Missed(ctx, "1001", "1002", "c11", time.Hour, now); n != 11 {
		t.Errorf("a recent call reported again: count %d, want 11", n)
	}
	if n, _ := s.Missed(ctx, "1001", "1002", "c1", time.Hour, now); n != 12 {
		t.Errorf("a call 11 calls back reported again: count %d, want 12 (forgotten)", n)
	}
	ids, err := c.HGet(ctx, s.missedKey("1001", "1002"), "ids").Result()
	if err != nil || len(strings.Fields(ids)) != 8 {
		t.Errorf("ids kept: %q, %v; want 8", ids, err)
	}

	// A key from before ids existed: its one "id" still counts as known.
	old := s.missedKey("2001", "2002")
	c.HSet(ctx, old, "n", 1, "first", now.UnixMilli(), "id", "c1")
	if n, _ := s.Missed(ctx, "2001", "2002", "c1", time.Hour, now); n != 1 {
		t.Errorf("the old key's call reported again: count %d, want 1", n)
	}
	if n, _ := s.Missed(ctx, "2001", "2002", "c2", time.Hour, now); n != 2 {
		t.Errorf("next call on the old key: count %d, want 2", n)
	}
	if n, _ := s.Missed(ctx, "2001", "2002", "c1", time.Hour, now); n != 2 {
		t.Errorf("the old key's call after the upgrade: count %d, want 2", n)
	}
	if has, _ := c.HExists(ctx, old, "id").Result(); has {
		t.Error("the old single id is still stored beside ids")
	}

	if _, err := s.Missed(ctx, "1001", "1002", "c 1", time.Hour, now); err == nil {
		t.Error("a call id with a space was accepted")
	}
}
