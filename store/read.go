package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Get returns the session id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Session, error) {
	h, err := s.rdb.HGetAll(ctx, s.sessionKey(id)).Result()
	if err != nil {
		return Session{}, fmt.Errorf("get session %s: %w", id, err)
	}
	if len(h) == 0 {
		return Session{}, fmt.Errorf("get session %s: %w", id, ErrNotFound)
	}
	return decodeSession(id, h)
}

// Timeline returns the session's timeline, oldest first, or ErrNotFound.
func (s *Store) Timeline(ctx context.Context, id string) ([]Entry, error) {
	pipe := s.rdb.Pipeline()
	exists := pipe.Exists(ctx, s.sessionKey(id))
	lines := pipe.LRange(ctx, s.timelineKey(id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("timeline of session %s: %w", id, err)
	}
	if exists.Val() == 0 {
		return nil, fmt.Errorf("timeline of session %s: %w", id, ErrNotFound)
	}
	out := make([]Entry, 0, len(lines.Val()))
	for _, l := range lines.Val() {
		e, err := decodeEntry(l)
		if err != nil {
			return nil, fmt.Errorf("timeline of session %s: %w", id, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// getMany reads sessions in one round trip, in the order of ids, skipping ids
// that no longer exist.
func (s *Store) getMany(ctx context.Context, ids []string) ([]Session, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.sessionKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]Session, 0, len(ids))
	for i, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		sess, err := decodeSession(ids[i], c.Val())
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, nil
}

// Lookup returns the state of each id that exists, in one round trip; ids
// missing from the map are unknown (never created, or past retention).
func (s *Store) Lookup(ctx context.Context, ids []string) (map[string]State, error) {
	out := make(map[string]State, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, s.sessionKey(id), fState)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("look up %d sessions: %w", len(ids), err)
	}
	for i, c := range cmds {
		if c.Err() == nil {
			out[ids[i]] = State(c.Val())
		}
	}
	return out, nil
}

// LiveCounts returns the number of live sessions in each live state; every
// state of LiveStates is present.
func (s *Store) LiveCounts(ctx context.Context) (map[State]int64, error) {
	h, err := s.rdb.HGetAll(ctx, s.countKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("live counts: %w", err)
	}
	out := make(map[State]int64, len(LiveStates))
	for _, st := range LiveStates {
		out[st] = 0
	}
	for k, v := range h {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("live counts: %s: %w", k, err)
		}
		out[State(k)] = n
	}
	return out, nil
}

const (
	defaultListLimit = 50
	maxListLimit     = 1000
	// listScanBudget bounds how many index entries one List call reads when
	// filters reject most of them; the cursor lets the caller go on.
	listScanBudget = 5000
)

// List returns sessions newest first (by CreatedAt), filtered, one page at a
// time. The returned cursor fetches the next page; "" means there is none.
// A page may hold fewer than Limit sessions with a non-empty cursor when the
// filters rejected many sessions: keep paging.
func (s *Store) List(ctx context.Context, f Filter) ([]Session, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	key := s.indexKey()
	switch {
	case f.Caller != "":
		key = s.callerIndexKey(f.Caller)
	case f.Callee != "":
		key = s.calleeIndexKey(f.Callee)
	}
	max, after := "+inf", ""
	if f.Cursor != "" {
		score, id, ok := strings.Cut(f.Cursor, ":")
		if _, err := strconv.ParseInt(score, 10, 64); !ok || err != nil || id == "" {
			return nil, "", fmt.Errorf("list sessions: %w: bad cursor %q; pass the cursor a previous List returned", ErrInvalid, f.Cursor)
		}
		max, after = score, id
	}

	var out []Session
	var offset int64
	scanned := 0
	batch := int64(limit + 1)
	for {
		zs, err := s.rdb.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{
			Max: max, Min: "-inf", Offset: offset, Count: batch,
		}).Result()
		if err != nil {
			return nil, "", fmt.Errorf("list sessions: %w", err)
		}
		offset += int64(len(zs))
		// Members with equal scores come in reverse lexical order, so the
		// ones already returned at the cursor's score are those >= after.
		ids := make([]string, 0, len(zs))
		scores := make(map[string]int64, len(zs))
		for _, z := range zs {
			id := z.Member.(string)
			sc := int64(z.Score)
			if after != "" && strconv.FormatInt(sc, 10) == max && id >= after {
				continue
			}
			ids = append(ids, id)
			scores[id] = sc
		}
		sessions, err := s.getMany(ctx, ids)
		if err != nil {
			return nil, "", fmt.Errorf("list sessions: %w", err)
		}
		byID := make(map[string]Session, len(sessions))
		for _, sess := range sessions {
			byID[sess.ID] = sess
		}
		for i, id := range ids {
			scanned++
			sess, ok := byID[id]
			if ok && f.match(sess) {
				out = append(out, sess)
			}
			if len(out) == limit || scanned >= listScanBudget {
				if i == len(ids)-1 {
					more := int64(len(zs)) == batch
					if more {
						// The batch was full: peek, so a last page is not
						// followed by an empty one.
						n, err := s.rdb.ZRevRangeByScore(ctx, key, &redis.ZRangeBy{
							Max: max, Min: "-inf", Offset: offset, Count: 1,
						}).Result()
						if err != nil {
							return nil, "", fmt.Errorf("list sessions: %w", err)
						}
						more = len(n) > 0
					}
					if !more {
						return out, "", nil
					}
				}
				return out, strconv.FormatInt(scores[id], 10) + ":" + id, nil
			}
		}
		if int64(len(zs)) < batch {
			return out, "", nil
		}
	}
}

func (f Filter) match(sess Session) bool {
	return (f.Caller == "" || sess.Caller == f.Caller) &&
		(f.Callee == "" || sess.Callee == f.Callee) &&
		(f.State == "" || sess.State == f.State)
}
