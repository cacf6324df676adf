package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/internal/redistest"
)

// consistent checks the invariants the scripts keep between a namespace's
// sessions and its indexes, and returns the sessions by id: every live
// session is either waiting unowned in the due set or owned in exactly its
// owner's set; every live session holds its pair's fields and no other
// session does; every member of the due, owner and live sets is such a
// session.
func consistent(t *testing.T, st *Store) map[string]Session {
	t.Helper()
	ctx := context.Background()
	ids, err := st.rdb.ZRange(ctx, st.indexKey(), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.getMany(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	byID := make(map[string]Session, len(all))
	pairs := map[[2]string]string{}
	for _, s := range all {
		byID[s.ID] = s
		if s.Quarantine != "" || !s.State.Live() {
			continue
		}
		if other, dup := pairs[[2]string{s.Caller, s.Callee}]; dup {
			t.Errorf("two live sessions for %s->%s: %s and %s", s.Caller, s.Callee, other, s.ID)
		}
		pairs[[2]string{s.Caller, s.Callee}] = s.ID
		due := st.rdb.ZScore(ctx, st.dueKey(), s.ID).Err() == nil
		switch {
		case s.Owner == "" && (s.State != Waiting || !due):
			t.Errorf("session %s: %s, unowned, due %v", s.ID, s.State, due)
		case s.Owner != "" && (due || !st.rdb.SIsMember(ctx, st.ownKey(s.Owner), s.ID).Val()):
			t.Errorf("session %s: owned by %s but not in its set, or due too", s.ID, s.Owner)
		}
		if st.rdb.HGet(ctx, st.callerLiveKey(s.Caller), s.Callee).Val() != s.ID ||
			st.rdb.HGet(ctx, st.calleeLiveKey(s.Callee), s.Caller).Val() != s.ID {
			t.Errorf("session %s: its pair's live fields do not name it", s.ID)
		}
	}
	for _, id := range st.rdb.ZRange(ctx, st.dueKey(), 0, -1).Val() {
		if s, ok := byID[id]; !ok || s.State != Waiting || s.Owner != "" {
			t.Errorf("due set holds %s: %+v", id, s)
		}
	}
	for _, key := range st.rdb.Keys(ctx, st.p+"own:*").Val() {
		owner := strings.TrimPrefix(key, st.p+"own:")
		for _, id := range st.rdb.SMembers(ctx, key).Val() {
			if s, ok := byID[id]; !ok || s.Owner != owner {
				t.Errorf("%s's set holds %s: %+v", owner, id, s)
			}
		}
	}
	return byID
}

// load is a stream of creates, claims and transitions, each call sent
// again after an error until it gets an answer (a create under the same
// id, a transition with the same expected version), as a client of the
// store does, through a Redis that goes away for a while.
type load struct {
	st *Store
	mu sync.Mutex
	// acked are the sessions as their last acknowledged write left them.
	acked map[string]Session
}

func (l *load) run(ctx context.Context, t *testing.T, n int, step func(i int)) {
	for i := range n {
		if step != nil {
			step(i)
		}
		s := newSession(fmt.Sprintf("1%04d", i), fmt.Sprintf("2%04d", i))
		s.ID = fmt.Sprintf("s%04d", i)
		var got Session
		l.retry(ctx, t, "create", func() error {
			var err error
			got, _, err = l.st.Create(ctx, s, firstEntry(), Limits{}, t0)
			return err
		})
		l.ack(got)
		if i%3 != 0 {
			continue
		}
		var claimed []Session
		l.retry(ctx, t, "claim", func() error {
			var err error
			claimed, _, err = l.st.ClaimAndStart(ctx, "r1", t0, 10, []string{"fs1"})
			return err
		})
		for _, c := range claimed {
			l.ack(c)
			if c.State != DialingCallee {
				continue
			}
			next := c
			next.State, next.CallerLeg = CalleeHold, "leg-a"
			l.retry(ctx, t, "apply", func() error {
				got, err := l.st.Apply(ctx, next, c.Version, []Entry{{Kind: KindCalleeAnswered}}, t0)
				if err == nil {
					l.ack(got)
				}
				return err
			})
		}
	}
}

func (l *load) ack(s Session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.acked == nil {
		l.acked = map[string]Session{}
	}
	l.acked[s.ID] = s
}

// retry calls f until it succeeds, for at most a minute.
func (l *load) retry(ctx context.Context, t *testing.T, what string, f func() error) {
	deadline := time.Now().Add(time.Minute)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s kept failing for a minute: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkNothingLost: every acknowledged write is there, nothing twice.
func (l *load) checkNothingLost(t *testing.T, st *Store) {
	t.Helper()
	stored := consistent(t, st)
	var lost []string
	for id, want := range l.acked {
		got, ok := stored[id]
		if !ok {
			lost = append(lost, id)
			continue
		}
		if got.Version < want.Version || (got.Version == want.Version && got != want) {
			t.Errorf("session %s: stored %+v, acknowledged %+v", id, got, want)
		}
	}
	sort.Strings(lost)
	if len(lost) > 0 {
		t.Errorf("%d acknowledged sessions lost: %v", len(lost), lost)
	}
	if len(stored) != len(l.acked) {
		t.Errorf("%d sessions stored, %d acknowledged", len(stored), len(l.acked))
	}
}

// TestRedisRestartWithAOF kills Redis (SIGKILL) in the middle of a stream
// of creates, claims and transitions and starts it again from its
// append-only file (appendfsync always): no acknowledged write is lost,
// nothing is stored twice, the indexes agree with the sessions, and the
// store does not take the restart for a loss of data.
func TestRedisRestartWithAOF(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr}, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	var losses int
	st := New(c, Options{OnDataLoss: func() { losses++ }})
	if err := st.Heartbeat(ctx, "r1", t0); err != nil {
		t.Fatal(err)
	}
	l := &load{st: st}
	killed, restarted := make(chan struct{}), make(chan error, 1)
	l.run(ctx, t, 120, func(i int) {
		switch i {
		case 60:
			// Killed while calls are on their way, some of whose replies are lost.
			go func() {
				srv.Kill()
				close(killed)
				time.Sleep(200 * time.Millisecond) // down a while, as a crashed server is
				restarted <- srv.Restart()
			}()
		case 62:
			// The kill must land inside the stream, not after the test ended
			// and its cleanup removed the server's directory.
			<-killed
		}
	})
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	l.checkNothingLost(t, st)
	if err := st.Heartbeat(ctx, "r1", t0); err != nil || losses != 0 || !st.DataLost().IsZero() {
		t.Errorf("after a restart from the AOF: heartbeat %v, %d data losses reported", err, losses)
	}
}

// TestRedisRestartWithoutPersistence kills Redis and starts it again
// empty, as a server without persistence restarts: every session is gone.
// What bgcall promises then: the next Heartbeat of each replica reports
// the loss (once); a session that was there answers ErrNotFound to Get
// and to Apply, which writes nothing; the pair is free for a new session;
// and the store works on.
func TestRedisRestartWithoutPersistence(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c := srv.Client(t)
	var losses int
	st := New(c, Options{OnDataLoss: func() { losses++ }})
	if err := st.Heartbeat(ctx, "r1", t0); err != nil {
		t.Fatal(err)
	}
	claimed := claimOne(t, st, "1001", "1002", "r1")
	srv.Kill()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := st.Heartbeat(ctx, "r1", t0); err != nil {
		t.Fatal(err)
	}
	if losses != 1 || st.DataLost().IsZero() {
		t.Fatalf("after a restart without persistence: %d data losses reported, DataLost %v; want 1", losses, st.DataLost())
	}
	if err := st.Heartbeat(ctx, "r1", t0); err != nil || losses != 1 {
		t.Errorf("a second heartbeat reported the loss again (%d, %v)", losses, err)
	}
	if _, err := st.Get(ctx, claimed.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a lost session = %v, want ErrNotFound", err)
	}
	before := snapshot(t, st, c)
	next := claimed
	next.State = DialingCallee
	if _, err := st.Apply(ctx, next, claimed.Version, []Entry{{Kind: KindAttempt}}, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Apply to a lost session = %v, want ErrNotFound", err)
	}
	sameSnapshot(t, before, snapshot(t, st, c))
	again := mustCreate(t, st, newSession("1001", "1002"), t0)
	if again.ID == claimed.ID {
		t.Errorf("the new session reuses the lost one's id")
	}
	consistent(t, st)
}

// TestSentinelFailover crashes the master (SIGKILL) under a stream of
// creates, claims and transitions through Sentinel; Sentinel promotes the
// replica and the store carries on there. Nothing is stored twice and the
// indexes agree with the sessions.
func TestSentinelFailover(t *testing.T) {
	ctx := context.Background()
	master := redistest.Start(t)
	_, port, _ := strings.Cut(master.Addr, ":")
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", port)
	waitReplica(t, master)
	sentinel := redistest.StartSentinel(t, "bgcall", master.Addr, 500*time.Millisecond)
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{sentinel.Addr}, MasterName: "bgcall", MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	st := New(c, Options{})
	l := &load{st: st}
	l.run(ctx, t, 120, func(i int) {
		if i == 60 {
			go master.Kill() // while calls are on their way
		}
	})
	if addr := sentinelMaster(t, sentinel.Addr); addr != replica.Addr {
		t.Fatalf("Sentinel's master is %s, want the replica %s", addr, replica.Addr)
	}
	l.checkNothingLost(t, New(replica.Client(t), Options{}))
}

// waitReplica waits until master has a replica in sync.
func waitReplica(t *testing.T, master *redistest.Server) {
	t.Helper()
	c := master.Client(t)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.Info(context.Background(), "replication").Val(), "state=online") {
		if time.Now().After(deadline) {
			t.Fatalf("no replica in sync: %s", c.Info(context.Background(), "replication").Val())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sentinelMaster(t *testing.T, sentinel string) string {
	t.Helper()
	c := redis.NewSentinelClient(&redis.Options{Addr: sentinel})
	defer c.Close()
	addr, err := c.GetMasterAddrByName(context.Background(), "bgcall").Result()
	if err != nil {
		t.Fatal(err)
	}
	return addr[0] + ":" + addr[1]
}
