package store

import (
	"context"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// readBatch bounds how many changes Subscribe reads in one round trip.
const readBatch = 64

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
// arrives (changes that arrive together are read in one round trip). If the
// session changed again meanwhile, the Session delivered has the ID,
// Version, State and Outcome of this change and its other fields as they are
// now; the next change follows. A session gone past its retention comes with
// those four fields only.
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
			var batch []change
			open := true
			select {
			case <-ctx.Done():
				return
			case m, ok := <-msgs:
				if !ok {
					return
				}
				batch = appendChange(batch, m)
			}
		drain:
			for len(batch) < readBatch {
				select {
				case m, ok := <-msgs:
					if !ok {
						open = false
						break drain
					}
					batch = appendChange(batch, m)
				default:
					break drain
				}
			}
			for _, c := range s.complete(ctx, batch) {
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			}
			if !open {
				return
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

// appendChange appends the change m carries, skipping messages that are not
// ours (another writer on the channel).
func appendChange(batch []change, m *redis.Message) []change {
	c, err := decodeChange(m.Payload)
	if err != nil {
		return batch
	}
	return append(batch, c)
}

// complete reads the sessions of batch in one round trip and returns the
// changes to deliver. When the read fails the changes go out with what the
// messages carry: a watcher still learns that something changed.
func (s *Store) complete(ctx context.Context, batch []change) []Change {
	if len(batch) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	reads := make([]*redis.MapStringStringCmd, len(batch))
	for i, c := range batch {
		reads[i] = pipe.HGetAll(ctx, s.sessionKey(c.id))
	}
	_, err := pipe.Exec(ctx)
	if err != nil && ctx.Err() == nil {
		slog.Warn("watch: reading changed sessions failed; delivering the changes without them", "changes", len(batch), "err", err)
	}
	out := make([]Change, len(batch))
	for i, c := range batch {
		var sess Session
		if h := reads[i].Val(); len(h) > 0 {
			sess, _ = decodeSession(c.id, h) // a field that does not parse stays zero
		}
		sess.ID, sess.Version, sess.State, sess.Outcome = c.id, c.version, c.state, c.outcome
		out[i] = Change{Session: sess, Entries: c.entries}
	}
	return out
}
