package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The reads below serve an operator's overview (bgcall top, the web
// page). None writes; each is a few round trips, bounded by its limit.

// FinishedSince counts, by outcome, the sessions that finished at or after
// since, reading at most limit of them, the latest first: total is how many
// finished then, and the counts cover min(total, limit) of them. Finished
// sessions are found in the gc set, scored by the end of their retention
// (quarantined records are there too, counted in total, with no outcome).
func (s *Store) FinishedSince(ctx context.Context, since time.Time, limit int) (counts map[Outcome]int, total int64, err error) {
	lo := strconv.FormatInt(ms(since.Add(s.opts.Retention)), 10)
	pipe := s.rdb.Pipeline()
	count := pipe.ZCount(ctx, s.gcKey(), lo, "+inf")
	members := pipe.ZRevRangeByScore(ctx, s.gcKey(), &redis.ZRangeBy{Max: "+inf", Min: lo, Count: int64(limit)})
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, fmt.Errorf("finished sessions since %s: %w", since.Format(time.RFC3339), err)
	}
	pipe = s.rdb.Pipeline()
	outcomes := make([]*redis.StringCmd, 0, len(members.Val()))
	for _, m := range members.Val() {
		id, _, _ := strings.Cut(m, "|")
		outcomes = append(outcomes, pipe.HGet(ctx, s.sessionKey(id), fOutcome))
	}
	counts = make(map[Outcome]int)
	if len(outcomes) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, 0, fmt.Errorf("outcomes of finished sessions: %w", err)
		}
	}
	for _, o := range outcomes {
		if o.Err() == nil && o.Val() != "" { // a quarantined record has none
			counts[Outcome(o.Val())]++
		}
	}
	return counts, count.Val(), nil
}

// DueBetween returns up to limit waiting sessions due from from to to,
// earliest first, and how many are due then in all.
func (s *Store) DueBetween(ctx context.Context, from, to time.Time, limit int) ([]Session, int64, error) {
	lo, hi := strconv.FormatInt(ms(from), 10), strconv.FormatInt(ms(to), 10)
	pipe := s.rdb.Pipeline()
	count := pipe.ZCount(ctx, s.dueKey(), lo, hi)
	var ids *redis.StringSliceCmd
	if limit > 0 {
		ids = pipe.ZRangeByScore(ctx, s.dueKey(), &redis.ZRangeBy{Min: lo, Max: hi, Count: int64(limit)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, fmt.Errorf("sessions due by %s: %w", to.Format(time.RFC3339), err)
	}
	if ids == nil {
		return nil, count.Val(), nil
	}
	sessions, err := s.getMany(ctx, ids.Val())
	if err != nil {
		return nil, 0, fmt.Errorf("sessions due by %s: %w", to.Format(time.RFC3339), err)
	}
	return sessions, count.Val(), nil
}

// Replica is one replica's lease and the live sessions it steers.
type Replica struct {
	ID         string
	LeaseUntil time.Time // past: the replica is lost, its sessions go to another
	Owned      int64
}

// Replicas lists the replicas that hold or held a lease, with their live
// sessions.
func (s *Store) Replicas(ctx context.Context) ([]Replica, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.replicasKey(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("replicas: %w", err)
	}
	pipe := s.rdb.Pipeline()
	owned := make([]*redis.IntCmd, len(zs))
	for i, z := range zs {
		owned[i] = pipe.SCard(ctx, s.ownKey(z.Member.(string)))
	}
	if len(zs) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("replicas' sessions: %w", err)
		}
	}
	out := make([]Replica, len(zs))
	for i, z := range zs {
		out[i] = Replica{ID: z.Member.(string), LeaseUntil: time.UnixMilli(int64(z.Score)).UTC(), Owned: owned[i].Val()}
	}
	return out, nil
}

// findBatch is how many sessions FindLeg reads per round trip.
const findBatch = 200

// FindLeg returns the session one of whose legs is uuid, looking at the
// sessions created since since, newest first, at most limit of them: their
// current legs and the legs on their timelines. ErrNotFound when none has
// it. There is no index by leg: this is an operator's search, bounded by
// limit.
func (s *Store) FindLeg(ctx context.Context, uuid string, since time.Time, limit int) (Session, error) {
	lo := strconv.FormatInt(ms(since), 10)
	var offset int64
	for offset < int64(limit) {
		ids, err := s.rdb.ZRevRangeByScore(ctx, s.indexKey(), &redis.ZRangeBy{Max: "+inf", Min: lo, Offset: offset, Count: findBatch}).Result()
		if err != nil {
			return Session{}, fmt.Errorf("find leg %s: %w", uuid, err)
		}
		if len(ids) == 0 {
			break
		}
		offset += int64(len(ids))
		pipe := s.rdb.Pipeline()
		legs := make([]*redis.SliceCmd, len(ids))
		lines := make([]*redis.StringSliceCmd, len(ids))
		for i, id := range ids {
			legs[i] = pipe.HMGet(ctx, s.sessionKey(id), fCalleeLeg, fCallerLeg)
			lines[i] = pipe.LRange(ctx, s.timelineKey(id), 0, -1)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return Session{}, fmt.Errorf("find leg %s: %w", uuid, err)
		}
		for i, id := range ids {
			found := false
			for _, v := range legs[i].Val() {
				found = found || v == uuid
			}
			for _, l := range lines[i].Val() {
				found = found || strings.Contains(l, uuid)
			}
			if found {
				return s.Get(ctx, id)
			}
		}
		if len(ids) < findBatch {
			break
		}
	}
	return Session{}, fmt.Errorf("find leg %s: %w", uuid, ErrNotFound)
}
