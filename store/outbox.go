package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The outbox holds lifecycle events waiting for delivery to webhooks: one
// Redis stream (p hooks) read by one consumer group, each replica a
// consumer. An event a replica has read stays pending under its name until
// it is done (delivered, or given up): a replica that dies leaves its
// pending events behind, and another claims them once they have been idle
// long enough (OutboxClaim). A replica keeps the events it is still trying
// from looking idle with OutboxTouch. Done events are deleted, so the
// stream's length is the backlog.

// outboxGroup is the consumer group every replica reads the outbox in.
const outboxGroup = "hooks"

// outboxField is the stream entry's one field, the event as the webhook
// package encoded it.
const outboxField = "e"

func (s *Store) outboxKey() string { return s.p + "hooks" }

// OutboxEvent is one event in the outbox.
type OutboxEvent struct {
	ID   string // the stream entry's id, given by Redis
	Data string // the event, opaque to the store
}

// OutboxAdd appends events to the outbox. Past maxLen entries (0: no
// bound) Redis drops the oldest, so that an endpoint down for days cannot
// fill Redis's memory, which the sessions need.
func (s *Store) OutboxAdd(ctx context.Context, maxLen int64, events ...string) error {
	if len(events) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range events {
			p.XAdd(ctx, &redis.XAddArgs{Stream: s.outboxKey(), MaxLen: maxLen, Values: []any{outboxField, e}})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add %d events to the outbox: %w", len(events), err)
	}
	return nil
}

// OutboxRead returns up to count events for consumer: with pending, those
// it has read before and not yet done (after a restart under the same
// name); else new ones, waiting up to block for one to come.
func (s *Store) OutboxRead(ctx context.Context, consumer string, count int, block time.Duration, pending bool) ([]OutboxEvent, error) {
	start := ">"
	if pending {
		start = "0"
		block = -1 // no BLOCK: a consumer's own history is there or not
	}
	var streams []redis.XStream
	err := s.withGroup(ctx, func() error {
		var err error
		streams, err = s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: outboxGroup, Consumer: consumer, Streams: []string{s.outboxKey(), start},
			Count: int64(count), Block: block,
		}).Result()
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the outbox as %s: %w", consumer, err)
	}
	var out []OutboxEvent
	for _, st := range streams {
		out = appendEvents(out, st.Messages)
	}
	return out, nil
}

// OutboxClaim hands consumer the events other consumers read at least
// minIdle ago and have neither done nor touched since: those of a replica
// that died or hangs. It returns at most count.
func (s *Store) OutboxClaim(ctx context.Context, consumer string, minIdle time.Duration, count int) ([]OutboxEvent, error) {
	var out []OutboxEvent
	err := s.withGroup(ctx, func() error {
		out = out[:0]
		start := "0-0"
		for len(out) < count {
			msgs, next, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: s.outboxKey(), Group: outboxGroup, Consumer: consumer,
				MinIdle: minIdle, Start: start, Count: int64(count - len(out)),
			}).Result()
			if err != nil {
				return err
			}
			out = appendEvents(out, msgs)
			if next == "0-0" || next == "" {
				return nil
			}
			start = next
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim idle outbox events for %s: %w", consumer, err)
	}
	return out, nil
}

// OutboxTouch tells the outbox that consumer is still on the events ids
// (between retries of an endpoint that fails), so that no other replica
// claims them. An id already done is left alone.
func (s *Store) OutboxTouch(ctx context.Context, consumer string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: s.outboxKey(), Group: outboxGroup, Consumer: consumer, Messages: ids,
	}).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("touch %d outbox events for %s: %w", len(ids), consumer, err)
	}
	return nil
}

// OutboxDone removes the events ids from the outbox: delivered, or given
// up. Acknowledged and deleted in one transaction, so a done event is
// never claimed again.
func (s *Store) OutboxDone(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, s.outboxKey(), outboxGroup, ids...)
		p.XDel(ctx, s.outboxKey(), ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %d delivered events from the outbox: %w", len(ids), err)
	}
	return nil
}

// OutboxBacklog is the number of events in the outbox: not yet read, or
// read and not yet done.
func (s *Store) OutboxBacklog(ctx context.Context) (int64, error) {
	n, err := s.rdb.XLen(ctx, s.outboxKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("outbox backlog: %w", err)
	}
	return n, nil
}

// withGroup runs f, creating the consumer group first if Redis says it is
// missing (the first read of a namespace, or Redis lost its data) and
// running f once more.
func (s *Store) withGroup(ctx context.Context, f func() error) error {
	err := f()
	if err == nil || !strings.HasPrefix(err.Error(), "NOGROUP") {
		return err
	}
	// From the stream's start: events added before the group existed are
	// delivered too.
	err = s.rdb.XGroupCreateMkStream(ctx, s.outboxKey(), outboxGroup, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create the outbox's consumer group: %w", err)
	}
	return f()
}

// appendEvents appends the stream messages to out; one without the event
// field (deleted meanwhile, or not written by OutboxAdd) comes with empty
// Data, so that its reader can remove it.
func appendEvents(out []OutboxEvent, msgs []redis.XMessage) []OutboxEvent {
	for _, m := range msgs {
		data, _ := m.Values[outboxField].(string)
		out = append(out, OutboxEvent{ID: m.ID, Data: data})
	}
	return out
}
