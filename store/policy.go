package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// CheckMemoryPolicy reads Redis's maxmemory-policy (on every master of a
// Cluster) and tells whether the store can keep its promises under it. The
// scripts keep indexes, caps and leases consistent with the sessions; a
// key Redis evicts behind their back breaks that:
//
//   - noeviction (Redis's default): nothing to say. A full Redis refuses
//     writes, which Check reports.
//   - allkeys-*: Redis may evict a live session, a due set, a lease set: a
//     call is lost, a lost replica's sessions are never taken over. An
//     error names the fix; bgcall refuses to start.
//   - volatile-*: Redis may evict keys with a time to live, which hold
//     finished sessions, idempotency keys, replay records and the marks of
//     originates on their way: no call is lost, but a retried create may
//     make a second session, a lost reply may be run twice, and a cancel
//     may be acknowledged as a leg is dialled. The warning says so.
//   - the policy cannot be read (CONFIG disabled or not allowed, as some
//     managed services do): the warning asks to make sure.
func (s *Store) CheckMemoryPolicy(ctx context.Context) (warning string, err error) {
	var (
		mu       sync.Mutex
		policies []string
	)
	read := func(ctx context.Context, c redis.UniversalClient) error {
		v, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		if err != nil {
			return err
		}
		p, ok := v["maxmemory-policy"]
		if !ok {
			return errors.New("CONFIG GET did not report it")
		}
		mu.Lock()
		defer mu.Unlock()
		policies = append(policies, p)
		return nil
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return read(ctx, c) })
	} else {
		err = read(ctx, s.rdb)
	}
	if err != nil {
		return fmt.Sprintf("could not read Redis's maxmemory-policy (%v); make sure it is noeviction, "+
			"or Redis may evict sessions when it fills up", err), nil
	}
	for _, p := range policies {
		if err := memoryPolicyError(p); err != nil {
			return "", err
		}
	}
	for _, p := range policies {
		if strings.HasPrefix(p, "volatile-") {
			return fmt.Sprintf("Redis's maxmemory-policy is %s: when Redis fills up it evicts keys with a time to live, "+
				"which hold finished sessions, idempotency keys, replay records and the marks of originates on their way: "+
				"a retried create may then make a second session, a lost reply may be run twice, and a cancel may be "+
				"acknowledged as a leg is dialled. Set maxmemory-policy noeviction "+
				"(CONFIG SET maxmemory-policy noeviction, and in redis.conf)", p), nil
		}
	}
	return "", nil
}

// ErrEvictionPolicy is the error of a maxmemory-policy under which Redis
// may evict live sessions.
var ErrEvictionPolicy = errors.New("redis may evict live sessions")

func memoryPolicyError(p string) error {
	switch {
	case p == "noeviction", strings.HasPrefix(p, "volatile-"):
		return nil
	}
	return fmt.Errorf("%w: its maxmemory-policy is %s, so when it fills up it may drop a live session, the due set "+
		"or the replicas' leases, losing calls; set maxmemory-policy noeviction "+
		"(redis-cli CONFIG SET maxmemory-policy noeviction, and in redis.conf) and give Redis the memory it needs", ErrEvictionPolicy, p)
}
