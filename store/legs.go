package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Legs is what the store says of a session's legs: its state and the legs
// it steers now. A leg tagged with the session but named by neither is left
// over from an earlier attempt.
type Legs struct {
	State                State
	CalleeLeg, CallerLeg string
}

// LegsOf returns the state and current legs of each id that exists, in one
// round trip; ids missing from the map are unknown (never created, past
// retention, or lost with Redis's data).
func (s *Store) LegsOf(ctx context.Context, ids []string) (map[string]Legs, error) {
	out := make(map[string]Legs, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.sessionKey(id), fState, fCalleeLeg, fCallerLeg)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("look up the legs of %d sessions: %w", len(ids), err)
	}
	for i, c := range cmds {
		v := c.Val()
		if c.Err() != nil || len(v) != 3 {
			continue
		}
		st, _ := v[0].(string)
		if st == "" {
			continue // no such session
		}
		b, _ := v[1].(string)
		a, _ := v[2].(string)
		out[ids[i]] = Legs{State: State(st), CalleeLeg: b, CallerLeg: a}
	}
	return out, nil
}

// OwnedIDs returns the ids of the sessions replica owns in the store, for a
// replica to compare with the sessions it steers. Cheaper than Owned: it
// reads no session.
func (s *Store) OwnedIDs(ctx context.Context, replica string) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.ownKey(replica)).Result()
	if err != nil {
		return nil, fmt.Errorf("owned sessions of %s: %w", replica, err)
	}
	return ids, nil
}
