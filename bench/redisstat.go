package bench

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// commandStats reads INFO commandstats: calls by command name.
func commandStats(ctx context.Context, c redis.UniversalClient) (map[string]int64, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("info commandstats: %w", err)
	}
	out := make(map[string]int64)
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out, nil
}

// redisCPU reads the server's user+system CPU time so far.
func redisCPU(ctx context.Context, c redis.UniversalClient) (time.Duration, error) {
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("info cpu: %w", err)
	}
	var sec float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			sec += f
		}
	}
	return time.Duration(sec * float64(time.Second)), nil
}

// usedMemory reads used_memory and the number of keys.
func usedMemory(ctx context.Context, c redis.UniversalClient) (mem, keys int64, err error) {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, 0, fmt.Errorf("info memory: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			mem, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	keys, err = c.DBSize(ctx).Result()
	if err != nil {
		return 0, 0, fmt.Errorf("dbsize: %w", err)
	}
	return mem, keys, nil
}

// counts is a snapshot of commands by name.
type counts map[string]int64

func (c counts) total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// sub returns c - old, by name.
func (c counts) sub(old counts) counts {
	out := make(counts, len(c))
	for k, v := range c {
		if d := v - old[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// tally is a go-redis hook counting round trips (one per call or per
// pipeline) and commands by name, as seen by the client.
type tally struct {
	mu         sync.Mutex
	roundTrips int64
	commands   counts
}

func newTally() *tally { return &tally{commands: make(counts)} }

// snapshot returns the round trips and commands so far.
func (t *tally) snapshot() (int64, counts) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := make(counts, len(t.commands))
	for k, v := range t.commands {
		c[k] = v
	}
	return t.roundTrips, c
}

func (t *tally) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

func (t *tally) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		t.mu.Lock()
		t.roundTrips++
		t.commands[strings.ToLower(cmd.Name())]++
		t.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (t *tally) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		t.mu.Lock()
		t.roundTrips++
		for _, c := range cmds {
			t.commands[strings.ToLower(c.Name())]++
		}
		t.mu.Unlock()
		return next(ctx, cmds)
	}
}
