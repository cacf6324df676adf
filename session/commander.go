package session

import (
	"context"
	"sync"
)

// commander runs FreeSWITCH commands whose outcome no worker waits for
// (prompts, hangups of legs nobody steers) on a few goroutines of its own:
// a worker that waited for each reply would hold up every other session it
// steers.
type commander struct {
	jobs chan func(context.Context)
	n    int
}

func newCommander(n int) *commander {
	return &commander{jobs: make(chan func(context.Context), 8192), n: n}
}

// do queues f; it blocks only when the queue is full, which pushes back on
// the caller rather than dropping a hangup.
func (c *commander) do(f func(context.Context)) { c.jobs <- f }

func (c *commander) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range c.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case f := <-c.jobs:
					f(ctx)
				}
			}
		}()
	}
	wg.Wait()
}

// backlog is how many commands wait to be sent.
func (c *commander) backlog() int { return len(c.jobs) }
