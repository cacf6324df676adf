package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestClaimDueConcurrentClaimsEachSessionOnce(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	const sessions, replicas = 1000, 8
	for i := range sessions {
		s := newSession(fmt.Sprintf("1%04d", i), fmt.Sprintf("2%04d", i))
		s.DueAt = t0.Add(time.Duration(i) * time.Millisecond)
		mustCreate(t, st, s, t0)
	}
	now := t0.Add(time.Hour)
	var mu sync.Mutex
	claims := make(map[string][]string) // session id -> replicas that got it
	var wg sync.WaitGroup
	errs := make(chan error, replicas)
	for r := range replicas {
		replica := fmt.Sprintf("r%d", r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, _, err := st.ClaimDue(ctx, replica, now, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, s := range got {
					if s.Owner != replica || s.Fence != 1 {
						errs <- fmt.Errorf("claimed %+v for %s", s, replica)
					}
					claims[s.ID] = append(claims[s.ID], replica)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(claims) != sessions {
		t.Fatalf("%d sessions claimed, want %d", len(claims), sessions)
	}
	for id, rs := range claims {
		if len(rs) != 1 {
			t.Errorf("session %s claimed by %v", id, rs)
		}
	}
	if n := c.ZCard(ctx, st.dueKey()).Val(); n != 0 {
		t.Errorf("due set still holds %d", n)
	}
	owned := 0
	for r := range replicas {
		owned += int(c.SCard(ctx, st.ownKey(fmt.Sprintf("r%d", r))).Val())
	}
	if owned != sessions {
		t.Errorf("owner sets hold %d, want %d", owned, sessions)
	}
}

func TestClaimDueBoundsAndNextDue(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{LeaseTTL: 5 * time.Second})
	for i := range 5 {
		s := newSession(fmt.Sprintf("1%d", i), fmt.Sprintf("2%d", i))
		s.DueAt = t0.Add(time.Duration(i) * time.Second)
		mustCreate(t, st, s, t0)
	}
	got, next, err := st.ClaimDue(ctx, "r1", t0.Add(2*time.Second), 2)
	if err != nil || len(got) != 2 || !next.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("ClaimDue(n=2) = %d sessions, next %v, %v", len(got), next, err)
	}
	got, next, err = st.ClaimDue(ctx, "r1", t0.Add(2*time.Second), 10)
	if err != nil || len(got) != 1 || !next.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("ClaimDue = %d sessions, next %v, %v", len(got), next, err)
	}
	// Claiming proves the replica alive: its lease runs from the claim.
	if lease := c.ZScore(ctx, st.replicasKey(), "r1").Val(); int64(lease) != t0.Add(7*time.Second).UnixMilli() {
		t.Errorf("lease after claim = %v, want %d", lease, t0.Add(7*time.Second).UnixMilli())
	}
	got, next, err = st.ClaimDue(ctx, "r1", t0.Add(time.Hour), 0)
	if err != nil || len(got) != 0 || !next.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("ClaimDue(n=0) = %d sessions, next %v, %v; want none and the next due time", len(got), next, err)
	}
}

func TestTakeOverAfterLeaseExpiry(t *testing.T) {
	ctx := context.Background()
	lease := 10 * time.Second
	st, c := newStore(t, Options{LeaseTTL: lease})
	if err := st.Heartbeat(ctx, "r1", t0); err != nil {
		t.Fatal(err)
	}
	if err := st.Heartbeat(ctx, "r2", t0); err != nil {
		t.Fatal(err)
	}
	a := claimOne(t, st, "1001", "1002", "r1")
	dialing := a
	dialing.State = DialingCallee
	dialing, err := st.Apply(ctx, dialing, a.Version, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	finished := claimOne(t, st, "1003", "1004", "r1")
	finished.State = Finished
	if _, err := st.Apply(ctx, finished, finished.Version, nil, t0); err != nil {
		t.Fatal(err)
	}

	// r1 is alive until t0+lease: nothing to take.
	if err := st.Heartbeat(ctx, "r2", t0.Add(lease)); err != nil {
		t.Fatal(err)
	}
	if got, err := st.TakeOver(ctx, "r2", t0.Add(lease-time.Millisecond)); err != nil || len(got) != 0 {
		t.Fatalf("TakeOver before expiry = %v, %v", got, err)
	}
	later := t0.Add(lease + time.Second)
	got, err := st.TakeOver(ctx, "r2", later)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != a.ID || got[0].Owner != "r2" || got[0].Fence != dialing.Fence+1 || got[0].State != DialingCallee {
		t.Fatalf("TakeOver = %+v", got)
	}
	// The dead replica's late write is fenced off.
	late := dialing
	late.State = CalleeHold
	if _, err := st.Apply(ctx, late, dialing.Version, nil, later); !errors.Is(err, ErrFenced) {
		t.Errorf("late write of the old owner = %v, want ErrFenced", err)
	}
	if _, err := st.Apply(ctx, late, got[0].Version, nil, later); !errors.Is(err, ErrFenced) {
		t.Errorf("late write with a fresh version but the old fence = %v, want ErrFenced", err)
	}
	// The new owner goes on.
	hold := got[0]
	hold.State = CalleeHold
	if _, err := st.Apply(ctx, hold, got[0].Version, nil, later); err != nil {
		t.Errorf("new owner's write: %v", err)
	}
	if c.Exists(ctx, st.ownKey("r1")).Val() != 0 || c.ZScore(ctx, st.replicasKey(), "r1").Err() == nil {
		t.Error("dead replica's owner set or lease left behind")
	}
	if owned, err := st.Owned(ctx, "r2"); err != nil || len(owned) != 1 || owned[0].ID != a.ID {
		t.Errorf("Owned(r2) = %+v, %v", owned, err)
	}
	// An hour later r2's lease has expired too, so r3 takes the session from
	// r2: takeover follows the leases, not history.
	if again, err := st.TakeOver(ctx, "r3", later.Add(time.Hour)); err != nil || len(again) != 1 || again[0].Owner != "r3" {
		t.Errorf("takeover by r3 an hour later = %+v, %v", again, err)
	}
}

func TestTakeOverConcurrentNeverSplitsSessions(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{LeaseTTL: time.Second})
	if err := st.Heartbeat(ctx, "dead", t0); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		mustCreate(t, st, newSession(fmt.Sprintf("1%03d", i), fmt.Sprintf("2%03d", i)), t0)
	}
	if got, _, err := st.ClaimDue(ctx, "dead", t0, 100); err != nil || len(got) != 50 {
		t.Fatalf("claim: %d, %v", len(got), err)
	}
	later := t0.Add(time.Minute)
	var mu sync.Mutex
	owners := make(map[string]string)
	var wg sync.WaitGroup
	for r := range 4 {
		replica := fmt.Sprintf("r%d", r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := st.TakeOver(ctx, replica, later)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range got {
				if prev, ok := owners[s.ID]; ok {
					t.Errorf("session %s taken by %s and %s", s.ID, prev, replica)
				}
				owners[s.ID] = replica
			}
		}()
	}
	wg.Wait()
	if len(owners) != 50 {
		t.Fatalf("%d sessions taken over, want 50", len(owners))
	}
}

func TestReleaseHandsSessionsOn(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{LeaseTTL: time.Minute})
	if err := st.Heartbeat(ctx, "r1", t0); err != nil {
		t.Fatal(err)
	}
	live := claimOne(t, st, "1001", "1002", "r1")
	live.State = DialingCallee
	live, err := st.Apply(ctx, live, live.Version, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	claimed := claimOne(t, st, "1003", "1004", "r1") // claimed, still waiting

	if err := st.Release(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	back, err := st.Get(ctx, claimed.ID)
	if err != nil || back.Owner != "" || back.Version != claimed.Version+1 {
		t.Fatalf("released waiting session = %+v, %v", back, err)
	}
	if c.ZScore(ctx, st.dueKey(), claimed.ID).Err() != nil {
		t.Error("released waiting session not back in the due set")
	}
	// The stopping replica's lease is over at once: r2 takes the live session
	// without waiting for LeaseTTL.
	got, err := st.TakeOver(ctx, "r2", t0.Add(time.Second))
	if err != nil || len(got) != 1 || got[0].ID != live.ID || got[0].Fence != live.Fence+1 {
		t.Fatalf("TakeOver after Release = %+v, %v", got, err)
	}
	again, _, err := st.ClaimDue(ctx, "r2", t0.Add(time.Second), 10)
	if err != nil || len(again) != 1 || again[0].ID != claimed.ID {
		t.Fatalf("claim after Release = %+v, %v", again, err)
	}
	// A replica with nothing left leaves the leases.
	if err := st.Release(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if c.ZScore(ctx, st.replicasKey(), "r1").Err() == nil {
		t.Error("empty replica still has a lease")
	}
}

func TestRestartResumesOwnedSessions(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	a := claimOne(t, st, "1001", "1002", "r1")
	a.State = Bridged
	a, err := st.Apply(ctx, a, a.Version, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Release(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	// The only replica comes back under the same id before anyone took over.
	if err := st.Heartbeat(ctx, "r1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	owned, err := st.Owned(ctx, "r1")
	if err != nil || len(owned) != 1 || owned[0] != a {
		t.Fatalf("Owned = %+v, %v; want %+v", owned, err, a)
	}
}

func TestLookup(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	a := mustCreate(t, st, newSession("1001", "1002"), t0)
	b := claimOne(t, st, "1003", "1004", "r1")
	b.State = Finished
	if _, err := st.Apply(ctx, b, b.Version, nil, t0); err != nil {
		t.Fatal(err)
	}
	got, err := st.Lookup(ctx, []string{a.ID, b.ID, "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[a.ID] != Waiting || got[b.ID] != Finished {
		t.Errorf("Lookup = %v", got)
	}
}

// TestClaimDueBacklog claims from a due set larger than one peek reads, in
// due order, and reports the next due time on every path.
func TestClaimDueBacklog(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	dueAt := map[string]time.Time{}
	for i := range 40 {
		s := newSession(fmt.Sprintf("1%03d", i), fmt.Sprintf("2%03d", i))
		s.DueAt = t0.Add(time.Duration(i) * time.Millisecond)
		dueAt[mustCreate(t, st, s, t0).ID] = s.DueAt
	}
	later := newSession("3000", "3001")
	later.DueAt = t0.Add(time.Hour)
	mustCreate(t, st, later, t0)

	now := t0.Add(39 * time.Millisecond)
	for _, step := range []struct {
		n, want  int
		wantNext time.Time
	}{
		{3, 3, t0.Add(3 * time.Millisecond)},    // fewer than a peek: next is the first unclaimed
		{30, 30, t0.Add(33 * time.Millisecond)}, // a backlog past the peek: claimed by score
		{30, 7, t0.Add(time.Hour)},              // the rest
		{30, 0, t0.Add(time.Hour)},              // nothing due
	} {
		got, next, err := st.ClaimDue(ctx, "r1", now, step.n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != step.want || !next.Equal(step.wantNext) {
			t.Fatalf("ClaimDue(n=%d) = %d sessions, next %v; want %d, next %v", step.n, len(got), next, step.want, step.wantNext)
		}
		for _, s := range got {
			if dueAt[s.ID].After(step.wantNext) {
				t.Errorf("claimed %s due %v before sessions due earlier", s.ID, dueAt[s.ID])
			}
			delete(dueAt, s.ID)
		}
	}
	if len(dueAt) != 0 {
		t.Errorf("%d due sessions never claimed", len(dueAt))
	}
}

// TestClaimRenewsTheLeaseNowAndThen checks that claims keep the lease at
// least nine tenths of LeaseTTL ahead without writing it on every call,
// and that a claim after Release renews it at once.
func TestClaimRenewsTheLeaseNowAndThen(t *testing.T) {
	ctx := context.Background()
	ttl := 10 * time.Second
	st, c := newStore(t, Options{LeaseTTL: ttl})
	lease := func() time.Time {
		t.Helper()
		s, err := c.ZScore(ctx, st.replicasKey(), "r1").Result()
		if err != nil {
			return time.Time{}
		}
		return time.UnixMilli(int64(s)).UTC()
	}
	writes := 0
	last := time.Time{}
	for step := time.Duration(0); step <= 5*time.Second; step += 100 * time.Millisecond {
		now := t0.Add(step)
		if _, _, err := st.ClaimDue(ctx, "r1", now, 1); err != nil {
			t.Fatal(err)
		}
		l := lease()
		if l.Before(now.Add(ttl * 9 / 10)) {
			t.Fatalf("at %v the lease ends at %v, less than 9/10 of LeaseTTL ahead", step, l.Sub(t0))
		}
		if !l.Equal(last) {
			writes++
			last = l
		}
	}
	if writes > 6 {
		t.Errorf("51 claims over 5s wrote the lease %d times, want at most 6", writes)
	}
	if err := st.Release(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(5*time.Second + time.Millisecond)
	if _, _, err := st.ClaimDue(ctx, "r1", now, 1); err != nil {
		t.Fatal(err)
	}
	if l := lease(); !l.Equal(now.Add(ttl)) {
		t.Errorf("lease after Release and a claim ends at %v, want %v", l, now.Add(ttl))
	}
}

// TestClaimDueTakesTheEarliestInOrder claims from a due set of ten due
// sessions and two later ones in batches of every size, checking what each
// claim takes and the next due time it reports: batches smaller and larger
// than the few members ClaimDue reads first, and a backlog it reads by score.
func TestClaimDueTakesTheEarliestInOrder(t *testing.T) {
	ctx := context.Background()
	for n := 1; n <= 12; n++ {
		st, _ := newStore(t, Options{})
		var due []time.Time
		for i := range 12 {
			s := newSession(fmt.Sprintf("1%d", i), fmt.Sprintf("2%d", i))
			s.DueAt = t0.Add(time.Duration(i) * time.Second)
			if i >= 10 {
				s.DueAt = t0.Add(time.Hour + time.Duration(i)*time.Second)
			}
			due = append(due, mustCreate(t, st, s, t0).DueAt)
		}
		now := t0.Add(9 * time.Second)
		taken := 0
		for taken < 10 {
			got, next, err := st.ClaimDue(ctx, "r1", now, n)
			if err != nil {
				t.Fatal(err)
			}
			want := min(n, 10-taken)
			if len(got) != want {
				t.Fatalf("n=%d after %d: claimed %d, want %d", n, taken, len(got), want)
			}
			for j, s := range got {
				if !s.DueAt.Equal(due[taken+j]) {
					t.Errorf("n=%d: claimed the session due %v, want the one due %v", n, s.DueAt, due[taken+j])
				}
			}
			taken += len(got)
			if wantNext := due[min(taken, 10)]; !next.Equal(wantNext) {
				t.Errorf("n=%d after %d: next due %v, want %v", n, taken, next, wantNext)
			}
		}
	}
}
