package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// NewEmbedded starts an in-process Redis (miniredis) and returns a client for
// it, for running without a Redis server: the Store runs the same scripts on
// it. Nothing survives the process. The returned func stops the client and the server.
//
// miniredis only ages keys when told to, so a goroutine owned by the returned
// stop function advances its clock every second and retention TTLs expire
// as they would on Redis.
func NewEmbedded() (redis.UniversalClient, func(), error) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return nil, nil, fmt.Errorf("start embedded redis: %w", err)
	}
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{m.Addr()}})
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		m.Close()
		return nil, nil, fmt.Errorf("embedded redis does not answer: %w", err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			c.Close()
			m.Close()
		})
	}, nil
}
