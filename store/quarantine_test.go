package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// quarantineLog records what a Store reports through Options.OnQuarantine.
type quarantineLog struct {
	mu   sync.Mutex
	seen map[string]int
}

func (q *quarantineLog) hook(id, reason string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.seen == nil {
		q.seen = map[string]int{}
	}
	q.seen[id]++
}

func (q *quarantineLog) count(id string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.seen[id]
}

// spoil overwrites one field of session id's record, as a bug, a hand edit
// or another program writing to the same Redis would.
func spoil(t *testing.T, st *Store, id, field, value string) {
	t.Helper()
	if err := st.rdb.HSet(context.Background(), st.sessionKey(id), field, value).Err(); err != nil {
		t.Fatal(err)
	}
}

// checkQuarantined: the record is set aside, shown as such by Get and
// List, and the hook was told once.
func checkQuarantined(t *testing.T, st *Store, q *quarantineLog, id string) {
	t.Helper()
	ctx := context.Background()
	got, err := st.Get(ctx, id)
	if !errors.Is(err, ErrQuarantined) || !errors.Is(err, ErrNotFound) || got.Quarantine == "" || got.ID != id {
		t.Errorf("Get of the spoilt session = %+v, %v; want it with Quarantine set and ErrQuarantined", got, err)
	}
	if n := q.count(id); n != 1 {
		t.Errorf("quarantine of %s reported %d times, want once", id, n)
	}
	if st.rdb.ZScore(ctx, st.p+"quarantine", id).Err() != nil {
		t.Errorf("%s is not in the quarantine set", id)
	}
	if st.rdb.ZScore(ctx, st.dueKey(), id).Err() == nil {
		t.Errorf("%s is still due", id)
	}
	listed, _, err := st.List(ctx, Filter{Limit: 1000})
	if err != nil {
		t.Fatalf("List with a spoilt record: %v", err)
	}
	for _, s := range listed {
		if s.ID == id && s.Quarantine == "" {
			t.Errorf("List shows %s without its quarantine", id)
		}
	}
}

// TestUndecodableRecordNeverBlocksAClaim spoils one of seven due sessions
// in each way a record can be undecodable. Before, a non-numeric version
// made the claim script fail after it had taken the whole batch out of the
// due set (the healthy sessions stayed waiting, unowned, unscheduled), and
// a bad creation time (which only Go parses) failed every claim after.
// Now the spoilt record is set aside and the six others are claimed.
func TestUndecodableRecordNeverBlocksAClaim(t *testing.T) {
	for _, bad := range []struct{ field, value string }{
		{fVersion, "x"}, {fCreatedAt, "yesterday"}, {fDueAt, "1.5"}, {fFence, "1234567890123456"},
		{fState, "sleeping"}, {fCaller, ""},
	} {
		t.Run(bad.field+"="+bad.value, func(t *testing.T) {
			ctx := context.Background()
			var q quarantineLog
			st, _ := newStore(t, Options{OnQuarantine: q.hook})
			var ids []string
			for i := range 7 {
				ids = append(ids, mustCreate(t, st, newSession(fmt.Sprintf("100%d", i), fmt.Sprintf("200%d", i)), t0).ID)
			}
			spoil(t, st, ids[3], bad.field, bad.value)
			got, _, err := st.ClaimAndStart(ctx, "r1", t0, 10, []string{"fs1"})
			if err != nil || len(got) != 6 {
				t.Fatalf("claim with a spoilt record = %d sessions, %v; want the 6 sound ones", len(got), err)
			}
			for _, s := range got {
				if s.ID == ids[3] {
					t.Errorf("the spoilt session was claimed: %+v", s)
				}
			}
			checkQuarantined(t, st, &q, ids[3])
			if again, _, err := st.ClaimDue(ctx, "r1", t0.Add(time.Hour), 10); err != nil || len(again) != 0 {
				t.Errorf("claim after = %+v, %v; want nothing", again, err)
			}
			if bad.field == fState {
				return // the counts cannot know which state a record of no known state was counted in
			}
			counts, err := st.LiveCounts(ctx)
			if err != nil || counts[Waiting]+counts[DialingCallee] != 6 {
				t.Errorf("live counts %v, %v; want the 6 sound sessions", counts, err)
			}
		})
	}
}

// TestUndecodableRecordNeverBlocksOwnedOrTakeOver: a replica restarting
// loads its sound sessions, and one taking over a lost replica's moves
// them, past a spoilt one.
func TestUndecodableRecordNeverBlocksOwnedOrTakeOver(t *testing.T) {
	ctx := context.Background()
	var q quarantineLog
	st, _ := newStore(t, Options{OnQuarantine: q.hook, LeaseTTL: time.Second})
	if err := st.Heartbeat(ctx, "r1", t0); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 4 {
		s := claimOne(t, st, fmt.Sprintf("100%d", i), fmt.Sprintf("200%d", i), "r1")
		s.State = DialingCallee
		if _, err := st.Apply(ctx, s, s.Version, nil, t0); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	spoil(t, st, ids[1], fCreatedAt, "x")
	owned, err := st.Owned(ctx, "r1")
	if err != nil || len(owned) != 3 {
		t.Fatalf("Owned = %d sessions, %v; want the 3 sound ones", len(owned), err)
	}
	checkQuarantined(t, st, &q, ids[1])

	spoil(t, st, ids[2], fVersion, "x")
	taken, err := st.TakeOver(ctx, "r2", t0.Add(time.Minute))
	if err != nil || len(taken) != 2 {
		t.Fatalf("TakeOver = %d sessions, %v; want the 2 sound ones", len(taken), err)
	}
	checkQuarantined(t, st, &q, ids[2])
}

// TestReleaseQuarantines: a stopping replica hands on its sound sessions
// past a spoilt one.
func TestReleaseQuarantines(t *testing.T) {
	ctx := context.Background()
	var q quarantineLog
	st, c := newStore(t, Options{OnQuarantine: q.hook})
	a := claimOne(t, st, "1001", "1002", "r1")
	b := claimOne(t, st, "1003", "1004", "r1")
	spoil(t, st, a.ID, fDueAt, "soon")
	if err := st.Release(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	checkQuarantined(t, st, &q, a.ID)
	if c.ZScore(ctx, st.dueKey(), b.ID).Err() != nil {
		t.Error("the sound session is not due again")
	}
}

// TestApplyToQuarantinedWritesNothing: nobody steers a quarantined session.
// Apply checks the fields it reads (all of them without a remembered view;
// with one, state, owner, fence, version, parties and creation time).
func TestApplyToQuarantinedWritesNothing(t *testing.T) {
	ctx := context.Background()
	var q quarantineLog
	for _, remembered := range []bool{true, false} {
		st, c := newStore(t, Options{OnQuarantine: q.hook})
		s := claimOne(t, st, "1001", "1002", "r1")
		spoil(t, st, s.ID, fVersion, "many")
		via := st
		if !remembered {
			via = New(c, st.Options())
		}
		next := s
		next.State = DialingCallee
		_, err := via.Apply(ctx, next, s.Version, []Entry{{Kind: KindAttempt}}, t0)
		if !errors.Is(err, ErrQuarantined) {
			t.Fatalf("remembered=%v: Apply to a spoilt record = %v, want ErrQuarantined", remembered, err)
		}
		checkQuarantined(t, st, &q, s.ID)
		before := snapshot(t, st, c)
		if _, err := via.Apply(ctx, next, s.Version, []Entry{{Kind: KindAttempt}}, t0); !errors.Is(err, ErrQuarantined) {
			t.Fatalf("remembered=%v: Apply to a quarantined session = %v, want ErrQuarantined", remembered, err)
		}
		sameSnapshot(t, before, snapshot(t, st, c))
	}
}

// TestQuarantineFreesThePair: a new request for the pair of a quarantined
// session makes a new session, and the quarantined one holds no cap slot.
func TestQuarantineFreesThePair(t *testing.T) {
	ctx := context.Background()
	var q quarantineLog
	st, _ := newStore(t, Options{OnQuarantine: q.hook})
	old := mustCreate(t, st, newSession("1001", "1002"), t0)
	spoil(t, st, old.ID, fVersion, "x")
	lim := Limits{PerCaller: 1, PerCallee: 1}
	got, created, err := st.Create(ctx, newSession("1001", "1002"), firstEntry(), lim, t0)
	if err != nil || !created || got.ID == old.ID {
		t.Fatalf("Create for the pair of a spoilt session = %+v, created %v, %v; want a new session", got, created, err)
	}
	checkQuarantined(t, st, &q, old.ID)
}

// TestQuarantinedForgottenAfterRetention: a quarantined record goes the way
// of a finished session.
func TestQuarantinedForgottenAfterRetention(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{OnQuarantine: func(string, string) {}, Retention: time.Hour})
	s := mustCreate(t, st, newSession("1001", "1002"), t0)
	spoil(t, st, s.ID, fVersion, "x")
	if _, err := st.Get(ctx, s.ID); !errors.Is(err, ErrQuarantined) {
		t.Fatal(err)
	}
	// Get set it aside by Redis's clock.
	if _, _, err := st.ClaimDue(ctx, "r1", time.Now().Add(2*time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, s.ID); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrQuarantined) {
		t.Errorf("Get after the retention = %v, want ErrNotFound", err)
	}
	if n := c.ZCard(ctx, st.p+"quarantine").Val(); n != 0 {
		t.Errorf("quarantine set holds %d after the retention", n)
	}
	if n := c.ZCard(ctx, st.indexKey()).Val(); n != 0 {
		t.Errorf("index holds %d after the retention", n)
	}
}

// TestScriptsAndGoAgreeOnWhatDecodes feeds the same records to
// decodeSession and to the scripts' undecodable: they must agree, or a
// record Go cannot read would stay in the way, unquarantined.
func TestScriptsAndGoAgreeOnWhatDecodes(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{OnQuarantine: func(string, string) {}})
	values := []string{"", "0", "-1", "42", "+1", " 1", "1 ", "0x10", "1e3", "1.5", "-", "--1", "١٢", "123456789012345",
		"1234567890123456", "-123456789012345", "abc", "9"}
	fields := append([]string{fState, fCaller, fCallee}, numericFields...)
	for i, f := range fields {
		for j, v := range values {
			if f == fState {
				v = []string{"waiting", "finished", "bridged", "Waiting", "", "nope"}[j%6]
			}
			s := mustCreate(t, st, newSession(fmt.Sprintf("1%03d", i), fmt.Sprintf("2%03d", j)), t0)
			spoil(t, st, s.ID, f, v)
			h := st.rdb.HGetAll(ctx, st.sessionKey(s.ID)).Val()
			_, goErr := decodeSession(s.ID, h)
			res, err := quarantineScript.Run(ctx, st.rdb, []string{st.sessionKey(s.ID)}, st.p, s.ID, 1000).Slice()
			if err != nil {
				t.Fatal(err)
			}
			why, _ := res[0].(string)
			if (goErr != nil) != (why != "") {
				t.Errorf("field %s = %q: Go says %v, the script says %q", f, v, goErr, why)
			}
		}
	}
}
