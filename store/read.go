package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Get returns the session id, or ErrNotFound. A session whose record cannot
// be decoded is set aside if it was not yet, and returned as far as it
// decodes, with Quarantine set and ErrQuarantined (also ErrNotFound).
func (s *Store) Get(ctx context.Context, id string) (Session, error) {
	h, err := s.rdb.HGetAll(ctx, s.sessionKey(id)).Result()
	if s.done("get", err) != nil {
		return Session{}, fmt.Errorf("get session %s: %w", id, err)
	}
	if len(h) == 0 {
		return Session{}, fmt.Errorf("get session %s: %w", id, ErrNotFound)
	}
	sess, err := s.decode(ctx, id, h)
	if err != nil {
		return Session{}, fmt.Errorf("get session %s: %w", id, err)
	}
	if sess.Quarantine != "" {
		return sess, fmt.Errorf("get session %s: %w (%s)", id, ErrQuarantined, sess.Quarantine)
	}
	return sess, nil
}

// Timeline returns the session's timeline, oldest first, or ErrNotFound.
//
// The first entry lives in the session hash (Create writes no list), the
// rest in the timeline list. Sessions stored before that have their first
// entry in the list, and no e0 field: a list that starts with a "created"
// entry at CreatedAt is taken as whole.
func (s *Store) Timeline(ctx context.Context, id string) ([]Entry, error) {
	pipe := s.rdb.Pipeline()
	head := pipe.HMGet(ctx, s.sessionKey(id), fState, fCreatedAt, fSource, fFirst)
	lines := pipe.LRange(ctx, s.timelineKey(id), 0, -1)
	if _, err := pipe.Exec(ctx); s.done("timeline", err) != nil {
		return nil, fmt.Errorf("timeline of session %s: %w", id, err)
	}
	h := head.Val()
	if h[0] == nil {
		return nil, fmt.Errorf("timeline of session %s: %w", id, ErrNotFound)
	}
	out := make([]Entry, 0, 1+len(lines.Val()))
	for _, l := range lines.Val() {
		e, err := decodeEntry(l)
		if err != nil {
			return nil, fmt.Errorf("timeline of session %s: %w", id, err)
		}
		out = append(out, e)
	}
	var created Session
	if v, ok := h[1].(string); ok {
		// A creation time that does not parse (a quarantined record) leaves
		// the first entry without one rather than the timeline unreadable.
		if n, err := parseStoredInt(v); err == nil {
			created.CreatedAt = time.UnixMilli(n).UTC()
		}
	}
	created.Source, _ = h[2].(string)
	first := defaultFirst(created)
	if v, ok := h[3].(string); ok {
		e, err := decodeEntry(v)
		if err != nil {
			return nil, fmt.Errorf("timeline of session %s: %w", id, err)
		}
		first = e
	} else if len(out) > 0 && out[0].Kind == first.Kind && out[0].At.Equal(first.At) {
		return out, nil
	}
	return append([]Entry{first}, out...), nil
}

// getMany reads sessions in one round trip, in the order of ids, skipping ids
// that no longer exist. A record that cannot be decoded is set aside and
// returned with Quarantine set.
func (s *Store) getMany(ctx context.Context, ids []string) ([]Session, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.sessionKey(id))
	}
	if _, err := pipe.Exec(ctx); s.done("get", err) != nil {
		return nil, err
	}
	out := make([]Session, 0, len(ids))
	for i, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		sess, err := s.decode(ctx, ids[i], c.Val())
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
		return nil, fmt.Errorf("look up %d sessions: %w", len(ids), s.done("lookup", err))
	}
	s.done("lookup", nil)
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
	if s.done("live_counts", err) != nil {
		return nil, fmt.Errorf("live counts: %w", err)
	}
	out := make(map[State]int64, len(LiveStates))
	for _, st := range LiveStates {
		out[st] = 0
	}
	// A session is counted in a state as often as it entered it, less as
	// often as it left it; finished sessions are not counted at all.
	for k, v := range h {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("live counts: %s: %w", k, err)
		}
		from, to, moved := strings.Cut(k, ">")
		if !moved {
			from, to = "", k
		}
		// Only live states count: a move to "quarantined" takes a session
		// out of its state like one to finished.
		if _, ok := out[State(from)]; ok {
			out[State(from)] -= n
		}
		if _, ok := out[State(to)]; ok {
			out[State(to)] += n
		}
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

// List returns sessions newest first (by CreatedAt, then by ID), filtered,
// one page at a time. The returned cursor fetches the next page; "" means
// there is none. A page may hold fewer than Limit sessions with a non-empty
// cursor when the filters rejected many sessions: keep paging.
//
// Without a caller or callee filter List reads the index of every session.
// With one, it reads that party's live hash (a few sessions) and its history
// of finished sessions, and merges the two.
func (s *Store) List(ctx context.Context, f Filter) ([]Session, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	var after position // where the previous page ended; zero for the first
	if f.Cursor != "" {
		p, ok := parsePosition(f.Cursor)
		if !ok {
			return nil, "", fmt.Errorf("list sessions: %w: bad cursor %q; pass the cursor a previous List returned", ErrInvalid, f.Cursor)
		}
		after = p
	}
	if f.Caller == "" && f.Callee == "" {
		out, next, err := s.scanIndex(ctx, s.indexKey(), f, limit, after)
		if s.done("list", err) != nil {
			return nil, "", fmt.Errorf("list sessions: %w", err)
		}
		return out, next.String(), nil
	}

	liveKey, historyKey := s.callerLiveKey(f.Caller), s.callerHistoryKey(f.Caller)
	if f.Caller == "" {
		liveKey, historyKey = s.calleeLiveKey(f.Callee), s.calleeHistoryKey(f.Callee)
	}
	// Live sessions first: one that finishes between the two reads then shows
	// up on both sides (and is listed once) rather than on neither. A state
	// filter can rule out one side: history holds finished sessions only.
	var history, live []Session
	var next position
	if f.State != Finished {
		ids, err := s.rdb.HVals(ctx, liveKey).Result()
		if s.done("list", err) != nil {
			return nil, "", fmt.Errorf("list sessions: live sessions: %w", err)
		}
		if live, err = s.getMany(ctx, ids); err != nil {
			return nil, "", fmt.Errorf("list sessions: %w", err)
		}
	}
	if f.State == "" || f.State == Finished {
		var err error
		history, next, err = s.scanIndex(ctx, historyKey, f, limit, after)
		if s.done("list", err) != nil {
			return nil, "", fmt.Errorf("list sessions: %w", err)
		}
	}
	// The history scan covered everything down to next (or to the end when
	// next is zero); live sessions older than next belong to later pages.
	seen := make(map[string]bool, len(history))
	out := history
	for _, sess := range history {
		seen[sess.ID] = true
	}
	for _, sess := range live {
		p := positionOf(sess)
		if seen[sess.ID] || !f.match(sess) || (!after.zero() && !p.before(after)) || (!next.zero() && p.before(next)) {
			continue
		}
		out = append(out, sess)
	}
	sort.Slice(out, func(i, j int) bool { return positionOf(out[j]).before(positionOf(out[i])) })
	if len(out) > limit {
		out = out[:limit]
		next = positionOf(out[limit-1])
	}
	return out, next.String(), nil
}

// position is a place in an index: a CreatedAt score and an id. Listing goes
// from the greatest position down.
type position struct {
	score int64
	id    string
}

func positionOf(sess Session) position { return position{ms(sess.CreatedAt), sess.ID} }

func parsePosition(s string) (position, bool) {
	score, id, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(score, 10, 64)
	if !ok || err != nil || id == "" {
		return position{}, false
	}
	return position{n, id}, true
}

func (p position) zero() bool { return p.id == "" }

// before reports whether p comes after q in listing order (older).
func (p position) before(q position) bool {
	return p.score < q.score || (p.score == q.score && p.id < q.id)
}

func (p position) String() string {
	if p.zero() {
		return ""
	}
	return strconv.FormatInt(p.score, 10) + ":" + p.id
}

// scanIndex reads the sessions of index key (a zset scored by CreatedAt) that
// come after position after, newest first, until limit match f or the scan
// budget is spent. next is the position to resume from, zero when the index
// holds nothing more.
func (s *Store) scanIndex(ctx context.Context, key string, f Filter, limit int, after position) (out []Session, next position, err error) {
	top := "+inf"
	if !after.zero() {
		top = strconv.FormatInt(after.score, 10)
	}
	var offset int64
	scanned := 0
	batch := int64(limit + 1)
	for {
		zs, err := s.rdb.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{
			Max: top, Min: "-inf", Offset: offset, Count: batch,
		}).Result()
		if err != nil {
			return nil, position{}, err
		}
		offset += int64(len(zs))
		// Members with equal scores come in reverse lexical order, so the
		// ones the previous page returned are those not before after.
		var ps []position
		for _, z := range zs {
			p := position{int64(z.Score), z.Member.(string)}
			if after.zero() || p.before(after) {
				ps = append(ps, p)
			}
		}
		ids := make([]string, len(ps))
		for i, p := range ps {
			ids[i] = p.id
		}
		sessions, err := s.getMany(ctx, ids)
		if err != nil {
			return nil, position{}, err
		}
		byID := make(map[string]Session, len(sessions))
		for _, sess := range sessions {
			byID[sess.ID] = sess
		}
		for i, p := range ps {
			scanned++
			if sess, ok := byID[p.id]; ok && f.match(sess) {
				out = append(out, sess)
			}
			if len(out) < limit && scanned < listScanBudget {
				continue
			}
			if i == len(ps)-1 && int64(len(zs)) == batch {
				// The batch was full: peek, so that a last page is not
				// followed by an empty one.
				more, err := s.rdb.ZRevRangeByScore(ctx, key, &redis.ZRangeBy{
					Max: top, Min: "-inf", Offset: offset, Count: 1,
				}).Result()
				if err != nil {
					return nil, position{}, err
				}
				if len(more) == 0 {
					return out, position{}, nil
				}
			} else if i == len(ps)-1 {
				return out, position{}, nil
			}
			return out, p, nil
		}
		if int64(len(zs)) < batch {
			return out, position{}, nil
		}
	}
}

func (f Filter) match(sess Session) bool {
	return (f.Caller == "" || sess.Caller == f.Caller) &&
		(f.Callee == "" || sess.Callee == f.Callee) &&
		(f.Node == "" || sess.Node == f.Node) &&
		(f.State == "" || sess.State == f.State)
}
