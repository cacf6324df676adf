package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sending marks, in the store, that the replica steering a session is
// writing a leg's originate to FreeSWITCH; a cancel (ApplyCancel) waits
// for the mark to go. The mark is set by the same script that checks that
// the session still waits for the leg, so a cancel and an originate are
// ordered in Redis: either the cancel landed first and the originate is
// not sent, or the originate was written before the cancel is acknowledged
// (and the cancel's teardown hangs the leg up). A read of the session
// before the originate cannot order them: a cancel may land between the
// read and the write.

func (s *Store) sendingKey(id string) string { return s.p + "x:" + id }

// beginSendingScript marks a leg's originate as on its way if the session
// still waits for that leg.
//
//	KEYS[1] s:<id>   KEYS[2] x:<id>
//	ARGV[1] leg      ARGV[2] how long the mark lasts, ms
//
// The session waits for its callee leg while dialing_callee, and for its
// caller leg while callee_hold. Returns DONE (marked), NOT_FOUND, STALE
// (the session waits for another leg, or none). Anything but DONE writes
// nothing. Run twice, it marks again, which is what the caller asked.
var beginSendingScript = redis.NewScript(luaPrelude + `
local h = redis.call('HMGET', KEYS[1], 'st', 'lb', 'la')
local st, leg = h[1], ARGV[1]
if not st then return NOT_FOUND end
if not ((st == 'dialing_callee' and h[2] == leg) or (st == 'callee_hold' and h[3] == leg)) then
  return STALE
end
redis.call('SET', KEYS[2], leg, 'PX', ARGV[2])
return DONE
`)

// endSendingScript takes the mark of leg away, and only that leg's.
//
//	KEYS[1] x:<id>   ARGV[1] leg
//
// Returns DONE (taken away) or NOT_FOUND (no mark of leg: it lapsed, or
// a replay took it).
var endSendingScript = redis.NewScript(luaPrelude + `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return NOT_FOUND end
redis.call('DEL', KEYS[1])
return DONE
`)

// BeginSending marks leg's originate as on its way to FreeSWITCH, for at
// most hold, if session id still waits for that leg (its callee leg while
// dialing B, its caller leg while B holds). It reports false, and marks
// nothing, when the session waits for no such leg: a cancel or another
// step came first, and the leg must not be dialled.
//
// The mark lapses hold after Redis set it; the caller must not write the
// originate once hold has passed since it called BeginSending (measured
// on its own monotonic clock), as a cancel may then be acknowledged.
// EndSending takes the mark away once the originate was written.
func (s *Store) BeginSending(ctx context.Context, id, leg string, hold time.Duration) (bool, error) {
	if hold < time.Millisecond {
		return false, fmt.Errorf("mark leg %s of session %s as sending: %w: hold %v is under a millisecond", leg, id, ErrInvalid, hold)
	}
	keys := []string{s.sessionKey(id), s.sendingKey(id)}
	c, err := beginSendingScript.Run(ctx, s.rdb, keys, leg, hold.Milliseconds()).Int64()
	if s.done("sending", err) != nil {
		return false, fmt.Errorf("mark leg %s of session %s as sending: %w", leg, id, err)
	}
	switch code(c) {
	case codeDone:
		return true, nil
	case codeNotFound, codeStale:
		return false, nil
	}
	return false, fmt.Errorf("mark leg %s of session %s as sending: unexpected reply %d", leg, id, c)
}

// EndSending takes away the mark BeginSending set for leg: its originate
// was written (or will not be). A mark that lapsed, or another leg's, is
// left alone.
func (s *Store) EndSending(ctx context.Context, id, leg string) error {
	err := endSendingScript.Run(ctx, s.rdb, []string{s.sendingKey(id)}, leg).Err()
	if s.done("sending", err) != nil {
		return fmt.Errorf("end the sending mark of leg %s of session %s: %w", leg, id, err)
	}
	return nil
}
