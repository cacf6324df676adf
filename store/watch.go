package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
)

// Subscribe returns every change stored from now on (creates, transitions,
// claims, takeovers, releases), as the scripts publish them, until ctx ends or
// stop is called; then the channel is closed. The subscription is confirmed
// before Subscribe returns, so no change made after it is missed while the
// connection holds. Delivery is at most once: messages published while the
// subscriber's connection is down are lost, and a reader that falls a minute
// behind loses messages (go-redis drops them), so a watcher that must not miss
// anything re-reads with Get or List. Cancelling ctx has the same effect as
// stop, except that stop also waits for the subscription to be closed.
//
// A change carries the session's id, version, state, outcome and new
// timeline entries; Subscribe reads the rest of the session when the change
// arrives, one read per change. If the session changed again meanwhile, the
// Session delivered has the ID, Version, State and Outcome of this change and
// its other fields as they are now; the next change follows. A session gone
// past its retention comes with those four fields only.
func (s *Store) Subscribe(ctx context.Context) (<-chan Change, func()) {
	ctx, cancel := context.WithCancel(ctx)
	ps := s.rdb.Subscribe(ctx, s.channel())
	// Wait for the subscription to be in place; on error go-redis keeps
	// retrying in the background, so the stream still starts when Redis is back.
	_, _ = ps.Receive(ctx)

	out := make(chan Change, 64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		defer ps.Close()
		msgs := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-msgs:
				if !ok {
					return
				}
				c, err := decodeChange(m.Payload)
				if err != nil {
					continue // not ours: another writer on the channel
				}
				sess, err := s.Get(ctx, c.id)
				if err != nil && !errors.Is(err, ErrNotFound) {
					if ctx.Err() != nil {
						return
					}
					slog.Warn("watch: session read failed; delivering the change without it", "session", c.id, "err", err)
				}
				sess.ID, sess.Version, sess.State, sess.Outcome = c.id, c.version, c.state, c.outcome
				ch := Change{Session: sess, Entries: c.entries}
				select {
				case out <- ch:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
	return out, stop
}
