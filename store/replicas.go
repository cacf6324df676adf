package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxClaim bounds one ClaimDue so a script never blocks Redis for long.
const maxClaim = 1000

// gcBatch is how many sessions past their retention one ClaimDue forgets.
const gcBatch = 256

// gcRecheck is how often a Store looks for sessions past their retention
// when the last look found none due: a ClaimDue in between skips the look,
// which would cost every scheduler poll two commands for nothing.
const gcRecheck = time.Second

// leases remembers when a Store last renewed each replica's lease, so
// that ClaimDue, which renews it too, does not write it on every call: the
// scheduler claims many times a second, and a lease renewed within the last
// tenth of LeaseTTL has at least nine tenths left.
type leases struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (l *leases) fresh(replica string, now time.Time, ttl time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.m[replica]
	return ok && !now.Before(at) && now.Sub(at) < ttl/10
}

func (l *leases) renewed(replica string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]time.Time)
	}
	if at, ok := l.m[replica]; !ok || now.After(at) {
		l.m[replica] = now
	}
}

func (l *leases) forget(replica string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, replica)
}

// ClaimDue gives up to n waiting sessions whose DueAt is at or before now to
// replica: each gets Owner = replica and Fence+1, and leaves the due set, in
// one script, so two replicas claiming at once never get the same session.
// Claimed sessions stay in state Waiting until the owner applies the next
// state. ClaimDue also renews replica's lease (claiming proves it is alive),
// unless this Store renewed it within the last tenth of Options.LeaseTTL.
//
// next is the earliest DueAt still waiting (zero when none), so the scheduler
// can sleep until then, or until a Create or Apply schedules something sooner.
// n <= 0 claims nothing and only reports next. At most 1000 are claimed at
// once, so one script never holds Redis long.
func (s *Store) ClaimDue(ctx context.Context, replica string, now time.Time, n int) ([]Session, time.Time, error) {
	return s.ClaimAndStart(ctx, replica, now, n, nil)
}

// ClaimAndStart is ClaimDue that also begins the next callee attempt of the
// first len(nodes) sessions it claims whose DeadlineAt has not passed, in
// the same script: the i-th such session is returned (and stored) as
// DialingCallee with Attempts+1, on nodes[i], with a new callee leg and no
// caller leg, and an "attempt" entry on its timeline, as if the owner had
// applied that step. That saves a retry a round trip and a script. The
// others are returned Waiting, as ClaimDue returns them.
//
// The callee leg's UUID is derived in the script from a random seed, the
// session and the attempt number, so that a script run again by a client
// retrying after a lost reply never hands the same leg to two sessions.
func (s *Store) ClaimAndStart(ctx context.Context, replica string, now time.Time, n int, nodes []string) ([]Session, time.Time, error) {
	if err := checkName("replica", replica, true); err != nil {
		return nil, time.Time{}, fmt.Errorf("claim due sessions: %w", err)
	}
	for _, node := range nodes {
		if node == "" {
			return nil, time.Time{}, fmt.Errorf("claim due sessions: %w: a callee attempt needs a node", ErrInvalid)
		}
	}
	n = min(max(n, 0), maxClaim)
	batch := gcBatch
	if ms(now) < s.gcAt.Load() {
		batch = 0 // nothing is past its retention yet
	}
	var lease int64 // 0: renewed a moment ago, leave it
	if !s.leases.fresh(replica, now, s.opts.LeaseTTL) {
		lease = ms(now.Add(s.opts.LeaseTTL))
	}
	keys := []string{s.dueKey(), s.ownKey(replica), s.gcKey(), s.indexKey(), s.replicasKey(), s.countKey(), s.replayKey()}
	seed := ""
	if len(nodes) > 0 {
		var b [12]byte
		rand.Read(b[:])
		seed = hex.EncodeToString(b[:])
	}
	args := make([]any, 0, 10+2*len(nodes))
	args = append(args, s.p, ms(now), n, replica, s.channel(), batch, lease, s.opts.Retention.Milliseconds(), seed, len(nodes))
	for _, node := range nodes {
		args = append(args, node, attemptEntry(node, now))
	}
	res, err := claimScript.Run(ctx, s.rdb, keys, args...).Slice()
	if s.done("claim", err) != nil {
		return nil, time.Time{}, fmt.Errorf("claim due sessions for %s: %w", replica, err)
	}
	if lease > 0 {
		s.leases.renewed(replica, now)
	}
	if len(res) < 3 {
		return nil, time.Time{}, fmt.Errorf("claim due sessions for %s: unexpected reply %v", replica, res)
	}
	next, err := scoreTime(res[0])
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("claim due sessions: next due: %w", err)
	}
	if batch > 0 {
		// Other replicas finish sessions meanwhile, so look again within
		// gcRecheck even when the earliest end of retention is later.
		gc, err := scoreTime(res[1])
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("claim due sessions: next end of retention: %w", err)
		}
		at := ms(now.Add(gcRecheck))
		if !gc.IsZero() {
			at = min(at, ms(gc))
		}
		s.gcAt.Store(at)
	}
	s.quarantinedIn(res[2])
	sessions, err := s.decodePairs(ctx, res[3:])
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("claim due sessions: %w", err)
	}
	return sessions, next, nil
}

// Heartbeat renews replica's lease until now + Options.LeaseTTL, syncs
// Now with Redis's clock, and finds out whether Redis lost its data since
// the last Heartbeat (see DataLost).
func (s *Store) Heartbeat(ctx context.Context, replica string, now time.Time) error {
	if err := checkName("replica", replica, true); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	exp := ms(now.Add(s.opts.LeaseTTL))
	// Redis's clock comes with the lease, for Now, and the data set's mark,
	// to find out whether Redis lost its data.
	pipe := s.rdb.Pipeline()
	renew := pipe.ZAdd(ctx, s.replicasKey(), redis.Z{Score: float64(exp), Member: replica})
	clock := pipe.Time(ctx)
	pipe.SetNX(ctx, s.epochKey(), newID(), 0)
	epoch := pipe.Get(ctx, s.epochKey())
	sent := time.Now()
	pipe.Exec(ctx)
	got := time.Now()
	if err := s.done("heartbeat", renew.Err()); err != nil {
		return fmt.Errorf("heartbeat of %s: %w", replica, err)
	}
	s.leases.renewed(replica, now)
	if t, err := clock.Result(); err == nil {
		observe(&s.clock, t, sent, got)
	}
	if v, err := epoch.Result(); err == nil {
		s.sawEpoch(v)
	}
	return nil
}

// TakeOver moves every live session of each replica whose lease expired
// before now to replica, bumping its Fence so the old owner's late writes fail
// with ErrFenced. Each dead replica is taken over in one script, which checks
// the lease again, so a replica that renewed meanwhile keeps its sessions and
// two replicas taking over at once never split or share one dead replica's
// sessions. replica's own lease is never treated as expired here.
func (s *Store) TakeOver(ctx context.Context, replica string, now time.Time) ([]Session, error) {
	if err := checkName("replica", replica, true); err != nil {
		return nil, fmt.Errorf("take over: %w", err)
	}
	dead, err := s.rdb.ZRangeByScore(ctx, s.replicasKey(), &redis.ZRangeBy{
		Min: "-inf", Max: "(" + strconv.FormatInt(ms(now), 10),
	}).Result()
	if s.done("takeover", err) != nil {
		return nil, fmt.Errorf("take over: list expired leases: %w", err)
	}
	var taken []Session
	for _, d := range dead {
		if d == replica {
			continue
		}
		keys := []string{s.replicasKey(), s.ownKey(d), s.ownKey(replica), s.replayKey()}
		res, err := takeOverScript.Run(ctx, s.rdb, keys, s.p, ms(now), d, replica, s.channel(), s.opts.Retention.Milliseconds()).Slice()
		if s.done("takeover", err) != nil {
			return taken, fmt.Errorf("take over sessions of %s: %w", d, err)
		}
		if len(res) == 0 {
			return taken, fmt.Errorf("take over sessions of %s: empty reply", d)
		}
		s.quarantinedIn(res[0])
		sessions, err := s.decodePairs(ctx, res[1:])
		if err != nil {
			return taken, fmt.Errorf("take over sessions of %s: %w", d, err)
		}
		taken = append(taken, sessions...)
	}
	return taken, nil
}

// Release is a graceful stop of replica. Sessions it claimed that are still
// waiting go back to the due set unowned, for any replica to claim. Live
// sessions (a leg up or being dialled) cannot be handed over without a
// replica that checks FreeSWITCH first, so they stay owned and the replica's
// lease is expired at once: the next TakeOver by any other replica moves them
// (Fence+1) without waiting for LeaseTTL. If no other replica runs, a restart
// under the same replica id resumes them through Owned after its Heartbeat.
// A replica with nothing left is removed from the leases altogether.
func (s *Store) Release(ctx context.Context, replica string) error {
	if err := checkName("replica", replica, true); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	s.leases.forget(replica) // the script expires or removes the lease
	keys := []string{s.replicasKey(), s.ownKey(replica), s.dueKey()}
	res, err := releaseScript.Run(ctx, s.rdb, keys, s.p, replica, s.channel(), s.opts.Retention.Milliseconds()).Slice()
	if s.done("release", err) != nil {
		return fmt.Errorf("release sessions of %s: %w", replica, err)
	}
	if len(res) == 2 {
		s.quarantinedIn(res[1])
	}
	return nil
}

// Owned returns the live sessions replica owns, for a restart under the same
// replica id to resume them.
func (s *Store) Owned(ctx context.Context, replica string) ([]Session, error) {
	ids, err := s.rdb.SMembers(ctx, s.ownKey(replica)).Result()
	if s.done("owned", err) != nil {
		return nil, fmt.Errorf("owned sessions of %s: %w", replica, err)
	}
	sessions, err := s.getMany(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("owned sessions of %s: %w", replica, err)
	}
	out := sessions[:0]
	for _, sess := range sessions {
		if sess.Quarantine == "" && sess.State.Live() && sess.Owner == replica {
			s.views.put(sess)
			out = append(out, sess)
		}
	}
	return out, nil
}

// scoreTime decodes a sorted-set score a script returned, or -1 for none.
func scoreTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("score %q: %w", v, err)
		}
		return time.UnixMilli(int64(f)).UTC(), nil
	case int64:
		if v >= 0 {
			return time.UnixMilli(v).UTC(), nil
		}
		return time.Time{}, nil
	}
	return time.Time{}, fmt.Errorf("unexpected score %v (%T)", v, v)
}

// decodePairs decodes a script's {id1, fields1, id2, fields2, ...} reply
// of sessions handed to this Store's caller, and remembers them for Apply.
// A session that does not decode (the script checked, so only if the two
// disagree) is set aside rather than returned.
func (s *Store) decodePairs(ctx context.Context, res []any) ([]Session, error) {
	if len(res)%2 != 0 {
		return nil, fmt.Errorf("unexpected reply of %d elements", len(res))
	}
	out := make([]Session, 0, len(res)/2)
	for i := 0; i < len(res); i += 2 {
		id, _ := res[i].(string)
		h, err := flatToMap(res[i+1])
		if err != nil {
			return nil, fmt.Errorf("session %s: %w", id, err)
		}
		sess, err := s.decode(ctx, id, h)
		if err != nil {
			slog.Warn("store: a session handed over does not decode; left for a later look", "session", id, "err", err)
			continue
		}
		if sess.Quarantine != "" {
			continue
		}
		s.views.put(sess)
		out = append(out, sess)
	}
	return out, nil
}
